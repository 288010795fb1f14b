#!/usr/bin/env bash
# Installs redis-server (the cache library's tests start their own instances
# on loopback ports, one of them with TLS) when it is missing. Idempotent.
set -euo pipefail
if ! command -v redis-server >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends redis-server >/dev/null
  # The tests start their own servers; the packaged service is not needed.
  (service redis-server stop || true) >/dev/null 2>&1
fi
redis-server --version
# The TLS tests need a build with TLS (Debian's links OpenSSL); --version
# does not say, the linked libraries do.
if command -v ldd >/dev/null 2>&1 && ! ldd "$(command -v redis-server)" | grep -q libssl; then
  echo "warning: redis-server does not link OpenSSL; the cache library's TLS tests will fail (install Debian's redis-server)" >&2
fi
