#!/usr/bin/env bash
# Type-checks the embedded k6 scripts against @types/k6 (pinned in
# loadtest/package.json), syntax-checks them with node, and runs their
# contract tests (loadtest/test/: k6 module doubles, a fake backend and fake
# k6 runner APIs) with node --test. Node >= 20.6 (module.register).
set -euo pipefail
cd "$(dirname "$0")/../loadtest"
npm ci --no-audit --no-fund --loglevel=error
npx --no-install tsc -p tsconfig.json
for f in scripts/*.js; do
  node --check "$f"
  echo "ok $f"
done
node --import ./test/register.mjs --test test/*.test.mjs
