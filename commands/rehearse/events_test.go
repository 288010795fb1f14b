package rehearse

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cirkelline/infra/internal/controlplane"
	"github.com/cirkelline/infra/loadtest"
	"github.com/cirkelline/infra/scenario"
)

func testPool() NodePool {
	return NodePool{Zones: []string{"r-1a", "r-1b", "r-1c"}, Region: "r-1", CPU: resource.MustParse("7660m"), Memory: resource.MustParse("28Gi"), Pods: 54, Nodes: 6, Max: 6, Delay: time.Minute}
}

func TestNodePoolInitialNodes(t *testing.T) {
	node := func(zone string, i int) controlplane.Node {
		return controlplane.Node{Name: "node-" + zone + "-" + string(rune('0'+i)), Zone: zone, Region: "r-1", CPU: resource.MustParse("7660m"), Memory: resource.MustParse("28Gi"), Pods: 54}
	}
	tests := []struct {
		name   string
		change func(*NodePool)
		want   []controlplane.Node
	}{
		{"fixed pool: every node, round-robin over the zones", func(*NodePool) {},
			[]controlplane.Node{node("r-1a", 1), node("r-1b", 1), node("r-1c", 1), node("r-1a", 2), node("r-1b", 2), node("r-1c", 2)}},
		{"autoscaled: one per zone", func(p *NodePool) { p.Autoscaled = true },
			[]controlplane.Node{node("r-1a", 1), node("r-1b", 1), node("r-1c", 1)}},
		{"autoscaled below the zones: the maximum", func(p *NodePool) { p.Autoscaled, p.Max = true, 2 },
			[]controlplane.Node{node("r-1a", 1), node("r-1b", 1)}},
		{"autoscaled with a minimum above the zones", func(p *NodePool) { p.Autoscaled, p.AtRest = true, 4 },
			[]controlplane.Node{node("r-1a", 1), node("r-1b", 1), node("r-1c", 1), node("r-1a", 2)}},
		{"autoscaled with a minimum above the maximum: the maximum", func(p *NodePool) { p.Autoscaled, p.AtRest, p.Max = true, 9, 5 },
			[]controlplane.Node{node("r-1a", 1), node("r-1b", 1), node("r-1c", 1), node("r-1a", 2), node("r-1b", 2)}},
	}
	for _, tt := range tests {
		p := testPool()
		tt.change(&p)
		if diff := cmp.Diff(tt.want, p.InitialNodes()); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.name, diff)
		}
	}
}

func TestNodePoolPlaceAndSize(t *testing.T) {
	p := testPool()
	// Three pods of 500m/1Gi fit one node; 16 of them need two by CPU.
	if got := p.NodesFor(1500, 3<<30, 3); got != 1 {
		t.Errorf("NodesFor 3 pods = %d, want 1", got)
	}
	if got := p.NodesFor(8000, 16<<30, 16); got != 2 {
		t.Errorf("NodesFor 16 pods = %d, want 2", got)
	}
	if got := p.NodesFor(100, 1<<20, 55); got != 2 {
		t.Errorf("NodesFor 55 pod slots = %d, want 2", got)
	}
	nodes := map[string]int{"r-1a": 1, "r-1b": 2, "r-1c": 1}
	got := p.PlaceNodes(3, nodes, map[string]bool{"r-1a": true})
	if diff := cmp.Diff([]string{"r-1c", "r-1b", "r-1c"}, got); diff != "" {
		t.Errorf("placed (-want +got):\n%s", diff)
	}
	if got := p.PlaceNodes(1, map[string]int{}, map[string]bool{"r-1a": true, "r-1b": true, "r-1c": true}); len(got) != 0 {
		t.Errorf("placed %v with every zone down", got)
	}
}

func TestLoadEnd(t *testing.T) {
	d := Demand{Shape: loadtest.Shapes[loadtest.Load]}
	if got := d.LoadEnd(); got != 14*time.Minute {
		t.Errorf("load shape's load ends at %s, want 14m (before its 2 m ramp to 0)", got)
	}
	d.Shape.Stages = d.Shape.Stages[:4]
	if got := d.LoadEnd(); got != 14*time.Minute {
		t.Errorf("a shape ending above 0 ends its load at its end: %s", got)
	}
}

// judgedEvent runs JudgeEvents on a zone outage at 20 s over samples
// 10 s apart, demand 100 req/s, 25 req/s a pod.
func judgedEvent(change func([]Sample)) EventVerdict {
	var samples []Sample
	for i := 0; i <= 8; i++ {
		samples = append(samples, Sample{T: time.Duration(i*10) * time.Second, DemandRPS: 100, CapacityRPS: 100, PDBHealthy: 3, PDBDesired: 3})
	}
	change(samples)
	res := &Result{Samples: samples, Demand: Demand{Shape: loadtest.Shape{Stages: []loadtest.Stage{{Duration: loadtest.Duration(70 * time.Second), Target: 50}, {Duration: loadtest.Duration(10 * time.Second), Target: 0}}}},
		Preemptions: []Preemption{{T: 35 * time.Second, Victim: "pause-1", Preemptor: "web-9", Pause: true, ForService: true}}}
	recs := []*eventRecord{{Event: scenario.Event{Kind: scenario.EventZoneOutage, Target: "z-a", At: 20 * time.Second}, PodsLost: 1, NodesLost: 2, Done: -1}}
	return JudgeEvents(res, recs, time.Minute)[0]
}

func TestJudgeEvents(t *testing.T) {
	base := EventVerdict{Event: "zone-outage:z-a@20s", At: 20 * time.Second, Until: 70 * time.Second, PodsLost: 1, NodesLost: 2, BlockBound: time.Minute,
		DrainTook: -1, RolloutTook: -1, Recovered: true, PausePreempted: 1}
	tests := []struct {
		name    string
		samples func([]Sample)
		want    func(*EventVerdict)
	}{
		{"never short", func([]Sample) {}, func(*EventVerdict) {}},
		{"short, then carried again", func(s []Sample) {
			s[2].CapacityRPS, s[3].CapacityRPS = 75, 75
			s[2].Pending, s[2].Unschedulable, s[2].SchedulerSaid, s[2].PauseRunning = 1, 1, "0/4 nodes are available", 2
		}, func(v *EventVerdict) {
			v.RecoveredAfter, v.ShortFor, v.WorstShortfallRPS = 20*time.Second, 20*time.Second, 25
			v.PendingPeak, v.UnschedulablePeak, v.Unschedulable, v.HeadroomMissed = 1, 1, 10*time.Second, 10*time.Second
			v.SchedulerSaid = []string{"0/4 nodes are available"}
		}},
		{"short until the load ends: not recovered (the ramp to 0 does not count)", func(s []Sample) {
			for i := 2; i <= 6; i++ {
				s[i].CapacityRPS = 50
			}
		}, func(v *EventVerdict) {
			v.Recovered, v.ShortFor, v.WorstShortfallRPS = false, 50*time.Second, 50
			v.Problems = []string{"the ready pods did not carry the demand again before 1m10s (short by 50 req/s at worst)"}
		}},
		{"the budget below its desired pods is reported, not a problem for an outage", func(s []Sample) {
			s[3].PDBHealthy = 2
		}, func(v *EventVerdict) { v.BudgetBelowDesired = 10 * time.Second }},
		{"a scale-up raising desiredHealthy is no disruption", func(s []Sample) {
			s[4].PDBDesired = 5
		}, func(*EventVerdict) {}},
	}
	for _, tt := range tests {
		want := base
		tt.want(&want)
		if diff := cmp.Diff(want, judgedEvent(tt.samples)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.name, diff)
		}
	}
}

func TestJudgeEventsDrain(t *testing.T) {
	res := &Result{Samples: []Sample{{T: 0, DemandRPS: 10, CapacityRPS: 10, PDBHealthy: 3, PDBDesired: 3}, {T: 10 * time.Second, DemandRPS: 10, CapacityRPS: 10, PDBHealthy: 2, PDBDesired: 3}, {T: 20 * time.Second, DemandRPS: 10, CapacityRPS: 10, PDBHealthy: 3, PDBDesired: 3}},
		Demand: Demand{Shape: loadtest.Shape{Stages: []loadtest.Stage{{Duration: loadtest.Duration(time.Minute), Target: 5}}}}}
	// A replace drains as a drain does, once its replacement is Ready.
	for _, kind := range []scenario.EventKind{scenario.EventDrain, scenario.EventReplace} {
		recs := []*eventRecord{{Event: scenario.Event{Kind: kind, Target: scenario.DrainAll}, Evictions: 9, Refusals: 6, LongestBlocked: 2 * time.Minute, BudgetSaid: "Cannot evict pod", Done: 50 * time.Second}}
		got := JudgeEvents(res, recs, time.Minute)[0]
		want := []string{
			"the PodDisruptionBudget was below its desired healthy pods for 10s during a voluntary disruption",
			"a budget held the drain for 2m0s (bound 1m0s, still held at the end: false)",
		}
		if diff := cmp.Diff(want, got.Problems); diff != "" {
			t.Errorf("%s: problems (-want +got):\n%s", kind, diff)
		}
		if got.DrainTook != 50*time.Second || got.OK() {
			t.Errorf("%s: drain took %s, OK %v; want 50s, false", kind, got.DrainTook, got.OK())
		}
	}
}

// A rollout is judged done as `kubectl rollout status` judges it, and one
// that never finishes within its window fails.
func TestJudgeEventsRollout(t *testing.T) {
	res := &Result{Samples: []Sample{{T: 0, DemandRPS: 10, CapacityRPS: 10}, {T: 30 * time.Second, DemandRPS: 10, CapacityRPS: 10}},
		Demand: Demand{Shape: loadtest.Shape{Stages: []loadtest.Stage{{Duration: loadtest.Duration(time.Minute), Target: 5}}}}}
	rollout := scenario.Event{Kind: scenario.EventRollout, At: 0}
	done := JudgeEvents(res, []*eventRecord{{Event: rollout, Done: 40 * time.Second, Replaced: 4}}, time.Minute)[0]
	if done.RolloutTook != 40*time.Second || done.PodsReplaced != 4 || done.DrainTook != -1 || !done.OK() {
		t.Errorf("rollout took %s to %d pods, drain took %s, problems %v; want 40s, 4, -1, none", done.RolloutTook, done.PodsReplaced, done.DrainTook, done.Problems)
	}
	stuck := JudgeEvents(res, []*eventRecord{{Event: rollout, Done: -1}}, time.Minute)[0]
	if want := []string{"the rollout did not finish before 1m0s (new pods not all available, or old ones left)"}; !cmp.Equal(want, stuck.Problems) {
		t.Errorf("problems %v, want %v", stuck.Problems, want)
	}
}

func TestRolledOut(t *testing.T) {
	three := int32(3)
	base := appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Generation: 2}, Spec: appsv1.DeploymentSpec{Replicas: &three},
		Status: appsv1.DeploymentStatus{ObservedGeneration: 2, Replicas: 3, UpdatedReplicas: 3, AvailableReplicas: 3}}
	for name, tt := range map[string]struct {
		mutate func(*appsv1.Deployment)
		want   bool
	}{
		"rolled out":                       {func(*appsv1.Deployment) {}, true},
		"the controller has not seen it":   {func(d *appsv1.Deployment) { d.Generation = 3 }, false},
		"new replicas still to create":     {func(d *appsv1.Deployment) { d.Status.UpdatedReplicas = 2 }, false},
		"old replicas pending termination": {func(d *appsv1.Deployment) { d.Status.Replicas = 4 }, false},
		"updated replicas not available":   {func(d *appsv1.Deployment) { d.Status.AvailableReplicas = 2 }, false},
	} {
		d := base
		tt.mutate(&d)
		if got := rolledOut(&d); got != tt.want {
			t.Errorf("%s: rolledOut = %v, want %v", name, got, tt.want)
		}
	}
}

// --min-domains turns today's zone spread back into the one before issue
// 21's fix, and refuses a Deployment without a hard zone spread.
func TestObjectsForMinDomains(t *testing.T) {
	selector := &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}
	spread := func(when corev1.UnsatisfiableConstraintAction) []corev1.TopologySpreadConstraint {
		return []corev1.TopologySpreadConstraint{
			{MaxSkew: 1, TopologyKey: corev1.LabelTopologyZone, WhenUnsatisfiable: when, LabelSelector: selector, NodeTaintsPolicy: ptr(corev1.NodeInclusionPolicyHonor)},
			{MaxSkew: 1, TopologyKey: corev1.LabelHostname, WhenUnsatisfiable: corev1.ScheduleAnyway, LabelSelector: selector},
		}
	}
	stream := func(c []corev1.TopologySpreadConstraint) string {
		d := appsv1.Deployment{TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"}, ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns"}}
		d.Spec.Template.Spec.TopologySpreadConstraints = c
		b, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		return "kind: Namespace\nmetadata: {name: ns}\n---\n" + string(b)
	}
	docs, dep, err := objectsFor(stream(spread(corev1.DoNotSchedule)), "web", 3)
	if err != nil {
		t.Fatal(err)
	}
	want := spread(corev1.DoNotSchedule)
	want[0].MinDomains, want[0].NodeTaintsPolicy = ptr(int32(3)), nil
	if diff := cmp.Diff(want, dep.Spec.Template.Spec.TopologySpreadConstraints); diff != "" {
		t.Errorf("spread (-want +got):\n%s", diff)
	}
	var applied appsv1.Deployment
	if err := json.Unmarshal([]byte(docs[1]), &applied); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, applied.Spec.Template.Spec.TopologySpreadConstraints); diff != "" {
		t.Errorf("applied spread (-want +got):\n%s", diff)
	}
	if _, _, err := objectsFor(stream(spread(corev1.ScheduleAnyway)), "web", 3); err == nil || !strings.Contains(err.Error(), "minDomains needs DoNotSchedule (declare cluster.zones >= 2)") {
		t.Errorf("a soft zone spread: %v", err)
	}
	if _, dep, err := objectsFor(stream(spread(corev1.DoNotSchedule)), "web", 0); err != nil || dep.Spec.Template.Spec.TopologySpreadConstraints[0].MinDomains != nil {
		t.Errorf("without --min-domains the spread changed: %v", err)
	}
}

func ptr[T any](v T) *T { return &v }

// TestWriteTimelineWithoutEvents: a rehearsal without events still writes
// a timeline a reader understands, not an empty file.
func TestWriteTimelineWithoutEvents(t *testing.T) {
	var b strings.Builder
	if err := WriteTimeline(&b, &Result{}); err != nil {
		t.Fatal(err)
	}
	if got, want := b.String(), "no events, node changes or preemptions in this rehearsal\n"; got != want {
		t.Errorf("timeline %q, want %q", got, want)
	}
}

// TestNewNodeCouldHold: the autoscaler launches only for pods some node
// turned down for what a new node of the pool would not share. The messages are the scheduler's FitError form
// ("0/<n> nodes are available: <count> <reason>, ... preemption: ...",
// pkg/scheduler/framework/types.go of k8s.io/kubernetes v1.37.2).
func TestNewNodeCouldHold(t *testing.T) {
	for msg, want := range map[string]bool{
		"0/6 nodes are available: 2 Insufficient cpu, 4 node(s) didn't match pod topology spread constraints. preemption: 0/6 nodes are available: 2 No preemption victims found for incoming pod, 4 Preemption is not helpful for scheduling.": true,
		"0/4 nodes are available: 4 Insufficient memory. preemption: 0/4 nodes are available: 4 No preemption victims found for incoming pod.":                                                                                                  true,
		"0/3 nodes are available: 3 Too many pods. preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod.":                                                                                                        true,
		// A lost zone under minDomains: no node in an up zone helps.
		"0/4 nodes are available: 4 node(s) didn't match pod topology spread constraints. preemption: 0/4 nodes are available: 4 Preemption is not helpful for scheduling.": false,
		// Its only node cordoned (a drain): a new node takes it.
		"0/1 nodes are available: 1 node(s) were unschedulable. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.":                        true,
		"0/3 nodes are available: 3 node(s) had untolerated taint(s). preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.":                  true,
		"0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.": false,
		"": false,
	} {
		if got := newNodeCouldHold(msg); got != want {
			t.Errorf("newNodeCouldHold(%q) = %v, want %v", msg, got, want)
		}
	}
}
