#!/usr/bin/env bash
# Benchmarks the library with metrics off (and on) against the library as it
# was before it had metrics, alternately in one loop on one Redis, so the
# ratios come from the same run. The old library is written from git into
# internal/baseline (ignored by git) and compiled under the build tag
# "baseline"; the paired metrics-off/on benchmarks run in the same go test.
#   bash bench-baseline.sh [commit] [go test flags...]   (in cache/)
set -euo pipefail
cd "$(dirname "$0")"
# The last commit of the library without metrics.
base=${1:-1d6d02b}
shift || true
dir=internal/baseline
rm -rf "$dir"
mkdir -p "$dir"
for f in $(git ls-tree --name-only "$base" -- ./ | grep '\.go$' | grep -v '_test\.go$'); do
  git show "$base:cache/$(basename "$f")" | sed 's/^package cache$/package baseline/' >"$dir/$(basename "$f")"
done
go test -tags baseline -run '^$' -bench 'PairedBaseline|PairedMetrics' -benchtime 20000x -count 3 "$@" .
