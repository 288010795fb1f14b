#!/usr/bin/env bash
# Proves, before `pulumi preview` / `pulumi up`, that this runner can reach the
# stack's cluster the way the program will (docs/cluster.md):
#   1. the tools: AWS CLI v2 (the kubeconfig's exec plugin runs
#      `aws eks get-token`), kubectl, jq, the Pulumi CLI;
#   2. the AWS identity the job assumed (aws sts get-caller-identity);
#   3. the kubeconfig, from where the program takes it: the stack's
#      `cluster.stackReference` (output `cluster.outputs.kubeconfig`, default
#      `kubeconfig`), else its secret `cluster.kubeconfig`, else CLUSTER_STACK;
#   4. the API server: kubectl version, auth whoami;
#   5. that the cluster enforces NetworkPolicies (every isolation rule of the
#      stack rests on them): the Amazon VPC CNI's network policy agent
#      enabled, or Calico, or Cilium not in `never` mode;
#   6. auth can-i for what the program applies: in the stack's namespace, and
#      the cluster-scoped kinds the stack renders (PriorityClass, NodePool,
#      EC2NodeClass; from testdata/rendered/<stack>/). With
#      ACCESS_MODE=preview every answer must be "no", and `get secrets` too:
#      a preview runs the branch's code, so its identity writes nothing and
#      reads no Secret (docs/cluster.md, "Pull request previews").
# The assumed role's ARN, the account, the kubeconfig's context, cluster and
# user names and the Kubernetes user name are masked (::add-mask::) before
# anything prints them.
# The kubeconfig is written to a private directory under RUNNER_TEMP (mode
# 600), its sensitive values are masked before anything runs against it, it is
# never printed, and it is removed on exit. It is not exported as KUBECONFIG:
# the program's explicit provider gets it from the stack reference itself.
#
# Usage: check-cluster-access.sh ORG/STACK
# Env:   CLUSTER_STACK  org/project/stack of the cluster's stack, used when the
#                       stack file has no cluster block yet (vars.CLUSTER_STACK)
#        CAN_I          extra "verb resource" checks in the namespace, one per
#                       line (optional)
#        ACCESS_MODE    deploy (default: every can-i must be yes) or preview
#                       (every can-i must be no)
#        NETWORK_POLICY_DAEMONSET  namespace/name of the DaemonSet of another
#                       CNI that enforces NetworkPolicies (optional; trusted
#                       when it is ready on every node)
#        RENDERED_DIR   where the stacks' rendered manifests are (default
#                       testdata/rendered of this repository)
set -euo pipefail

stack=${1:?usage: check-cluster-access.sh ORG/STACK}
mode=${ACCESS_MODE:-deploy}
repo=$(cd "$(dirname "$0")/../.." && pwd)
rendered_dir=${RENDERED_DIR:-$repo/testdata/rendered}

fail() { echo "::error title=cluster access::$*"; exit 1; }

# GitHub's workflow command "Masking a value in a log": `::add-mask::{value}`;
# "Each masked word separated by whitespace is replaced with the * character"
# (docs.github.com, actions/reference/workflows-and-actions/workflow-commands).
# Printed before the value is, for each non-empty value.
mask() {
  local v
  for v in "$@"; do
    [ -n "$v" ] && echo "::add-mask::$v"
  done
  return 0
}

case $mode in
  deploy | preview) ;;
  *) fail "ACCESS_MODE is '$mode': use deploy (pulumi up) or preview (pulumi preview)" ;;
esac

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
identity=$(aws sts get-caller-identity --output json) ||
  fail "no AWS identity: did configure-aws-credentials run (id-token: write)?"
mask "$(jq -r '.Account // empty' <<<"$identity")" "$(jq -r '.UserId // empty' <<<"$identity")" "$(jq -r '.Arn // empty' <<<"$identity")"
echo "aws identity: $(jq -r '.Arn' <<<"$identity") (masked)"

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
kubectl --kubeconfig "$kubeconfig" config view --raw -o jsonpath='{range .clusters[*]}{.cluster.server}{"\n"}{.cluster.certificate-authority-data}{"\n"}{end}{range .users[*]}{.name}{"\n"}{.user.token}{"\n"}{.user.client-key-data}{"\n"}{.user.client-certificate-data}{"\n"}{.user.password}{"\n"}{end}{range .contexts[*]}{.name}{"\n"}{.context.cluster}{"\n"}{.context.user}{"\n"}{end}{range .clusters[*]}{.name}{"\n"}{end}' >"$dir/mask" ||
  fail "the kubeconfig from $source_desc does not parse"
while IFS= read -r secret; do
  mask "$secret"
done <"$dir/mask"
rm -f "$dir/mask"
context=$(kubectl --kubeconfig "$kubeconfig" config current-context)
mask "$context"
echo "kubeconfig: $source_desc (context $context, masked)"

# 4. The API server, through the exec plugin.
kubectl --kubeconfig "$kubeconfig" version -o json >"$dir/version" ||
  fail "the API server refused or is unreachable with the kubeconfig from $source_desc (is the role in the cluster's aws-auth / access entries?)"
echo "server: $(jq -r .serverVersion.gitVersion "$dir/version")"
if user=$(kubectl --kubeconfig "$kubeconfig" auth whoami -o jsonpath='{.status.userInfo.username}' 2>/dev/null); then
  mask "$user"
  echo "kubernetes user: $user (masked)"
else
  echo "kubectl auth whoami not served by this cluster (SelfSubjectReview needs Kubernetes 1.28)"
fi

# 5. NetworkPolicy enforcement. The API server stores NetworkPolicies
# whether or not anything enforces them; the CNI does. Enforced when any of:
#  - the Amazon VPC CNI (DaemonSet kube-system/aws-node) runs its network
#    policy agent (container aws-eks-nodeagent, image
#    amazon/aws-network-policy-agent) with --enable-network-policy=true, and
#    its ConfigMap kube-system/amazon-vpc-cni has
#    enable-network-policy-controller: "true" ("If enabled, the VPC CNI will
#    enforce NetworkPolicies"; both are false by default: aws/amazon-vpc-cni-k8s
#    README "ConfigMap", charts/aws-vpc-cni values.yaml enableNetworkPolicy
#    and templates/daemonset.yaml, config/master/aws-k8s-cni.yaml v1.23.1;
#    the EKS User Guide, "Restrict Pod network traffic with Kubernetes network
#    policies", needs VPC CNI >= 1.14);
#  - Calico (DaemonSet calico-node in kube-system or calico-system);
#  - Cilium (DaemonSet kube-system/cilium) whose ConfigMap cilium-config does
#    not set enable-policy: never ("policy enforcement is disabled on all
#    endpoints", docs.cilium.io, security/policy/intro);
#  - the DaemonSet NETWORK_POLICY_DAEMONSET names (another CNI, your word).
# Each must be ready on every node it is scheduled on.
kc() { kubectl --kubeconfig "$kubeconfig" "$@"; }
missing=()
# get KIND NAMESPACE NAME: the object's JSON in $dir/obj; 1 when not found;
# fails the check when reading it is forbidden.
get() {
  if kc get "$1" -n "$2" "$3" -o json >"$dir/obj" 2>"$dir/err"; then
    return 0
  fi
  if grep -q NotFound "$dir/err"; then
    return 1
  fi
  fail "cannot read $1 $2/$3 to check NetworkPolicy enforcement: $(head -c 300 "$dir/err"). Grant the identity the ClusterRole networkpolicy-enforcement-reader (docs/cluster.md)"
}
# ready: every scheduled pod of the DaemonSet in $dir/obj is ready.
ready() {
  jq -e '(.status.desiredNumberScheduled // 0) > 0 and (.status.numberReady // 0) == .status.desiredNumberScheduled' "$dir/obj" >/dev/null
}
readiness() { jq -r '"\(.status.numberReady // 0)/\(.status.desiredNumberScheduled // 0) pods ready"' "$dir/obj"; }
enforcer=
if [ -n "${NETWORK_POLICY_DAEMONSET:-}" ]; then
  ns=${NETWORK_POLICY_DAEMONSET%%/*} name=${NETWORK_POLICY_DAEMONSET#*/}
  if ! get daemonset "$ns" "$name"; then
    missing+=("NETWORK_POLICY_DAEMONSET $NETWORK_POLICY_DAEMONSET does not exist")
  elif ! ready; then
    missing+=("DaemonSet $NETWORK_POLICY_DAEMONSET: $(readiness)")
  else
    enforcer="DaemonSet $NETWORK_POLICY_DAEMONSET (NETWORK_POLICY_DAEMONSET)"
  fi
fi
if [ -z "$enforcer" ] && get daemonset kube-system aws-node; then
  agent=$(jq -c '[.spec.template.spec.containers[] | select(.name == "aws-eks-nodeagent" or (.image // "" | test("aws-network-policy-agent")))] | first // empty' "$dir/obj")
  if [ -z "$agent" ]; then
    missing+=("the Amazon VPC CNI (kube-system/aws-node) runs no network policy agent container (aws-eks-nodeagent): VPC CNI older than 1.14, or the agent was removed")
  elif ! jq -e '(.args // []) | any(. == "--enable-network-policy=true" or . == "--enable-network-policy")' <<<"$agent" >/dev/null; then
    missing+=("the Amazon VPC CNI's network policy agent runs with --enable-network-policy=false")
  elif ! ready; then
    missing+=("the Amazon VPC CNI (kube-system/aws-node): $(readiness)")
  elif ! get configmap kube-system amazon-vpc-cni; then
    missing+=("the Amazon VPC CNI has no ConfigMap kube-system/amazon-vpc-cni (enable-network-policy-controller)")
  elif ! jq -e '.data["enable-network-policy-controller"] == "true"' "$dir/obj" >/dev/null; then
    missing+=("the Amazon VPC CNI's ConfigMap kube-system/amazon-vpc-cni has enable-network-policy-controller: $(jq -c '.data["enable-network-policy-controller"]' "$dir/obj")")
  else
    enforcer="the Amazon VPC CNI's network policy agent (kube-system/aws-node, --enable-network-policy=true)"
  fi
fi
for ns in kube-system calico-system; do
  [ -z "$enforcer" ] || break
  if get daemonset "$ns" calico-node; then
    if ready; then
      enforcer="Calico ($ns/calico-node)"
    else
      missing+=("Calico ($ns/calico-node): $(readiness)")
    fi
  fi
done
if [ -z "$enforcer" ] && get daemonset kube-system cilium; then
  if ! ready; then
    missing+=("Cilium (kube-system/cilium): $(readiness)")
  elif get configmap kube-system cilium-config && jq -e '.data["enable-policy"] == "never"' "$dir/obj" >/dev/null; then
    missing+=("Cilium's ConfigMap kube-system/cilium-config has enable-policy: never")
  else
    enforcer="Cilium (kube-system/cilium)"
  fi
fi
if [ -z "$enforcer" ]; then
  [ ${#missing[@]} -gt 0 ] || missing+=("no DaemonSet of the Amazon VPC CNI (kube-system/aws-node), Calico (calico-node) or Cilium (kube-system/cilium)")
  reasons=$(printf '%s; ' "${missing[@]}")
  fail "the cluster does not enforce NetworkPolicies (${reasons%; }). Every isolation rule of this stack rests on them: without enforcement the load-test runners' k6 API (port 6565) and the services' ports are open to every pod. Fix on EKS: enable the VPC CNI's network policy agent (VPC CNI >= 1.14): aws eks update-addon --cluster-name <cluster> --addon-name vpc-cni --configuration-values '{\"enableNetworkPolicy\": \"true\"}' (docs/cluster.md, \"NetworkPolicy enforcement\"); or run Calico or Cilium; or name another enforcing CNI's DaemonSet in NETWORK_POLICY_DAEMONSET."
fi
echo "NetworkPolicies: enforced by $enforcer"

# 6. Rights. What the program applies in the namespace, and the cluster-scoped
# and CRD kinds the stack renders (testdata/rendered/<stack>/, kept equal to
# the program's output by the golden tests), cluster-scoped objects by name
# (the RBAC of docs/cluster.md grants them by resourceNames); without a
# rendered stack, every optional kind. Each line: verb resource scope.
namespace=$(cfg namespace || true)
namespace=${namespace:-cirkelline}
checks="create namespaces cluster
patch namespaces/$namespace cluster
patch deployments.apps ns
patch services ns
patch configmaps ns
patch secrets ns
patch serviceaccounts ns
patch roles.rbac.authorization.k8s.io ns
patch rolebindings.rbac.authorization.k8s.io ns
patch horizontalpodautoscalers.autoscaling ns
patch poddisruptionbudgets.policy ns
patch networkpolicies.networking.k8s.io ns
patch ingresses.networking.k8s.io ns
patch jobs.batch ns"
# "kind name" -> "resource[/name] scope" for the kinds not every stack has.
optional_kind() {
  case $1 in
    PriorityClass) echo "priorityclasses.scheduling.k8s.io${2:+/$2} cluster" ;;
    NodePool) echo "nodepools.karpenter.sh${2:+/$2} cluster" ;;
    EC2NodeClass) echo "ec2nodeclasses.karpenter.k8s.aws${2:+/$2} cluster" ;;
    ServiceMonitor) echo "servicemonitors.monitoring.coreos.com ns" ;;
    PrometheusRule) echo "prometheusrules.monitoring.coreos.com ns" ;;
  esac
}
stack_dir=$rendered_dir/${stack##*/}
if [ -d "$stack_dir" ]; then
  # One "kind name" a rendered file (top-level kind, metadata.name).
  objects=$(awk '
    FNR == 1 && kind != "" { print kind, name }
    FNR == 1 { kind = ""; name = ""; meta = 0 }
    /^kind:/ { kind = $2 }
    /^metadata:/ { meta = 1; next }
    meta && /^[^ ]/ { meta = 0 }
    meta && /^  name:/ { name = $2 }
    END { if (kind != "") print kind, name }' "$stack_dir"/*.yaml)
else
  echo "::warning title=cluster access::no rendered manifests in $stack_dir: checking the rights for every optional kind (PriorityClass, NodePool, EC2NodeClass, ServiceMonitor, PrometheusRule)"
  objects=$(printf '%s\n' PriorityClass NodePool EC2NodeClass ServiceMonitor PrometheusRule)
fi
extra=$(while read -r kind name; do
  optional_kind "$kind" "$name"
done <<<"$objects" | sort -u)
[ -z "$extra" ] || checks+=$'\n'"$(sed 's/^/patch /' <<<"$extra")"
while read -r verb resource; do
  if [ -n "$verb" ]; then checks+=$'\n'"$verb $resource ns"; fi
done <<<"${CAN_I:-}"
if [ "$mode" = preview ]; then
  # A preview identity may not read Secret values either.
  checks+=$'\n'"get secrets ns"$'\n'"list secrets ns"
fi

wrong=0
while read -r verb resource scope; do
  [ -n "$verb" ] || continue
  where=()
  desc="$verb $resource"
  if [ "$scope" = ns ]; then
    where=(-n "$namespace")
    desc+=" -n $namespace"
  fi
  answer=$(kc auth can-i "$verb" "$resource" "${where[@]}" 2>&1) || true
  answer=${answer%%$'\n'*}
  want=yes
  [ "$mode" = preview ] && want=no
  if [ "$answer" = "$want" ]; then
    echo "can-i $desc: $answer"
  elif [ "$mode" = preview ]; then
    echo "::error title=cluster access::can-i $desc: $answer. The preview identity must write nothing and read no Secret: a preview runs the branch's own code. Bind it to the read-only RBAC of docs/cluster.md, \"Pull request previews\", nothing more"
    wrong=$((wrong + 1))
  else
    echo "::error title=cluster access::can-i $desc: $answer"
    wrong=$((wrong + 1))
  fi
done <<<"$checks"
if [ "$wrong" -gt 0 ]; then
  if [ "$mode" = preview ]; then
    fail "the preview identity holds $wrong right(s) it must not have (namespace $namespace)"
  fi
  fail "$wrong permission(s) missing (namespace $namespace and cluster scope; docs/cluster.md, \"The deploy identity in the cluster\")"
fi
echo "cluster access OK for $stack ($mode)"
