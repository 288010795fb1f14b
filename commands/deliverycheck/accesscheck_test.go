package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// The access check (.github/scripts/check-cluster-access.sh) run against
// stand-ins for aws, pulumi and kubectl: the cluster's answers are canned
// JSON (the CNI's DaemonSets and ConfigMaps as the API server returns them),
// the script and jq are the real ones.

const (
	script    = "../../.github/scripts/check-cluster-access.sh"
	roleARN   = "arn:aws:sts::123456789012:assumed-role/cirkelline-deploy-staging/GitHubActions"
	contextID = "arn:aws:eks:eu-north-1:123456789012:cluster/cirkelline-staging"
	k8sUser   = "arn:aws:sts::123456789012:assumed-role/cirkelline-deploy-staging/{{SessionName}}"
)

// The fakes. kubectl answers from files in $FAKE/cluster: <kind>-<ns>-<name>.json
// for `get`, NotFound otherwise; `auth can-i` answers $FAKE_CANI and logs the
// question to $FAKE/can-i.log.
const fakeKubectl = `#!/usr/bin/env bash
[ "$1" = --kubeconfig ] && shift 2
case "$1 $2" in
  "config view") printf 'https://ABC.gr7.eu-north-1.eks.amazonaws.com\nLS0tCA==\n` + contextID + `\n` + contextID + `\n` + contextID + `\n' ;;
  "config current-context") echo "` + contextID + `" ;;
  "version --client") echo '{"clientVersion":{"gitVersion":"v1.36.3"}}' ;;
  "version -o") echo '{"serverVersion":{"gitVersion":"v1.35.2-eks"}}' ;;
  "auth whoami") printf '%s' "` + k8sUser + `" ;;
  "auth can-i")
    shift 2
    echo "$*" >>"$FAKE/can-i.log"
    echo "$FAKE_CANI"
    [ "$FAKE_CANI" = yes ] ;;
  "get daemonset"|"get configmap")
    if [ -f "$FAKE/cluster/forbidden.json" ]; then
      echo "Error from server (Forbidden): $2s \"$5\" is forbidden: User \"x\" cannot get resource \"$2s\"" >&2; exit 1
    fi
    f="$FAKE/cluster/$2-$4-$5.json"
    if [ -f "$f" ]; then cat "$f"; else echo "Error from server (NotFound): $2s \"$5\" not found" >&2; exit 1; fi ;;
  *) echo "fake kubectl: unexpected $*" >&2; exit 2 ;;
esac
`

const fakeAWS = `#!/usr/bin/env bash
case "$1 $2" in
  "--version ") echo "aws-cli/2.36.24 Python/3.13 Linux" ;;
  "sts get-caller-identity") echo '{"UserId":"AROAEXAMPLE:GitHubActions","Account":"123456789012","Arn":"` + roleARN + `"}' ;;
  *) echo "fake aws: unexpected $*" >&2; exit 2 ;;
esac
`

const fakePulumi = `#!/usr/bin/env bash
case "$1" in
  version) echo v3.263.0 ;;
  config)
    case "$*" in
      *"--path cluster.stackReference") echo cirkelline/eks-cluster/staging ;;
      *"--path namespace") echo cirkelline-staging ;;
      *) exit 1 ;;
    esac ;;
  stack) echo '"apiVersion: v1\nkind: Config\n"' ;;
  *) echo "fake pulumi: unexpected $*" >&2; exit 2 ;;
esac
`

// cluster objects, as `kubectl get -o json` returns them (the parts read).
func awsNode(agentArgs []string, ready int) map[string]any {
	containers := []any{map[string]any{"name": "aws-node", "image": "602401143452.dkr.ecr.eu-north-1.amazonaws.com/amazon-k8s-cni:v1.23.1"}}
	if agentArgs != nil {
		containers = append(containers, map[string]any{
			"name":  "aws-eks-nodeagent",
			"image": "602401143452.dkr.ecr.eu-north-1.amazonaws.com/amazon/aws-network-policy-agent:v1.4.2",
			"args":  agentArgs,
		})
	}
	return daemonSet(containers, ready)
}

func daemonSet(containers []any, ready int) map[string]any {
	return map[string]any{
		"kind":   "DaemonSet",
		"spec":   map[string]any{"template": map[string]any{"spec": map[string]any{"containers": containers}}},
		"status": map[string]any{"desiredNumberScheduled": 3, "numberReady": ready},
	}
}

func configMap(data map[string]string) map[string]any {
	return map[string]any{"kind": "ConfigMap", "data": data}
}

var (
	agentOn      = []string{"--enable-ipv6=false", "--enable-network-policy=true", "--log-level=debug"}
	agentOff     = []string{"--enable-ipv6=false", "--enable-network-policy=false", "--log-level=debug"}
	controllerOn = configMap(map[string]string{"enable-network-policy-controller": "true"})
	other        = daemonSet([]any{map[string]any{"name": "x", "image": "x"}}, 3)
)

type run struct {
	out  string
	ok   bool
	canI []string
}

// runCheck runs the script for stack with the cluster's objects (keyed
// <kind>-<namespace>-<name>), the answer every can-i gets and extra env.
func runCheck(t *testing.T, stack string, objects map[string]map[string]any, canI string, env ...string) run {
	t.Helper()
	fake := t.TempDir()
	bin := filepath.Join(fake, "bin")
	for _, d := range []string{bin, filepath.Join(fake, "cluster"), filepath.Join(fake, "runner")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for name, src := range map[string]string{"kubectl": fakeKubectl, "aws": fakeAWS, "pulumi": fakePulumi} {
		if err := os.WriteFile(filepath.Join(bin, name), []byte(src), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for key, obj := range objects {
		b, err := json.Marshal(obj)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(fake, "cluster", key+".json"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// Read so that `go test`'s cache sees a change to the script (it
	// records the files the test opens, not what bash opens).
	if _, err := os.ReadFile(script); err != nil {
		t.Fatal(err)
	}
	jq, err := exec.LookPath("jq")
	if err != nil {
		t.Skip("jq is not installed (the access check needs it; GitHub's runners ship it)")
	}
	cmd := exec.Command("bash", script, stack)
	cmd.Env = append([]string{
		"PATH=" + bin + ":" + filepath.Dir(jq) + ":/usr/bin:/bin",
		"FAKE=" + fake,
		"FAKE_CANI=" + canI,
		"RUNNER_TEMP=" + filepath.Join(fake, "runner"),
		"HOME=" + fake,
	}, env...)
	out, err := cmd.CombinedOutput()
	if _, isExit := err.(*exec.ExitError); err != nil && !isExit {
		t.Fatal(err)
	}
	r := run{out: string(out), ok: err == nil}
	if log, err := os.ReadFile(filepath.Join(fake, "can-i.log")); err == nil {
		r.canI = strings.Split(strings.TrimSpace(string(log)), "\n")
	}
	return r
}

const fixHint = `aws eks update-addon --cluster-name <cluster> --addon-name vpc-cni --configuration-values '{"enableNetworkPolicy": "true"}'`

func TestAccessCheckRequiresNetworkPolicyEnforcement(t *testing.T) {
	for _, tc := range []struct {
		name    string
		objects map[string]map[string]any
		env     []string
		want    string // the line that says why, after "NetworkPolicies: " or in the error
		ok      bool
	}{
		{"VPC CNI with its agent enabled", map[string]map[string]any{
			"daemonset-kube-system-aws-node": awsNode(agentOn, 3), "configmap-kube-system-amazon-vpc-cni": controllerOn,
		}, nil, "NetworkPolicies: enforced by the Amazon VPC CNI's network policy agent (kube-system/aws-node, --enable-network-policy=true)", true},
		{"VPC CNI default install: agent disabled", map[string]map[string]any{
			"daemonset-kube-system-aws-node":       awsNode(agentOff, 3),
			"configmap-kube-system-amazon-vpc-cni": configMap(map[string]string{"enable-network-policy-controller": "false"}),
		}, nil, "the cluster does not enforce NetworkPolicies (the Amazon VPC CNI's network policy agent runs with --enable-network-policy=false)", false},
		{"VPC CNI older than 1.14: no agent", map[string]map[string]any{
			"daemonset-kube-system-aws-node": awsNode(nil, 3),
		}, nil, "the cluster does not enforce NetworkPolicies (the Amazon VPC CNI (kube-system/aws-node) runs no network policy agent container (aws-eks-nodeagent): VPC CNI older than 1.14, or the agent was removed)", false},
		{"VPC CNI agent on, controller off", map[string]map[string]any{
			"daemonset-kube-system-aws-node":       awsNode(agentOn, 3),
			"configmap-kube-system-amazon-vpc-cni": configMap(map[string]string{"enable-network-policy-controller": "false"}),
		}, nil, `the cluster does not enforce NetworkPolicies (the Amazon VPC CNI's ConfigMap kube-system/amazon-vpc-cni has enable-network-policy-controller: "false")`, false},
		{"VPC CNI agent not on every node", map[string]map[string]any{
			"daemonset-kube-system-aws-node": awsNode(agentOn, 2), "configmap-kube-system-amazon-vpc-cni": controllerOn,
		}, nil, "the cluster does not enforce NetworkPolicies (the Amazon VPC CNI (kube-system/aws-node): 2/3 pods ready)", false},
		{"Calico next to a VPC CNI without its agent", map[string]map[string]any{
			"daemonset-kube-system-aws-node": awsNode(agentOff, 3), "daemonset-calico-system-calico-node": other,
		}, nil, "NetworkPolicies: enforced by Calico (calico-system/calico-node)", true},
		{"Cilium", map[string]map[string]any{
			"daemonset-kube-system-cilium": other, "configmap-kube-system-cilium-config": configMap(map[string]string{"enable-policy": "default"}),
		}, nil, "NetworkPolicies: enforced by Cilium (kube-system/cilium)", true},
		{"Cilium in never mode", map[string]map[string]any{
			"daemonset-kube-system-cilium": other, "configmap-kube-system-cilium-config": configMap(map[string]string{"enable-policy": "never"}),
		}, nil, "the cluster does not enforce NetworkPolicies (Cilium's ConfigMap kube-system/cilium-config has enable-policy: never)", false},
		{"no known CNI", nil, nil, "the cluster does not enforce NetworkPolicies (no DaemonSet of the Amazon VPC CNI (kube-system/aws-node), Calico (calico-node) or Cilium (kube-system/cilium))", false},
		{"another CNI named by the operator", map[string]map[string]any{
			"daemonset-kube-system-antrea-agent": other,
		}, []string{"NETWORK_POLICY_DAEMONSET=kube-system/antrea-agent"}, "NetworkPolicies: enforced by DaemonSet kube-system/antrea-agent (NETWORK_POLICY_DAEMONSET)", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runCheck(t, "cirkelline/staging", tc.objects, "yes", tc.env...)
			if r.ok != tc.ok || !strings.Contains(r.out, tc.want) {
				t.Fatalf("exit ok=%v, want %v and a line with %q; output:\n%s", r.ok, tc.ok, tc.want, r.out)
			}
			if !tc.ok {
				// The error names the fix, and nothing is checked past it.
				if !strings.Contains(r.out, "::error title=cluster access::") || !strings.Contains(r.out, fixHint) || !strings.Contains(r.out, "port 6565") {
					t.Errorf("the error does not give the fix %q:\n%s", fixHint, r.out)
				}
				if r.canI != nil {
					t.Errorf("can-i asked after a refused cluster: %q", r.canI)
				}
			}
		})
	}
}

// An identity that may not read the CNI's objects is told which ClusterRole
// to bind, not that the cluster enforces nothing.
func TestAccessCheckNamesTheRoleToReadTheCNI(t *testing.T) {
	r := runCheck(t, "cirkelline/staging", map[string]map[string]any{"forbidden": {}}, "yes")
	want := "cannot read daemonset kube-system/aws-node to check NetworkPolicy enforcement: Error from server (Forbidden)"
	if r.ok || !strings.Contains(r.out, want) || !strings.Contains(r.out, "ClusterRole networkpolicy-enforcement-reader (docs/cluster.md)") {
		t.Errorf("exit ok=%v, want a failure with %q and the ClusterRole; output:\n%s", r.ok, want, r.out)
	}
}

var vpcCNIOn = map[string]map[string]any{
	"daemonset-kube-system-aws-node": awsNode(agentOn, 3), "configmap-kube-system-amazon-vpc-cni": controllerOn,
}

// The role ARN, the account, the context and the Kubernetes user are masked
// before any other line shows them.
func TestAccessCheckMasksIdentityAndContext(t *testing.T) {
	r := runCheck(t, "cirkelline/staging", vpcCNIOn, "yes")
	if !r.ok {
		t.Fatalf("check failed:\n%s", r.out)
	}
	for _, v := range []string{roleARN, "123456789012", contextID, k8sUser} {
		masked := false
		for _, line := range strings.Split(r.out, "\n") {
			if line == "::add-mask::"+v {
				masked = true
				continue
			}
			if strings.Contains(line, v) && !masked {
				t.Errorf("%q printed before its ::add-mask:: line: %q", v, line)
			}
		}
		if !masked {
			t.Errorf("no ::add-mask::%s in the output:\n%s", v, r.out)
		}
	}
}

// The rights asked for follow what the stack renders: staging's Karpenter
// NodePool and EC2NodeClass and its monitoring objects, production's
// PriorityClass; cluster-scoped objects by name (the RBAC grants them by
// resourceNames), without a namespace. Plus CAN_I's extra checks.
func TestAccessCheckAsksForWhatTheStackRenders(t *testing.T) {
	common := []string{
		"create namespaces", "patch namespaces/cirkelline-staging",
		"patch deployments.apps -n cirkelline-staging", "patch services -n cirkelline-staging",
		"patch configmaps -n cirkelline-staging", "patch secrets -n cirkelline-staging",
		"patch serviceaccounts -n cirkelline-staging", "patch roles.rbac.authorization.k8s.io -n cirkelline-staging",
		"patch rolebindings.rbac.authorization.k8s.io -n cirkelline-staging",
		"patch horizontalpodautoscalers.autoscaling -n cirkelline-staging",
		"patch poddisruptionbudgets.policy -n cirkelline-staging",
		"patch networkpolicies.networking.k8s.io -n cirkelline-staging",
		"patch ingresses.networking.k8s.io -n cirkelline-staging", "patch jobs.batch -n cirkelline-staging",
	}
	with := func(extra ...string) []string {
		return append(append(append([]string(nil), common...), extra...), "get pods -n cirkelline-staging")
	}
	for _, tc := range []struct {
		stack, mode, answer string
		ok                  bool
		want                []string
	}{
		{"cirkelline/staging", "deploy", "yes", true, with(
			"patch ec2nodeclasses.karpenter.k8s.aws/cirkelline-staging", "patch nodepools.karpenter.sh/cirkelline-staging",
			"patch prometheusrules.monitoring.coreos.com -n cirkelline-staging",
			"patch servicemonitors.monitoring.coreos.com -n cirkelline-staging")},
		{"cirkelline/production", "deploy", "yes", true, with(
			"patch priorityclasses.scheduling.k8s.io/cirkelline-headroom",
			"patch prometheusrules.monitoring.coreos.com -n cirkelline-staging",
			"patch servicemonitors.monitoring.coreos.com -n cirkelline-staging")},
		{"cirkelline/staging", "deploy", "no", false, with(
			"patch ec2nodeclasses.karpenter.k8s.aws/cirkelline-staging", "patch nodepools.karpenter.sh/cirkelline-staging",
			"patch prometheusrules.monitoring.coreos.com -n cirkelline-staging",
			"patch servicemonitors.monitoring.coreos.com -n cirkelline-staging")},
		// A preview identity: every write and reading Secrets must be refused.
		{"cirkelline/local", "preview", "no", true, append(with(), "get secrets -n cirkelline-staging", "list secrets -n cirkelline-staging")},
		{"cirkelline/local", "preview", "yes", false, append(with(), "get secrets -n cirkelline-staging", "list secrets -n cirkelline-staging")},
	} {
		t.Run(tc.stack+" "+tc.mode+" "+tc.answer, func(t *testing.T) {
			r := runCheck(t, tc.stack, vpcCNIOn, tc.answer, "ACCESS_MODE="+tc.mode, "CAN_I=get pods\n")
			if r.ok != tc.ok {
				t.Fatalf("exit ok=%v, want %v:\n%s", r.ok, tc.ok, r.out)
			}
			if !reflect.DeepEqual(r.canI, tc.want) {
				t.Errorf("can-i asked:\n %q\nwant:\n %q", r.canI, tc.want)
			}
			if tc.mode == "preview" && !tc.ok && !strings.Contains(r.out, "The preview identity must write nothing and read no Secret") {
				t.Errorf("no preview-specific error:\n%s", r.out)
			}
		})
	}
}
