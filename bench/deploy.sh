#!/usr/bin/env bash
# Deploy speed, as a ratio against a baseline measured in the same run, on
# the same real control plane: `pulumi up` of the local stack through the
# engine built from the module proxy (hack/engine/build.sh; an Automation
# API inline program, engine/deployspeed_test.go) against `kubectl apply
# --server-side` of the same rendered objects plus `kubectl rollout status`
# of each Deployment and `kubectl wait --for=condition=complete` of each
# Job, alternating run by run. Prints every run, the medians, the ratio
# (target <= 3x) and the engine's await per kind, from its events.
# Usage: bench/deploy.sh [runs]   (default 5 runs of each)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
bash hack/engine/build.sh >/dev/null
bash hack/controlplane/build.sh >/dev/null
ENGINE_BENCH_RUNS=$runs go test -tags engine -count=1 -v -timeout 60m -run '^TestDeploySpeed$' ./engine/ |
  grep -v '^=== RUN\|^--- PASS\|^PASS$\|^ok '
