#!/usr/bin/env bash
# Lints the GitHub Actions workflows with actionlint (a Go module, pinned).
set -euo pipefail
cd "$(dirname "$0")/.."
go run github.com/rhysd/actionlint/cmd/actionlint@v1.7.12 -no-color
echo "actionlint: $(ls .github/workflows | wc -l) workflows clean"
