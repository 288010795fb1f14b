#!/usr/bin/env bash
# Builds etcd, kube-apiserver, kube-controller-manager, kube-scheduler,
# kubectl (Kubernetes v1.37.2), kwok (v0.8.0) and metrics-server (v0.8.0)
# from the Go module proxy into a cache outside the repository, reused
# between runs:
#   ${CONTROLPLANE_CACHE:-$HOME/.cache/cirkelline-controlplane}/v1.37.2/bin
# Prints that directory. A cold build takes about 6 minutes on 2 cores.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
version=v1.37.2
bin=${CONTROLPLANE_CACHE:-$HOME/.cache/cirkelline-controlplane}/$version/bin
stamp=$bin/.stamp
mkdir -p "$bin"
# The stamp covers what the Kubernetes binaries are built from (the tools
# module and the flags below), not the whole script, so adding a part such
# as metrics-server does not rebuild them.
ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags="$ldflags -X $pkg.gitVersion=$version -X $pkg.gitMajor=1 -X $pkg.gitMinor=37"
done
want=$( (cat "$here/tools/go.mod" "$here/tools/go.sum"; echo "$ldflags"; echo "kwok v0.8.0") | sha256sum | cut -d' ' -f1)
# kwok's own "fast" lifecycle: nodes become Ready and heartbeat, pods become
# Ready at once, Job pods complete, deleted pods go away.
stages=$(cd "$here/tools" && go mod download -json sigs.k8s.io/kwok@v0.8.0 | sed -n 's/.*"Dir": "\(.*\)",/\1/p')/kustomize/stage
for f in node/fast/node-initialize.yaml node/heartbeat/node-heartbeat.yaml pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do
  cat "$stages/$f"
  echo "---"
done | sed '$ d' >"$bin/kwok-stages.yaml.$$"
# Renamed into place: parallel rehearsals run this script at the same time.
mv "$bin/kwok-stages.yaml.$$" "$bin/kwok-stages.yaml"
# kwok's resource metrics for `rehearse`: a ClusterResourceUsage that reads
# the kwok.x-k8s.io/usage-cpu / usage-memory pod annotations, and a Metric
# that serves kubelet's /metrics/resource at
# /metrics/nodes/{nodeName}/metrics/resource (kustomize/metrics/usage and
# kustomize/metrics/resource of kwok v0.8.0).
metrics=$(dirname "$stages")/metrics
{ cat "$metrics/usage/usage-from-annotation.yaml"; echo "---"; cat "$metrics/resource/metrics-resource.yaml"; } >"$bin/kwok-metrics.yaml.$$"
mv "$bin/kwok-metrics.yaml.$$" "$bin/kwok-metrics.yaml"
# metrics-server, which the HPA controller reads through the aggregation
# layer (metrics.k8s.io); a module of its own, built like kwok, with its own
# version file so it is built once and independently of the stamp.
ms_version=v0.8.0
if [ ! -x "$bin/metrics-server" ] || [ "$(cat "$bin/.metrics-server" 2>/dev/null)" != "$ms_version" ]; then
  echo "building metrics-server $ms_version" >&2
  (cd "$here/tools" && GOBIN="$bin" nice -n 10 go install -trimpath -ldflags "-s -w" "sigs.k8s.io/metrics-server/cmd/metrics-server@$ms_version" >&2)
  echo "$ms_version" >"$bin/.metrics-server"
fi
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  echo "$bin"
  exit 0
fi
cd "$here/tools"
start=$(date +%s)
for cmd in kube-apiserver kube-controller-manager kube-scheduler kubectl; do
  echo "building $cmd" >&2
  nice -n 10 go build -trimpath -ldflags "$ldflags" -o "$bin/$cmd" "k8s.io/kubernetes/cmd/$cmd" >&2
done
echo "building etcd" >&2
nice -n 10 go build -trimpath -ldflags "-s -w" -o "$bin/etcd" ./etcd >&2
echo "building kwok" >&2
GOBIN="$bin" nice -n 10 go install -trimpath sigs.k8s.io/kwok/cmd/kwok@v0.8.0 >&2
echo "built in $(( $(date +%s) - start )) s" >&2
echo "$want" >"$stamp"
echo "$bin"
