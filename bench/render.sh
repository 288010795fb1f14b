#!/usr/bin/env bash
# Benchmarks for the foundation, each reported as a ratio against its
# baseline, measured in the same run:
#   1. render of the staging stack vs `kubectl kustomize` of the equivalent
#      base + staging overlay (bench/kustomize), wall time and peak RSS;
#   2. cold `go build` of the program vs the smallest Pulumi Kubernetes
#      program (bench/minimal), wall time and peak RSS of the build.
# Usage: bench/render.sh [runs]   (default 20 runs of each render)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-20}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if command -v kubectl >/dev/null; then
  kustomize=(kubectl kustomize)
else
  GOBIN="$work/bin" go install sigs.k8s.io/kustomize/kustomize/v5@v5.8.3
  kustomize=("$work/bin/kustomize" build)
fi

measure() { # label, command... -> prints "seconds peak_kib"
  /usr/bin/time -f "%e %M" -o "$work/time" "${@:2}" >/dev/null 2>"$work/stderr" || { cat "$work/stderr"; exit 1; }
  cat "$work/time"
}

echo "== cold go build (empty GOCACHE, modules already downloaded)"
read -r prog_s prog_kib < <(GOCACHE="$work/cache-prog" measure prog go build -o "$work/cirkelline" .)
read -r min_s min_kib < <(GOCACHE="$work/cache-min" measure min go build -o "$work/minimal" ./bench/minimal)
printf "program   %6.1fs  peak %5d MiB\n" "$prog_s" $((prog_kib / 1024))
printf "minimal   %6.1fs  peak %5d MiB\n" "$min_s" $((min_kib / 1024))
awk -v a="$prog_s" -v b="$min_s" -v c="$prog_kib" -v d="$min_kib" 'BEGIN { printf "ratio     %.2fx time, %.2fx peak memory (program / minimal Pulumi k8s program)\n", a/b, c/d }'

echo "== render staging vs ${kustomize[*]} (best and mean of $runs runs)"
bench() { # name, command...
  local best=999999 sum=0 peak=0
  for _ in $(seq "$runs"); do
    local start end ms
    start=$(date +%s%N)
    /usr/bin/time -f "%M" -o "$work/rss" "${@:2}" >/dev/null 2>&1
    end=$(date +%s%N)
    ms=$(( (end - start) / 1000000 ))
    sum=$((sum + ms)); ((ms < best)) && best=$ms
    rss=$(cat "$work/rss"); ((rss > peak)) && peak=$rss
  done
  echo "$1 $best $((sum / runs)) $peak"
}
read -r _ r_best r_mean r_peak < <(bench render "$work/cirkelline" render --stack staging --out "$work/out")
read -r _ k_best k_mean k_peak < <(bench kustomize "${kustomize[@]}" bench/kustomize/overlays/staging)
printf "render     best %4d ms  mean %4d ms  peak %4d MiB\n" "$r_best" "$r_mean" $((r_peak / 1024))
printf "kustomize  best %4d ms  mean %4d ms  peak %4d MiB\n" "$k_best" "$k_mean" $((k_peak / 1024))
awk -v a="$r_mean" -v b="$k_mean" -v c="$r_peak" -v d="$k_peak" 'BEGIN { printf "ratio      %.2fx time (target <= 2x), %.2fx peak memory (render / kustomize)\n", a/b, c/d }'
