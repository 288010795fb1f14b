#!/usr/bin/env bash
# Proves, before `pulumi preview` / `pulumi up`, that this runner can reach the
# stack's cluster the way the program will (docs/cluster.md):
#   1. the tools: AWS CLI v2 (the kubeconfig's exec plugin runs
#      `aws eks get-token`), kubectl, jq, the Pulumi CLI;
#   2. the AWS identity the job assumed (aws sts get-caller-identity);
#   3. the kubeconfig, from where the program takes it: the stack's
#      `cluster.stackReference` (output `cluster.outputs.kubeconfig`, default
#      `kubeconfig`), else its secret `cluster.kubeconfig`, else CLUSTER_STACK;
#   4. the API server: kubectl version, auth whoami, auth can-i for what the
#      program applies in the stack's namespace.
# The kubeconfig is written to a private directory under RUNNER_TEMP (mode
# 600), its sensitive values are masked before anything runs against it, it is
# never printed, and it is removed on exit. It is not exported as KUBECONFIG:
# the program's explicit provider gets it from the stack reference itself.
#
# Usage: check-cluster-access.sh ORG/STACK
# Env:   CLUSTER_STACK  org/project/stack of the cluster's stack, used when the
#                       stack file has no cluster block yet (vars.CLUSTER_STACK)
#        CAN_I          extra "verb resource" checks, one per line (optional)
set -euo pipefail

stack=${1:?usage: check-cluster-access.sh ORG/STACK}

fail() { echo "::error title=cluster access::$*"; exit 1; }

# 1. Tools. GitHub's ubuntu-24.04 image ships AWS CLI v2 and kubectl
# (actions/runner-images, images/ubuntu/Ubuntu2404-Readme.md); a self-hosted
# or other image must provide them.
for tool in aws kubectl jq pulumi; do
  command -v "$tool" >/dev/null || fail "$tool is not on PATH"
done
aws_version=$(aws --version 2>&1)
case $aws_version in
  aws-cli/2.*) ;;
  *) fail "AWS CLI v2 required for 'aws eks get-token', found: $aws_version" ;;
esac
echo "tools: $aws_version; kubectl $(kubectl version --client -o json | jq -r .clientVersion.gitVersion); pulumi $(pulumi version)"

# 2. The AWS identity (configure-aws-credentials exported it as env vars; the
# exec plugin inherits them from the Pulumi provider process).
identity=$(aws sts get-caller-identity --query Arn --output text) ||
  fail "no AWS identity: did configure-aws-credentials run (id-token: write)?"
echo "aws identity: $identity"

# 3. The kubeconfig.
dir=$(mktemp -d "${RUNNER_TEMP:-/tmp}/cluster.XXXXXX") # mode 700
trap 'rm -rf "$dir"' EXIT
umask 077
kubeconfig=$dir/kubeconfig

cfg() { pulumi config get --stack "$stack" --path "$1" 2>/dev/null; }

cluster_stack=$(cfg cluster.stackReference || true)
source_desc=
if [ -n "$cluster_stack" ]; then
  output=$(cfg cluster.outputs.kubeconfig || true)
  output=${output:-kubeconfig}
  source_desc="output '$output' of $cluster_stack (the stack's cluster.stackReference)"
elif cfg cluster.kubeconfig >"$dir/raw" && [ -s "$dir/raw" ]; then
  mv "$dir/raw" "$kubeconfig"
  source_desc="the stack's secret config cluster.kubeconfig"
elif [ -n "${CLUSTER_STACK:-}" ]; then
  cluster_stack=$CLUSTER_STACK output=kubeconfig
  echo "::warning title=cluster block::$stack has no cluster block yet; checking CLUSTER_STACK. The program uses the default provider (ambient kubeconfig, none on this runner) until the stack file sets cluster.stackReference."
  source_desc="output 'kubeconfig' of $cluster_stack (CLUSTER_STACK)"
else
  fail "$stack has no cluster.stackReference or cluster.kubeconfig and CLUSTER_STACK is unset"
fi

if [ -n "$cluster_stack" ]; then
  # A secret output: --show-secrets decrypts it into the file only. The
  # output is a string (YAML or JSON) or an object (pulumi-eks exports one).
  pulumi stack output --stack "$cluster_stack" "$output" --show-secrets --json >"$dir/raw" ||
    fail "cannot read output '$output' of $cluster_stack: does PULUMI_ACCESS_TOKEN have read access to that stack?"
  jq -r 'if type == "string" then . else tojson end' "$dir/raw" >"$kubeconfig"
  rm -f "$dir/raw"
fi
chmod 600 "$kubeconfig"
[ -s "$kubeconfig" ] || fail "the kubeconfig from $source_desc is empty"

# Mask before anything runs against the file: credentials, the endpoint and
# the CA, one value a line (add-mask masks a single-line value).
kubectl --kubeconfig "$kubeconfig" config view --raw -o jsonpath='{range .clusters[*]}{.cluster.server}{"\n"}{.cluster.certificate-authority-data}{"\n"}{end}{range .users[*]}{.user.token}{"\n"}{.user.client-key-data}{"\n"}{.user.client-certificate-data}{"\n"}{.user.password}{"\n"}{end}' >"$dir/mask" ||
  fail "the kubeconfig from $source_desc does not parse"
while IFS= read -r secret; do
  [ -n "$secret" ] && echo "::add-mask::$secret"
done <"$dir/mask"
rm -f "$dir/mask"
echo "kubeconfig: $source_desc (context $(kubectl --kubeconfig "$kubeconfig" config current-context))"

# 4. The API server, through the exec plugin.
kubectl --kubeconfig "$kubeconfig" version -o json >"$dir/version" ||
  fail "the API server refused or is unreachable with the kubeconfig from $source_desc (is the role in the cluster's aws-auth / access entries?)"
echo "server: $(jq -r .serverVersion.gitVersion "$dir/version")"
kubectl --kubeconfig "$kubeconfig" auth whoami -o jsonpath='kubernetes user: {.status.userInfo.username}{"\n"}' 2>/dev/null ||
  echo "kubectl auth whoami not served by this cluster (SelfSubjectReview needs Kubernetes 1.28)"

namespace=$(cfg namespace || true)
namespace=${namespace:-cirkelline}
checks="create namespaces
patch namespaces
patch deployments.apps
patch services
patch configmaps
patch secrets
patch serviceaccounts
patch roles.rbac.authorization.k8s.io
patch rolebindings.rbac.authorization.k8s.io
patch horizontalpodautoscalers.autoscaling
patch poddisruptionbudgets.policy
patch networkpolicies.networking.k8s.io
patch ingresses.networking.k8s.io
patch jobs.batch
${CAN_I:-}"
denied=0
while read -r verb resource; do
  [ -n "$verb" ] || continue
  if answer=$(kubectl --kubeconfig "$kubeconfig" auth can-i "$verb" "$resource" -n "$namespace" 2>&1); then
    echo "can-i $verb $resource -n $namespace: $answer"
  else
    echo "::error title=cluster access::can-i $verb $resource -n $namespace: $answer"
    denied=$((denied + 1))
  fi
done <<<"$checks"
[ "$denied" -eq 0 ] || fail "$denied permission(s) missing in namespace $namespace"
echo "cluster access OK for $stack"
