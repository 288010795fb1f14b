#!/usr/bin/env bash
# Rehearses through the real HPA controller, scheduler and controllers
# (commands/rehearse, build tag rehearsal), each run on its own control
# plane, asserting on the verdicts:
#   - a shortened spike on staging, twice in parallel: with staging's HPA and
#     with maxReplicas 2 (about 5 minutes);
#   - the bad days, three in parallel, from the stack files' own named
#     scenarios: production losing a zone at the peak (ci-zone-outage-at-peak)
#     with today's spread (must pass) and with the spread before issue 21's
#     fix (minDomains 3, must fail), and staging's node drained through the
#     eviction API, then a rollout, under load (ci-drain-and-rollout: must
#     pass, the drain paced by its budget, the rollout finished) (about 6
#     minutes together on 2 cores).
# It shares hack/controlplane's cache with .ci/controlplane.sh.
# SKIP_CONTROLPLANE=1 skips it.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -n "${SKIP_CONTROLPLANE:-}" ]; then
  echo "SKIP_CONTROLPLANE set: skipping the rehearsal"
  exit 0
fi
bash hack/controlplane/build.sh >/dev/null
go test -tags rehearsal -count=1 -v -timeout 30m -parallel 3 -run 'TestRehearsalOfStaging|TestRehearsalOfBadDays' ./commands/rehearse/
