#!/usr/bin/env bash
# Takes the stacks that need no AWS provider (local, partypic) through their
# whole life with the real Pulumi engine (CLI and Kubernetes provider built
# from the Go module proxy by hack/engine/build.sh, cached in
# ${ENGINE_CACHE:-~/.cache/cirkelline-engine}) on the real control plane
# (hack/controlplane/build.sh, cached). SKIP_ENGINE=1 skips it.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -n "${SKIP_ENGINE:-}" ]; then
  echo "SKIP_ENGINE set: skipping the engine lifecycle tests"
  exit 0
fi
time bash hack/engine/build.sh >/dev/null
time bash hack/controlplane/build.sh >/dev/null
go vet -tags engine ./engine/
ENGINE_STACKS=${ENGINE_STACKS:-local partypic} go test -tags engine -count=1 -v -timeout 40m ./engine/
