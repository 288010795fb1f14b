#!/usr/bin/env bash
# Installs redis-server (the cache library's tests start their own instances
# on loopback ports) when it is missing. Idempotent. Runs as root (containers)
# or through sudo (GitHub's ubuntu runners run as a user with sudo).
set -euo pipefail
if command -v redis-server >/dev/null 2>&1; then
  redis-server --version
  exit 0
fi
as_root=()
if [ "$(id -u)" -ne 0 ]; then as_root=(sudo --preserve-env=DEBIAN_FRONTEND); fi
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" apt-get install -y -qq --no-install-recommends redis-server >/dev/null
# The tests start their own servers; the packaged service is not needed.
("${as_root[@]}" service redis-server stop || true) >/dev/null 2>&1
redis-server --version
