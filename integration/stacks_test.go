//go:build integration

package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	monv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/yaml"

	"github.com/cirkelline/infra/internal/controlplane"
)

// shippedStacks are the Pulumi.<stack>.yaml files of the repository.
func shippedStacks(t *testing.T) []string {
	files, _ := filepath.Glob(filepath.Join(repoRoot(), "Pulumi.*.yaml"))
	var stacks []string
	for _, f := range files {
		stacks = append(stacks, strings.TrimSuffix(strings.TrimPrefix(filepath.Base(f), "Pulumi."), ".yaml"))
	}
	sort.Strings(stacks)
	if len(stacks) < 3 {
		t.Fatalf("want the shipped stacks, found %v", stacks)
	}
	return stacks
}

// renderDir renders a stack into a directory, as a user would before
// `kubectl apply -f rendered/<stack>/`, and returns it with its Kubernetes
// objects in the order kubectl reads them (the files' lexical order; the
// cloud resources such as ElastiCache sit in cloud/, which a plain -f
// does not descend into: they need AWS).
func renderDir(t *testing.T, stack string) (string, []object) {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.Command("go", "run", ".", "render", "--stack", stack, "--out", dir)
	cmd.Dir = repoRoot()
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("render %s: %v", stack, err)
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("render %s wrote no manifests to %s (%v)", stack, dir, err)
	}
	sort.Strings(files)
	var docs []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, strings.TrimSuffix(string(b), "\n"))
	}
	return dir, documents(t, strings.Join(docs, "\n---\n"))
}

type object struct {
	Kind     string `json:"kind"`
	Metadata struct {
		Name      string            `json:"name"`
		Namespace string            `json:"namespace"`
		Labels    map[string]string `json:"labels"`
	} `json:"metadata"`
	raw []byte
}

func documents(t *testing.T, stream string) []object {
	var objs []object
	for _, doc := range strings.Split(stream, "\n---\n") {
		var o object
		if err := yaml.Unmarshal([]byte(doc), &o); err != nil {
			t.Fatal(err)
		}
		o.raw = []byte(doc)
		objs = append(objs, o)
	}
	return objs
}

// TestStacksOnARealControlPlane applies every shipped stack with
// server-side apply and strict validation, then checks what the API server
// stored and what the controllers did with it.
func TestStacksOnARealControlPlane(t *testing.T) {
	for _, stack := range shippedStacks(t) {
		t.Run(stack, func(t *testing.T) {
			// The rendered directory applies as it is, on a cluster without
			// the stack's namespace: kubectl reads the files in lexical
			// order, and their names put the Namespace first.
			dir, objs := renderDir(t, stack)
			if out, err := cp.Kubectl("get", "namespace", objs[0].Metadata.Name); objs[0].Kind != "Namespace" || err == nil {
				t.Fatalf("want the stack's Namespace first and absent before the apply; first is %s %s (%v %s)", objs[0].Kind, objs[0].Metadata.Name, err, out)
			}
			// A hard zone spread (cluster.zones) needs nodes in that many
			// zones, or its pods stay Pending by design: add fake nodes in
			// the other zones for this stack, cordoned after it so the
			// stacks applied later (and the drain test) see one node.
			zones := declaredZones(t, stack)
			for i := 1; i < zones; i++ {
				name := fmt.Sprintf("kwok-node-zone-%d", i)
				if err := cp.AddNodes(controlplane.Node{Name: name, Zone: fmt.Sprintf("zone-%c", 'a'+i)}); err != nil {
					t.Fatalf("add node %s: %v", name, err)
				}
				defer cp.Kubectl("cordon", name)
			}
			// A stack with its own NodePool runs every pod on it (its
			// nodeSelector and the toleration of its taint): add a node
			// per zone as Karpenter would launch for it, cordoned after.
			pool, hasPool := nodePoolOf(t, objs)
			if hasPool {
				for i := 0; i < zones; i++ {
					name := fmt.Sprintf("kwok-pool-%s-%d", stack, i)
					applyNode(t, pool.node(name, fmt.Sprintf("zone-%c", 'a'+i), nil))
					defer cp.Kubectl("cordon", name)
				}
			}
			if out, err := cp.Kubectl("apply", "--server-side", "--validate=strict", "--field-manager=pulumi-render", "-f", dir); err != nil {
				t.Fatalf("the API server rejected the %s stack:\n%v\n%s", stack, err, out)
			}
			for _, o := range objs {
				ns := o.Metadata.Namespace
				switch o.Kind {
				case "Deployment":
					if _, err := cp.Kubectl("rollout", "status", "deployment/"+o.Metadata.Name, "-n", ns, "--timeout=120s"); err != nil {
						t.Errorf("deployment %s/%s did not roll out on the fake node: %v", ns, o.Metadata.Name, err)
					}
				case "Service":
					if o.Metadata.Labels["app.kubernetes.io/component"] == "loadtest" {
						// The runners' headless Service: its endpoints come and go
						// with the runner pods (kwok completes them at once); the
						// Job case checks the names it gives them.
						continue
					}
					waitFor(t, 60*time.Second, "endpoints of service "+ns+"/"+o.Metadata.Name, func() bool {
						out, err := cp.Kubectl("get", "endpointslices", "-n", ns, "-l", "kubernetes.io/service-name="+o.Metadata.Name,
							"-o", "jsonpath={.items[*].endpoints[*].addresses[*]}")
						return err == nil && strings.TrimSpace(out) != ""
					})
				case "ServiceMonitor":
					// Its selector must pick the service's ClusterIP Service
					// only: the headless one would scrape every pod twice.
					var sm monv1.ServiceMonitor
					if err := yaml.Unmarshal(o.raw, &sm); err != nil {
						t.Fatal(err)
					}
					var selector []string
					for k, v := range sm.Spec.Selector.MatchLabels {
						selector = append(selector, k+"="+v)
					}
					sort.Strings(selector)
					out, err := cp.Kubectl("get", "services", "-n", ns, "-l", strings.Join(selector, ","), "-o", "jsonpath={.items[*].metadata.name}")
					if err != nil || strings.TrimSpace(out) != o.Metadata.Name {
						t.Errorf("ServiceMonitor %s/%s selects services %q (%v); want exactly %s", ns, o.Metadata.Name, out, err, o.Metadata.Name)
					}
				case "HorizontalPodAutoscaler":
					var want, got autoscalingv2.HorizontalPodAutoscaler
					stored(t, o, &want, &got)
					if *got.Spec.MinReplicas != *want.Spec.MinReplicas || got.Spec.MaxReplicas != want.Spec.MaxReplicas || len(got.Spec.Metrics) != len(want.Spec.Metrics) ||
						*got.Spec.Metrics[0].Resource.Target.AverageUtilization != *want.Spec.Metrics[0].Resource.Target.AverageUtilization {
						t.Errorf("HPA %s stored as %+v, rendered %+v", o.Metadata.Name, got.Spec, want.Spec)
					}
				case "PodDisruptionBudget":
					var want, got policyv1.PodDisruptionBudget
					stored(t, o, &want, &got)
					if got.Spec.MaxUnavailable.String() != want.Spec.MaxUnavailable.String() {
						t.Errorf("PDB %s stored as %+v, rendered %+v", o.Metadata.Name, got.Spec, want.Spec)
					}
				case "Job":
					var want, got batchv1.Job
					stored(t, o, &want, &got)
					if want.Spec.CompletionMode != nil && *want.Spec.CompletionMode == batchv1.IndexedCompletion {
						// The runners: indexed, one pod per segment, each named
						// <job>-<index> under the headless Service's subdomain.
						if *got.Spec.Parallelism != *want.Spec.Parallelism || *got.Spec.CompletionMode != batchv1.IndexedCompletion {
							t.Errorf("Job %s stored with parallelism %d, rendered %d", o.Metadata.Name, *got.Spec.Parallelism, *want.Spec.Parallelism)
						}
						var pods corev1.PodList
						waitFor(t, 60*time.Second, "runner pods of job "+o.Metadata.Name, func() bool {
							out, err := cp.Kubectl("get", "pods", "-n", ns, "-l", "job-name="+o.Metadata.Name, "-o", "json")
							return err == nil && json.Unmarshal([]byte(out), &pods) == nil && len(pods.Items) == int(*want.Spec.Parallelism)
						})
						for _, p := range pods.Items {
							index := p.Annotations["batch.kubernetes.io/job-completion-index"]
							if p.Spec.Hostname != o.Metadata.Name+"-"+index || p.Spec.Subdomain != o.Metadata.Name {
								t.Errorf("runner pod %s: hostname %q subdomain %q, want %s-%s under %s (the starter's RUNNERS names)",
									p.Name, p.Spec.Hostname, p.Spec.Subdomain, o.Metadata.Name, index, o.Metadata.Name)
							}
						}
					}
					// kwok completes the pods: the run (runners and starter) completes.
					if out, err := cp.Kubectl("wait", "--for=condition=complete", "job/"+o.Metadata.Name, "-n", ns, "--timeout=120s"); err != nil {
						t.Errorf("job %s/%s did not complete: %v\n%s", ns, o.Metadata.Name, err, out)
					}
				}
			}
			if zones > 1 {
				// The hard zone spread put the pods of each such Deployment
				// that runs at least one pod per zone in every zone.
				for _, o := range objs {
					var d appsv1.Deployment
					if o.Kind != "Deployment" || yaml.Unmarshal(o.raw, &d) != nil || !hardZoneSpread(d) || minReplicas(objs, d.Name) < zones {
						continue
					}
					var sel []string
					for k, v := range d.Spec.Selector.MatchLabels {
						sel = append(sel, k+"="+v)
					}
					sort.Strings(sel)
					var got map[string]bool
					waitFor(t, 60*time.Second, fmt.Sprintf("pods of %s in %d zones", d.Name, zones), func() bool {
						out, err := cp.Kubectl("get", "pods", "-n", d.Namespace, "-l", strings.Join(sel, ","), "--field-selector=status.phase=Running", "-o", "jsonpath={.items[*].spec.nodeName}")
						got = map[string]bool{}
						for _, n := range strings.Fields(out) {
							got[n] = true
						}
						return err == nil && len(got) >= zones
					})
				}
			}
			if hasPool {
				// Every pod of the stack ran on the pool's nodes.
				out, err := cp.Kubectl("get", "pods", "-n", objs[0].Metadata.Name, "-o", `jsonpath={range .items[*]}{.metadata.name}={.spec.nodeName}{"\n"}{end}`)
				if err != nil {
					t.Fatal(err)
				}
				pods := strings.Fields(out)
				for _, line := range pods {
					pod, node, _ := strings.Cut(line, "=")
					if !strings.HasPrefix(node, "kwok-pool-"+stack+"-") {
						t.Errorf("pod %s ran on %q, not on the stack's NodePool", pod, node)
					}
				}
				if len(pods) == 0 {
					t.Errorf("no pods in %s", objs[0].Metadata.Name)
				}
			}
			// A Deployment managed by an HPA must leave replicas to it.
			for _, o := range objs {
				if o.Kind != "Deployment" {
					continue
				}
				var d appsv1.Deployment
				if err := yaml.Unmarshal(o.raw, &d); err != nil {
					t.Fatal(err)
				}
				if d.Spec.Replicas != nil && d.Labels["app.kubernetes.io/component"] == "web" {
					t.Errorf("%s sets replicas although its HPA owns them", d.Name)
				}
			}
		})
	}
}

// hardZoneSpread reports whether a Deployment's pods must spread over zones
// (DoNotSchedule on topology.kubernetes.io/zone).
func hardZoneSpread(d appsv1.Deployment) bool {
	for _, c := range d.Spec.Template.Spec.TopologySpreadConstraints {
		if c.TopologyKey == corev1.LabelTopologyZone && c.WhenUnsatisfiable == corev1.DoNotSchedule {
			return true
		}
	}
	return false
}

// minReplicas is the minReplicas of the HPA that scales a Deployment, 1
// without one.
func minReplicas(objs []object, deployment string) int {
	for _, o := range objs {
		var h autoscalingv2.HorizontalPodAutoscaler
		if o.Kind == "HorizontalPodAutoscaler" && yaml.Unmarshal(o.raw, &h) == nil && h.Spec.ScaleTargetRef.Name == deployment && h.Spec.MinReplicas != nil {
			return int(*h.Spec.MinReplicas)
		}
	}
	return 1
}

// declaredZones is a stack file's cluster.zones (1 when it declares none):
// a hard zone spread needs nodes in that many zones.
func declaredZones(t *testing.T, stack string) int {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(repoRoot(), "Pulumi."+stack+".yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Config struct {
			Cluster struct {
				Zones int `json:"zones"`
			} `json:"cirkelline:cluster"`
		} `json:"config"`
	}
	if err := yaml.Unmarshal(raw, &file); err != nil {
		t.Fatal(err)
	}
	return max(1, file.Config.Cluster.Zones)
}

// stored decodes the rendered object into want and the API server's copy into got.
func stored(t *testing.T, o object, want, got any) {
	t.Helper()
	if err := yaml.Unmarshal(o.raw, want); err != nil {
		t.Fatal(err)
	}
	out, err := cp.Kubectl("get", strings.ToLower(o.Kind), o.Metadata.Name, "-n", o.Metadata.Namespace, "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(out), got); err != nil {
		t.Fatal(err)
	}
}

func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Errorf("%s: not within %s", what, within)
			return
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// TestBrokenManifestsAreRejected: what strict server-side apply refuses,
// with the server's own message.
func TestBrokenManifestsAreRejected(t *testing.T) {
	if _, err := cp.KubectlIn("apiVersion: v1\nkind: Namespace\nmetadata: {name: broken}\n", "apply", "--server-side", "-f", "-"); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, manifest, want string
	}{
		{"unknown field", `apiVersion: apps/v1
kind: Deployment
metadata: {name: typo, namespace: broken}
spec:
  replicass: 2
  selector: {matchLabels: {app: typo}}
  template:
    metadata: {labels: {app: typo}}
    spec: {containers: [{name: app, image: nginx:1.27}]}
`, ".spec.replicass: field not declared in schema"},
		{"HPA max below min", `apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: inverted, namespace: broken}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: api}
  minReplicas: 5
  maxReplicas: 2
`, "maxReplicas"},
		{"PDB with both fields", `apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: both, namespace: broken}
spec: {minAvailable: 1, maxUnavailable: 1, selector: {matchLabels: {app: api}}}
`, "minAvailable and maxUnavailable cannot be both set"},
		{"Ingress path type", `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: badpath, namespace: broken}
spec:
  ingressClassName: alb
  rules: [{http: {paths: [{path: /, pathType: Glob, backend: {service: {name: api, port: {number: 80}}}}]}}]
`, "pathType"},
		{"Job that restarts forever", `apiVersion: batch/v1
kind: Job
metadata: {name: always, namespace: broken}
spec:
  template:
    spec:
      restartPolicy: Always
      containers: [{name: k6, image: grafana/k6:1.3.0}]
`, "restartPolicy"},
		{"ServiceMonitor with an unknown field (prometheus-operator's CRD schema)", `apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata: {name: typo, namespace: broken}
spec:
  selector: {matchLabels: {app: api}}
  endpoints: [{port: http, intervall: 30s}]
`, "intervall"},
		{"PrometheusRule with a malformed duration", `apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata: {name: bad-for, namespace: broken}
spec:
  groups: [{name: g, rules: [{alert: A, expr: up == 0, for: ten minutes}]}]
`, "spec.groups[0].rules[0].for"},
		{"EC2NodeClass with a role and an instance profile (Karpenter's CEL rule)", `apiVersion: karpenter.k8s.aws/v1
kind: EC2NodeClass
metadata: {name: both}
spec:
  role: KarpenterNodeRole-x
  instanceProfile: KarpenterNodeInstanceProfile-x
  amiSelectorTerms: [{alias: al2023@v20250920}]
  subnetSelectorTerms: [{tags: {karpenter.sh/discovery: x}}]
  securityGroupSelectorTerms: [{tags: {karpenter.sh/discovery: x}}]
`, "must specify exactly one of ['role', 'instanceProfile']"},
		{"NodePool with a restricted label (Karpenter's CEL rule)", `apiVersion: karpenter.sh/v1
kind: NodePool
metadata: {name: restricted}
spec:
  template:
    metadata: {labels: {karpenter.sh/nodepool: other}}
    spec:
      nodeClassRef: {group: karpenter.k8s.aws, kind: EC2NodeClass, name: x}
      requirements: [{key: kubernetes.io/arch, operator: In, values: [amd64]}]
`, "is restricted"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := cp.KubectlIn(tt.manifest, "apply", "--server-side", "--validate=strict", "-f", "-")
			if err == nil {
				t.Fatal("the API server accepted it")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error does not mention %q:\n%v", tt.want, err)
			}
		})
	}
}

// TestDrainRespectsTheBudget runs last (zz): with the only node cordoned,
// evicting PartyPic's second server pod would leave fewer than its budget
// allows, and the API server refuses.
func TestZZDrainRespectsTheBudget(t *testing.T) {
	defer cp.Kubectl("uncordon", "kwok-node-0")
	out, err := cp.Kubectl("drain", "kwok-node-0", "--ignore-daemonsets", "--delete-emptydir-data", "--force",
		"--pod-selector=app.kubernetes.io/name=partypic-server", "--timeout=20s")
	if err == nil {
		t.Fatalf("the drain evicted every server pod although the PDB allows one disruption:\n%s", out)
	}
	if !strings.Contains(err.Error()+out, "disruption budget") {
		t.Errorf("want the PDB refusal, got:\n%v\n%s", err, out)
	}
}
