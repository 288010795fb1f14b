#!/usr/bin/env bash
# Applies every shipped stack to a real Kubernetes control plane (etcd,
# kube-apiserver, kube-controller-manager, kube-scheduler, kwok) on loopback.
# The binaries are built once into ${CONTROLPLANE_CACHE:-~/.cache/cirkelline-controlplane}.
# SKIP_CONTROLPLANE=1 skips it.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -n "${SKIP_CONTROLPLANE:-}" ]; then
  echo "SKIP_CONTROLPLANE set: skipping the control-plane tests"
  exit 0
fi
time bash hack/controlplane/build.sh >/dev/null
go test -tags integration -count=1 -v -timeout 30m ./integration/
