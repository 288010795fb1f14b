//go:build integration

package integration

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// TestHeadroomFollowsTheSpread runs production's backend and its headroom
// pause pods, as rendered, on the real scheduler with nodes in
// production's three zones, and scales the backend by its HPA's first
// step: every new pod must be scheduled at once, preempting pause pods.
//
// The free room is where a cluster leaves it, not where the spread needs
// it: at first only zone a's node has room beyond the backend's one pod
// per zone. A test-driven autoscaler then does what Karpenter or Cluster
// Autoscaler does for Pending pause pods (the reason they exist): it adds
// a node of one pod's room in the zone the Pending pause pods' spread
// asks for (the zone with the fewest of them), until none is Pending.
//
// The control runs the pause pods without the spread (the previous
// spec): they all fit in zone a, nothing is Pending, no node is added,
// and the backend's hard zone spread then lets only one new pod into zone
// a; the others find neither room nor a pause pod to preempt in zones b
// and c and stay Pending.
func TestHeadroomFollowsTheSpread(t *testing.T) {
	_, objs := renderDir(t, "production")
	zones := declaredZones(t, "production")
	var backend, pause appsv1.Deployment
	var class schedulingv1.PriorityClass
	for _, o := range objs {
		var into any
		switch {
		case o.Kind == "Deployment" && o.Metadata.Labels["app.kubernetes.io/component"] == "web":
			into = &backend
		case o.Kind == "Deployment" && o.Metadata.Labels["app.kubernetes.io/component"] == "headroom":
			into = &pause
		case o.Kind == "PriorityClass":
			into = &class
		default:
			continue
		}
		if err := yaml.Unmarshal(o.raw, into); err != nil {
			t.Fatal(err)
		}
	}
	if backend.Name == "" || pause.Name == "" || class.Name == "" || !hardZoneSpread(backend) || zones < 2 {
		t.Fatalf("production must render a backend with a hard zone spread over >= 2 zones and the headroom (backend %q, pause pods %q, class %q, zones %d)",
			backend.Name, pause.Name, class.Name, zones)
	}
	step := int(*pause.Spec.Replicas)
	minimum := minReplicas(objs, backend.Name)
	if minimum%zones != 0 {
		t.Fatalf("the scenario starts the backend balanced over the zones; minReplicas %d is not a multiple of %d", minimum, zones)
	}
	unit := pause.Spec.Template.Spec.Containers[0].Resources.Requests
	if want := backend.Spec.Template.Spec.Containers[0].Resources.Requests; !unit.Cpu().Equal(*want.Cpu()) || !unit.Memory().Equal(*want.Memory()) {
		t.Fatalf("a pause pod requests %v, a backend pod %v: want one pause pod per backend pod", unit, want)
	}

	tests := []struct {
		name    string
		spread  []corev1.TopologySpreadConstraint
		holdsUp bool
	}{
		{"as rendered", pause.Spec.Template.Spec.TopologySpreadConstraints, true},
		{"without the spread (control)", nil, false},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := headroomRun{t: t, ns: fmt.Sprintf("headroom-%d", i), zones: zones, unit: unit}
			defer r.tearDown()
			r.namespace()
			// Zone a: the backend's pod and room for the whole step; the
			// other zones: the backend's pod only.
			for z := 0; z < zones; z++ {
				units := int64(1)
				if z == 0 {
					units += int64(step)
				}
				r.addNode(z, units)
			}
			r.apply(r.deployment(backend, minimum, nil))
			if got := r.waitDecided(backend.Name, minimum); got.pending > 0 || len(got.zones) != zones {
				t.Fatalf("the backend at minReplicas: %+v; want one pod in each of %d zones%s", got, zones, r.schedulerSays(backend.Name))
			}

			pc := class.DeepCopy()
			pc.Name = r.ns + "-headroom"
			pc.ResourceVersion = ""
			r.apply(pc)
			p := r.deployment(pause, step, tt.spread)
			p.Spec.Template.Spec.PriorityClassName = pc.Name
			r.apply(p)
			added := r.autoscaleFor(pause.Name, step)
			before := r.waitDecided(pause.Name, step)
			t.Logf("pause pods by zone %v, after the autoscaler added %d node(s)", before.zones, added)
			if !tt.holdsUp && len(before.zones) != 1 {
				t.Fatalf("the control's pause pods sit in %v; the scenario wants them in one zone", before.zones)
			}

			// The HPA's first step.
			r.scale(backend.Name, minimum+step)
			if !tt.holdsUp {
				got := r.waitDecided(backend.Name, minimum+step)
				if got.pending == 0 {
					t.Fatalf("the control scheduled every pod of the step (%v): the test cannot tell the specs apart", got.zones)
				}
				t.Logf("control: %d backend pod(s) Pending after the step (running by zone %v)%s", got.pending, got.zones, r.schedulerSays(backend.Name))
				return
			}
			got := r.waitDecided(backend.Name, minimum+step)
			if got.pending > 0 {
				t.Fatalf("%d backend pod(s) of the first step Pending (running by zone %v)%s", got.pending, got.zones, r.schedulerSays(backend.Name))
			}
			after := r.waitDecided(pause.Name, step)
			if after.running >= before.running {
				t.Errorf("no pause pod was preempted (%v before, %v after)", before.zones, after.zones)
			}
			t.Logf("every pod of the step runs (by zone %v); pause pods preempted: %d (by zone now %v)", got.zones, before.running-after.running, after.zones)
		})
	}
}

// headroomRun is one run's namespace and nodes; its nodes carry a label
// of their own that its pods select.
type headroomRun struct {
	t     *testing.T
	ns    string
	zones int
	unit  corev1.ResourceList
	nodes int
}

func (r *headroomRun) namespace() {
	if out, err := cp.KubectlIn("apiVersion: v1\nkind: Namespace\nmetadata: {name: "+r.ns+"}\n", "apply", "-f", "-"); err != nil {
		r.t.Fatalf("namespace: %v\n%s", err, out)
	}
}

// addNode adds a kwok node in zone z with room for units pods of one
// unit each.
func (r *headroomRun) addNode(z int, units int64) {
	cpu, mem := r.unit.Cpu().DeepCopy(), r.unit.Memory().DeepCopy()
	cpu.SetMilli(cpu.MilliValue() * units)
	mem.Set(mem.Value() * units)
	name := fmt.Sprintf("%s-%c-%d", r.ns, 'a'+z, r.nodes)
	r.nodes++
	node := fakeNode(name, zoneName(z), corev1.ResourceList{corev1.ResourceCPU: cpu, corev1.ResourceMemory: mem}, map[string]string{"headroom-run": r.ns},
		[]corev1.Taint{r.taint()})
	applyNode(r.t, node)
}

// taint keeps every other test's pods off the run's nodes.
func (r *headroomRun) taint() corev1.Taint {
	return corev1.Taint{Key: "headroom-run", Value: r.ns, Effect: corev1.TaintEffectNoSchedule}
}

func (r *headroomRun) apply(obj any) {
	r.t.Helper()
	raw, err := json.Marshal(obj)
	if err != nil {
		r.t.Fatal(err)
	}
	if out, err := cp.KubectlIn(string(raw), "apply", "--server-side", "-f", "-"); err != nil {
		r.t.Fatalf("apply: %v\n%s\n%s", err, out, raw)
	}
}

// deployment is d in the run's namespace, on the run's nodes, with
// replicas pods and, for the pause pods, the given spread.
func (r *headroomRun) deployment(d appsv1.Deployment, replicas int, spread []corev1.TopologySpreadConstraint) *appsv1.Deployment {
	d = *d.DeepCopy()
	d.Namespace, d.ResourceVersion, d.Annotations = r.ns, "", nil
	d.Spec.Replicas = ptrTo(int32(replicas))
	spec := &d.Spec.Template.Spec
	if d.Labels["app.kubernetes.io/component"] == "headroom" {
		spec.TopologySpreadConstraints = spread
	}
	spec.NodeSelector = map[string]string{"headroom-run": r.ns}
	t := r.taint()
	spec.Tolerations = append(spec.Tolerations, corev1.Toleration{Key: t.Key, Operator: corev1.TolerationOpEqual, Value: t.Value, Effect: t.Effect})
	// kwok runs no containers: the service account, config and secrets
	// the pods name need not exist.
	spec.ServiceAccountName = ""
	return &d
}

func (r *headroomRun) scale(name string, replicas int) {
	if out, err := cp.Kubectl("scale", "deployment/"+name, "-n", r.ns, fmt.Sprintf("--replicas=%d", replicas)); err != nil {
		r.t.Fatalf("scale: %v\n%s", err, out)
	}
}

// decided is where a Deployment's pods are once the scheduler has tried
// each: running pods by zone, and how many it could not place.
type decided struct {
	running, pending int
	zones            map[string]int
}

// waitDecided waits until the Deployment has want pods, each running or
// marked unschedulable by the scheduler, and no pod is being deleted or
// waits for a preemption it was nominated for.
func (r *headroomRun) waitDecided(name string, want int) decided {
	r.t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		zoneOf := r.zoneOf()
		d := decided{zones: map[string]int{}}
		settled := true
		pods := r.pods(name)
		for _, p := range pods {
			switch {
			case p.DeletionTimestamp != nil:
				settled = false
			case p.Status.Phase == corev1.PodRunning:
				d.running++
				d.zones[zoneOf[p.Spec.NodeName]]++
			case p.Status.NominatedNodeName != "":
				settled = false // preemption under way
			default:
				unschedulable := false
				for _, c := range p.Status.Conditions {
					unschedulable = unschedulable || (c.Type == corev1.PodScheduled && c.Reason == corev1.PodReasonUnschedulable)
				}
				if unschedulable {
					d.pending++
				} else {
					settled = false
				}
			}
		}
		if settled && len(pods) == want && d.running+d.pending == want {
			// Once more after a pause: an unschedulable pod may yet be
			// retried after a node or a preemption freed room.
			time.Sleep(3 * time.Second)
			if again := r.quickCount(name); again == d.running {
				return d
			}
			continue
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("pods of %s not decided within 90 s: %d pods, %+v%s", name, len(pods), d, r.schedulerSays(name))
		}
		time.Sleep(time.Second)
	}
}

func (r *headroomRun) quickCount(name string) int {
	n := 0
	for _, p := range r.pods(name) {
		if p.DeletionTimestamp == nil && p.Status.Phase == corev1.PodRunning {
			n++
		}
	}
	return n
}

// autoscaleFor plays the node autoscaler for the Deployment's Pending
// pods: while one is unschedulable, it adds a node of one pod's room in
// the zone holding the fewest of the Deployment's running pods (where a
// spread with maxSkew 1 lets the next pod go), as Karpenter's and Cluster
// Autoscaler's scheduling simulations would. It returns the nodes added.
func (r *headroomRun) autoscaleFor(name string, replicas int) int {
	added := 0
	for {
		d := r.waitDecided(name, replicas)
		if d.pending == 0 {
			return added
		}
		if added >= 2*r.zones {
			r.t.Fatalf("the autoscaler added %d nodes and pods of %s are still Pending: %+v%s", added, name, d, r.schedulerSays(name))
		}
		fewest := 0
		for z := 1; z < r.zones; z++ {
			if d.zones[zoneName(z)] < d.zones[zoneName(fewest)] {
				fewest = z
			}
		}
		r.addNode(fewest, 1)
		added++
		// Decide again only once the scheduler has used the new node.
		deadline := time.Now().Add(60 * time.Second)
		for r.waitDecided(name, replicas).pending >= d.pending {
			if time.Now().After(deadline) {
				r.t.Fatalf("no pod of %s took the node added in %s%s", name, zoneName(fewest), r.schedulerSays(name))
			}
			time.Sleep(time.Second)
		}
	}
}

func (r *headroomRun) pods(name string) []corev1.Pod {
	return podsOf(r.t, r.ns, "app.kubernetes.io/name="+name)
}

func (r *headroomRun) zoneOf() map[string]string { return nodeZones(r.t, "headroom-run="+r.ns) }

// podsOf lists the pods of namespace ns that match selector ("" for all).
func podsOf(t *testing.T, ns, selector string) []corev1.Pod {
	t.Helper()
	args := []string{"get", "pods", "-n", ns, "-o", "json"}
	if selector != "" {
		args = append(args, "-l", selector)
	}
	out, err := cp.Kubectl(args...)
	if err != nil {
		t.Fatalf("get pods: %v", err)
	}
	var list corev1.PodList
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatal(err)
	}
	return list.Items
}

// nodeZones maps the names of the nodes that match selector ("" for all)
// to their zones.
func nodeZones(t *testing.T, selector string) map[string]string {
	t.Helper()
	args := []string{"get", "nodes", "-o", `jsonpath={range .items[*]}{.metadata.name}={.metadata.labels.topology\.kubernetes\.io/zone}{"\n"}{end}`}
	if selector != "" {
		args = append(args, "-l", selector)
	}
	out, err := cp.Kubectl(args...)
	if err != nil {
		t.Fatalf("get nodes: %v", err)
	}
	zones := map[string]string{}
	for _, line := range strings.Fields(out) {
		if name, zone, ok := strings.Cut(line, "="); ok {
			zones[name] = zone
		}
	}
	return zones
}

// schedulerSays is the scheduler's message for the Deployment's first
// unschedulable pod.
func (r *headroomRun) schedulerSays(name string) string {
	return schedulerMessage(r.pods(name))
}

func (r *headroomRun) tearDown() {
	cp.Kubectl("delete", "namespace", r.ns, "--wait=false")
	cp.Kubectl("delete", "priorityclass", r.ns+"-headroom", "--wait=false")
	cp.Kubectl("delete", "nodes", "-l", "headroom-run="+r.ns, "--wait=false")
	cp.Kubectl("delete", "pods", "-n", r.ns, "--all", "--force", "--grace-period=0")
}

// schedulerMessage is the scheduler's message for the first pod it could
// not place.
func schedulerMessage(pods []corev1.Pod) string {
	for _, p := range pods {
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Message != "" {
				return "; scheduler: " + c.Message
			}
		}
	}
	return ""
}

// fakeNode is a kwok node in a zone with the given allocatable CPU and
// memory (110 pods), extra labels and taints.
func fakeNode(name, zone string, room corev1.ResourceList, labels map[string]string, taints []corev1.Taint) *corev1.Node {
	l := map[string]string{
		"kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
		corev1.LabelTopologyZone: zone, "type": "kwok",
	}
	for k, v := range labels {
		l[k] = v
	}
	alloc := room.DeepCopy()
	alloc[corev1.ResourcePods] = resource.MustParse("110")
	return &corev1.Node{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Node"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: l,
			Annotations: map[string]string{"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"}},
		Spec:   corev1.NodeSpec{Taints: taints},
		Status: corev1.NodeStatus{Allocatable: alloc, Capacity: alloc.DeepCopy()},
	}
}

// applyNode creates a fake node as the other tests do (a client-side
// apply keeps the status it is created with).
func applyNode(t *testing.T, n *corev1.Node) {
	t.Helper()
	raw, err := json.Marshal(n)
	if err != nil {
		t.Fatal(err)
	}
	if out, err := cp.KubectlIn(string(raw), "apply", "-f", "-"); err != nil {
		t.Fatalf("node %s: %v\n%s", n.Name, err, out)
	}
}
