#!/usr/bin/env bash
# Lints the GitHub Actions workflows with actionlint (a Go module, pinned),
# then checks what actionlint does not (commands/deliverycheck, issue 22): no
# credential outside an environment, no deploy credential or environment on
# the pull request path, deploy jobs on main only, actions pinned by SHA. The
# check's own test proves it fails on the pull request workflow as it was
# (.ci/testdata/pull-request.yml).
set -euo pipefail
cd "$(dirname "$0")/.."
go run github.com/rhysd/actionlint/cmd/actionlint@v1.7.12 -no-color
echo "actionlint: $(ls .github/workflows | wc -l) workflows clean"
go test ./commands/deliverycheck/
go run ./commands/deliverycheck .github/workflows
