#!/usr/bin/env bash
# Installs redis-server (the cache library's tests start their own instances
# on loopback ports) when it is missing. Idempotent.
set -euo pipefail
if command -v redis-server >/dev/null 2>&1; then
  redis-server --version
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends redis-server >/dev/null
# The tests start their own servers; the packaged service is not needed.
(service redis-server stop || true) >/dev/null 2>&1
redis-server --version
