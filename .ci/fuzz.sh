#!/usr/bin/env bash
# A short run of the stack-file fuzzer (workloads.FuzzLoad): no stack file
# may make the program panic; every one ends in a plan or in problems.
# The seeds (the shipped stacks, broken variants, testdata/fuzz/FuzzLoad)
# already run in `go test ./...`; this explores beyond them for
# FUZZTIME (default 20s; the first run also builds the instrumented test
# binary, a few minutes). Longer, by hand:
#   go test ./workloads -run '^$' -fuzz '^FuzzLoad$' -fuzztime 30m
# A failure writes the input to workloads/testdata/fuzz/FuzzLoad/: fix the
# cause and commit the file, which every `go test` then replays.
set -euo pipefail
cd "$(dirname "$0")/.."
go test ./workloads -run '^$' -fuzz '^FuzzLoad$' -fuzztime "${FUZZTIME:-20s}"
