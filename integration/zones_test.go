//go:build integration

package integration

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/cirkelline/infra/internal/controlplane"
)

// TestZoneOutage runs production's backend Deployment, with its spread
// constraints as rendered, on nodes in production's declared zones (two
// per zone, as the first run had), loses one zone while the pods
// run, and scales the Deployment to its HPA's maximum: every pod must be
// scheduled in the surviving zones, and while every zone was up the pods
// must have been spread evenly. The real scheduler decides.
//
// Two forms of losing a zone:
//   - gone: the zone's nodes and their pods are deleted, as when the
//     cloud's node lifecycle removes the instances;
//   - unreachable: the zone's nodes stop reporting (kwok stops managing
//     them and their Ready condition goes Unknown), the node lifecycle
//     controller taints them node.kubernetes.io/unreachable, and their
//     pods are deleted as the taint eviction would after the pods'
//     300 s toleration; they stay Terminating, as no kubelet confirms.
//
// Each outage also runs a control with the constraint it guards against
// (minDomains, the previous spread; or the default nodeTaintsPolicy
// Ignore), which must leave pods Pending: the test can fail.
func TestZoneOutage(t *testing.T) {
	_, objs := renderDir(t, "production")
	zones := declaredZones(t, "production")
	if zones < 2 {
		t.Fatalf("production declares %d zones; the test needs a hard zone spread", zones)
	}
	var deploy appsv1.Deployment
	var hpa autoscalingv2.HorizontalPodAutoscaler
	for _, o := range objs {
		switch {
		case o.Kind == "Deployment" && o.Metadata.Labels["app.kubernetes.io/component"] == "web":
			if err := yaml.Unmarshal(o.raw, &deploy); err != nil {
				t.Fatal(err)
			}
		case o.Kind == "HorizontalPodAutoscaler":
			if err := yaml.Unmarshal(o.raw, &hpa); err != nil {
				t.Fatal(err)
			}
		}
	}
	if deploy.Name == "" || hpa.Spec.ScaleTargetRef.Name != deploy.Name {
		t.Fatalf("production renders no web Deployment with its HPA (found %q, HPA of %q)", deploy.Name, hpa.Spec.ScaleTargetRef.Name)
	}
	if !hardZoneSpread(deploy) {
		t.Fatalf("production's %s has no hard zone spread: %+v", deploy.Name, deploy.Spec.Template.Spec.TopologySpreadConstraints)
	}
	rendered := deploy.Spec.Template.Spec.TopologySpreadConstraints
	previous := withZoneConstraint(rendered, func(c *corev1.TopologySpreadConstraint) {
		c.NodeTaintsPolicy = nil
		c.MinDomains = ptrTo(int32(zones))
	})
	ignoreTaints := withZoneConstraint(rendered, func(c *corev1.TopologySpreadConstraint) { c.NodeTaintsPolicy = nil })

	tests := []struct {
		name        string
		spread      []corev1.TopologySpreadConstraint
		unreachable bool
		recovers    bool
	}{
		{"gone, as rendered", rendered, false, true},
		{"unreachable, as rendered", rendered, true, true},
		{"gone, with minDomains (control)", previous, false, false},
		{"unreachable, ignoring taints (control)", ignoreTaints, true, false},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ns := fmt.Sprintf("zone-outage-%d", i)
			const perZone = 2 // nodes, and pods while every zone is up
			initial := zones * perZone
			run := zoneOutageRun{t: t, ns: ns, zones: zones, nodesPerZone: perZone}
			run.setUp(deploy, tt.spread, initial)
			defer run.tearDown()

			// Every zone up: the pods spread evenly.
			perZoneCount := run.waitRunning(initial)
			for z := 0; z < zones; z++ {
				if got := perZoneCount[zoneName(z)]; got != perZone {
					t.Fatalf("with every zone up, %d pods in %s, want %d (all: %v)", got, zoneName(z), perZone, perZoneCount)
				}
			}

			lost := zoneName(zones - 1)
			run.loseZone(lost, tt.unreachable)
			run.scale(int(hpa.Spec.MaxReplicas))
			if !tt.recovers {
				pending := run.waitPending()
				if pending == 0 {
					t.Fatalf("the control (%s) scheduled every pod: the test cannot tell the spreads apart", tt.name)
				}
				t.Logf("control: %d pods Pending after losing %s, as expected", pending, lost)
				return
			}
			counts := run.waitRunning(int(hpa.Spec.MaxReplicas))
			if counts[lost] != 0 {
				t.Errorf("%d new pods in the lost zone %s", counts[lost], lost)
			}
			// The survivors share the load evenly (maxSkew 1).
			var low, high int
			for z := 0; z < zones-1; z++ {
				n := counts[zoneName(z)]
				if z == 0 || n < low {
					low = n
				}
				high = max(high, n)
			}
			if high-low > 1 {
				t.Errorf("after losing %s the pods are skewed by %d: %v", lost, high-low, counts)
			}
			t.Logf("after losing %s: %v", lost, counts)
		})
	}
}

func ptrTo[T any](v T) *T { return &v }

// withZoneConstraint copies the constraints with the zone one changed.
func withZoneConstraint(in []corev1.TopologySpreadConstraint, change func(*corev1.TopologySpreadConstraint)) []corev1.TopologySpreadConstraint {
	out := make([]corev1.TopologySpreadConstraint, len(in))
	for i, c := range in {
		c = *c.DeepCopy()
		if c.TopologyKey == corev1.LabelTopologyZone {
			change(&c)
		}
		out[i] = c
	}
	return out
}

func zoneName(z int) string { return fmt.Sprintf("outage-zone-%c", 'a'+z) }

// zoneOutageRun is one run's namespace, nodes and Deployment. Its nodes
// carry a label of their own that the pods select, so only they are the
// constraints' domains (nodeAffinityPolicy Honor, the default).
type zoneOutageRun struct {
	t            *testing.T
	ns           string
	zones        int
	nodesPerZone int
}

func (r zoneOutageRun) node(z, i int) string { return fmt.Sprintf("%s-%c-%d", r.ns, 'a'+z, i) }

func (r zoneOutageRun) setUp(d appsv1.Deployment, spread []corev1.TopologySpreadConstraint, replicas int) {
	t := r.t
	if out, err := cp.KubectlIn("apiVersion: v1\nkind: Namespace\nmetadata: {name: "+r.ns+"}\n", "apply", "-f", "-"); err != nil {
		t.Fatalf("namespace: %v\n%s", err, out)
	}
	for z := 0; z < r.zones; z++ {
		for i := 0; i < r.nodesPerZone; i++ {
			node := controlplane.Node{Name: r.node(z, i), Zone: zoneName(z), Labels: map[string]string{"zone-outage": r.ns}}
			if err := cp.AddNodes(node); err != nil {
				t.Fatalf("node: %v", err)
			}
		}
	}
	d = *d.DeepCopy()
	d.Namespace = r.ns
	d.Spec.Replicas = ptrTo(int32(replicas))
	spec := &d.Spec.Template.Spec
	spec.TopologySpreadConstraints = spread
	spec.NodeSelector = map[string]string{"zone-outage": r.ns}
	// The pods' service account is not part of this test; kwok runs no
	// containers, so their config and secrets need not exist either.
	spec.ServiceAccountName = ""
	raw, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	if out, err := cp.KubectlIn(string(raw), "apply", "--server-side", "-f", "-"); err != nil {
		t.Fatalf("deployment: %v\n%s", err, out)
	}
}

func (r zoneOutageRun) tearDown() {
	cp.Kubectl("delete", "namespace", r.ns, "--wait=false")
	cp.Kubectl("delete", "nodes", "-l", "zone-outage="+r.ns, "--wait=false")
	// Pods left Terminating on the unreachable nodes have no kubelet to
	// confirm; remove them so the namespace can go.
	cp.Kubectl("delete", "pods", "-n", r.ns, "--all", "--force", "--grace-period=0")
}

func (r zoneOutageRun) pods() []corev1.Pod { return podsOf(r.t, r.ns, "") }

func (r zoneOutageRun) zoneOf() map[string]string { return nodeZones(r.t, "zone-outage="+r.ns) }

// waitRunning waits until want pods not being deleted run, and returns
// how many run in each zone.
func (r zoneOutageRun) waitRunning(want int) map[string]int {
	r.t.Helper()
	var counts map[string]int
	var running, pending int
	deadline := time.Now().Add(90 * time.Second)
	for {
		zoneOf := r.zoneOf()
		counts, running, pending = map[string]int{}, 0, 0
		for _, p := range r.pods() {
			switch {
			case p.DeletionTimestamp != nil:
			case p.Status.Phase == corev1.PodRunning:
				running++
				counts[zoneOf[p.Spec.NodeName]]++
			case p.Status.Phase == corev1.PodPending:
				pending++
			}
		}
		if running == want && pending == 0 {
			return counts
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("%d of %d pods running, %d pending after 90 s (by zone: %v)%s", running, want, pending, counts, r.unschedulable())
		}
		time.Sleep(time.Second)
	}
}

// waitPending waits for the scheduler to have tried every pod, and
// returns how many it could not place.
func (r zoneOutageRun) waitPending() int {
	var unschedulable int
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		unschedulable = 0
		undecided := 0
		for _, p := range r.pods() {
			if p.DeletionTimestamp != nil || p.Status.Phase != corev1.PodPending {
				continue
			}
			undecided++
			for _, c := range p.Status.Conditions {
				if c.Type == corev1.PodScheduled && c.Reason == corev1.PodReasonUnschedulable {
					unschedulable++
					undecided--
				}
			}
		}
		if unschedulable > 0 && undecided == 0 {
			break
		}
		time.Sleep(time.Second)
	}
	return unschedulable
}

// unschedulable is the scheduler's message for the first Pending pod.
func (r zoneOutageRun) unschedulable() string {
	for _, p := range r.pods() {
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse {
				return "; scheduler: " + c.Message
			}
		}
	}
	return ""
}

func (r zoneOutageRun) scale(replicas int) {
	if out, err := cp.Kubectl("scale", "deployment/"+r.deployment(), "-n", r.ns, fmt.Sprintf("--replicas=%d", replicas)); err != nil {
		r.t.Fatalf("scale: %v\n%s", err, out)
	}
}

func (r zoneOutageRun) deployment() string {
	out, err := cp.Kubectl("get", "deployments", "-n", r.ns, "-o", "jsonpath={.items[0].metadata.name}")
	if err != nil {
		r.t.Fatalf("get deployment: %v", err)
	}
	return strings.TrimSpace(out)
}

// loseZone takes a zone's nodes away, with their pods
// (controlplane.Cluster.LoseZone, which the rehearsal's zone outage uses
// too).
func (r zoneOutageRun) loseZone(zone string, unreachable bool) {
	lost, err := cp.LoseZone(zone, "zone-outage="+r.ns, unreachable)
	if err != nil {
		r.t.Fatal(err)
	}
	if len(lost.Nodes) == 0 || len(lost.Pods) == 0 {
		r.t.Fatalf("zone %s had nodes %v and pods %v; want both", zone, lost.Nodes, lost.Pods)
	}
}
