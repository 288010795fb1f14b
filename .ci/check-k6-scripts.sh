#!/usr/bin/env bash
# Type-checks the embedded k6 scripts against @types/k6 (pinned in
# loadtest/package.json) and syntax-checks them with node.
set -euo pipefail
cd "$(dirname "$0")/../loadtest"
npm ci --no-audit --no-fund --loglevel=error
npx --no-install tsc -p tsconfig.json
for f in scripts/*.js; do
  node --check "$f"
  echo "ok $f"
done
