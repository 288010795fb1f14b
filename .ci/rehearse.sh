#!/usr/bin/env bash
# Rehearses a shortened spike on the staging stack through the real HPA
# controller (commands/rehearse, build tag rehearsal): twice in parallel,
# with staging's HPA and with maxReplicas 2, asserting on the verdicts.
# About 5 minutes of wall clock once the control plane is built (it shares
# hack/controlplane's cache with .ci/controlplane.sh). SKIP_CONTROLPLANE=1
# skips it.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -n "${SKIP_CONTROLPLANE:-}" ]; then
  echo "SKIP_CONTROLPLANE set: skipping the rehearsal"
  exit 0
fi
bash hack/controlplane/build.sh >/dev/null
go test -tags rehearsal -count=1 -v -timeout 20m -run TestRehearsalOfStaging ./commands/rehearse/
