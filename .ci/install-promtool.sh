#!/usr/bin/env bash
# Installs promtool (Debian's prometheus package) when it is missing: the
# monitoring package's tests check every alert and dashboard query with
# `promtool check rules` and run the alerts' unit tests with
# `promtool test rules`. Idempotent.
set -euo pipefail
if ! command -v promtool >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends prometheus >/dev/null
  # The tests only need the tool; the packaged server is not started.
  (service prometheus stop || true) >/dev/null 2>&1
fi
promtool --version 2>&1 | head -1
