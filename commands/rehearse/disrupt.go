package rehearse

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/cirkelline/infra/capacity"

	"github.com/cirkelline/infra/internal/controlplane"
	"github.com/cirkelline/infra/scenario"
)

// evictRetry is how long `kubectl drain` waits before it asks again for
// an eviction a budget refused (429 Too Many Requests): its
// EvictErrorRetryDelay, 5 s (k8s.io/kubectl v0.37.2 pkg/cmd/drain/drain.go;
// the retry loop is evictPods in pkg/drain/drain.go, one goroutine per pod
// of the node, so all of a node's pods are asked for at once).
const evictRetry = 5 * time.Second

// TimelineEntry is one thing that happened, at T since the shape started.
type TimelineEntry struct {
	T    time.Duration
	Text string
}

// eventRecord is what the runner saw an event do.
type eventRecord struct {
	Event scenario.Event
	// PodsLost are the service's pods the event took (a lost zone's, or
	// evicted), PauseLost the headroom's, NodesLost the nodes.
	PodsLost, PauseLost, NodesLost int
	// Evictions asked for and refused (429) by a budget; LongestBlocked
	// the longest one pod's eviction was refused before it went (or until
	// the end, Blocked then true).
	Evictions, Refusals int
	LongestBlocked      time.Duration
	Blocked             bool
	// BudgetSaid is the API server's first refusal.
	BudgetSaid string
	// Done is when a drain or a rollout finished (-1 before); Replaced
	// the pods of the new template a rollout ended with.
	Done     time.Duration
	Replaced int
}

// launch is a node the autoscaler (or a drain's replacement) started.
type launch struct {
	node controlplane.Node
	due  time.Duration
	why  string
}

// disruption is the runner's state for nodes and events.
type disruption struct {
	mu       sync.Mutex
	timeline []TimelineEntry
	records  []*eventRecord
	// down are the lost zones; launches the nodes on their way.
	down     map[string]bool
	launches []launch
	seq      map[string]int
	lastJoin time.Duration
	// lastSaid is the scheduler's last message put on the timeline.
	lastSaid string
	drains   sync.WaitGroup
	began    time.Time
	// progress gets each timeline entry as it happens.
	progress io.Writer
}

// clock is the time since the shape started (0 before it starts).
func (d *disruption) clock() time.Duration {
	if d.began.IsZero() {
		return 0
	}
	return time.Since(d.began)
}

func (d *disruption) note(format string, args ...any) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.add(TimelineEntry{T: d.clock(), Text: fmt.Sprintf(format, args...)})
}

// add records an entry and prints it; d.mu is held.
func (d *disruption) add(e TimelineEntry) {
	d.timeline = append(d.timeline, e)
	if d.progress != nil {
		fmt.Fprintf(d.progress, "%6s  %s\n", fmtT(e.T), e.Text)
	}
}

// nextNode names the next node of zone.
func (r *runner) nextNode(zone string) controlplane.Node {
	r.dis.seq[zone]++
	return r.o.Pool.Node(zone, r.dis.seq[zone])
}

// fireEvents starts the events that are due.
func (r *runner) fireEvents(ctx context.Context, at time.Duration, fired []bool) error {
	for i, e := range r.o.Events {
		if fired[i] || at < e.At {
			continue
		}
		fired[i] = true
		rec := &eventRecord{Event: e, Done: -1}
		r.dis.mu.Lock()
		r.dis.records = append(r.dis.records, rec)
		r.dis.mu.Unlock()
		switch e.Kind {
		case scenario.EventZoneOutage:
			if err := r.zoneOutage(ctx, rec); err != nil {
				return fmt.Errorf("%s: %w", e, err)
			}
		case scenario.EventDrain, scenario.EventReplace:
			r.dis.drains.Add(1)
			go func() {
				defer r.dis.drains.Done()
				if err := r.drain(r.drainCtx, rec); err != nil && r.drainCtx.Err() == nil {
					r.dis.note("%s stopped: %v", e, err)
				}
			}()
		case scenario.EventRollout:
			if err := r.rollout(ctx, rec); err != nil {
				return fmt.Errorf("%s: %w", e, err)
			}
		}
	}
	return nil
}

// zoneOutage loses the zone's nodes and pods at once and keeps nodes out
// of it from now on.
func (r *runner) zoneOutage(ctx context.Context, rec *eventRecord) error {
	zone := rec.Event.Target
	r.dis.mu.Lock()
	r.dis.down[zone] = true
	r.dis.launches = slices.DeleteFunc(r.dis.launches, func(l launch) bool { return l.node.Zone == zone })
	r.dis.mu.Unlock()
	lost, err := r.cp.LoseZone(zone, "", false)
	if err != nil {
		return err
	}
	svc, pause := r.classify(lost.Pods)
	rec.PodsLost, rec.PauseLost, rec.NodesLost = svc, pause, len(lost.Nodes)
	r.dis.note("%s: zone %s lost with its %d node(s) (%s): %d pod(s) of %s and %d headroom pause pod(s) gone; no node returns there",
		rec.Event, zone, len(lost.Nodes), strings.Join(lost.Nodes, ", "), svc, r.res.Target.Deployment, pause)
	return nil
}

// componentLabel marks the headroom's pause pods (capacity.HeadroomComponent).
const componentLabel = "app.kubernetes.io/component"

// classify counts "namespace/name" pods of the service and of the headroom.
func (r *runner) classify(pods []string) (service, pause int) {
	for _, p := range pods {
		ns, name, _ := strings.Cut(p, "/")
		if ns != r.res.Target.Namespace {
			continue
		}
		switch r.known[name] {
		case roleService:
			service++
		case rolePause:
			pause++
		}
	}
	return service, pause
}

// drain drains the target's nodes one at a time, as `kubectl drain` does:
// cordon, evict every pod of the node through the eviction API (each
// refused eviction asked again after evictRetry), wait until they are
// gone, delete the node. For a drain (kubectl drain's order) the node's
// replacement is launched as its drain starts and is Ready after the node
// delay, in the same zone while it is up; for a replace it is launched
// first, and the node is drained once it is Ready (replacementFirst).
func (r *runner) drain(ctx context.Context, rec *eventRecord) error {
	var nodes corev1.NodeList
	if err := r.kc.get(ctx, "/api/v1/nodes", nil, &nodes); err != nil {
		return err
	}
	var targets []corev1.Node
	for _, n := range nodes.Items {
		if n.DeletionTimestamp == nil && !n.Spec.Unschedulable && (rec.Event.Target == scenario.DrainAll || n.Labels[corev1.LabelTopologyZone] == rec.Event.Target) {
			targets = append(targets, n)
		}
	}
	sort.Slice(targets, func(i, j int) bool { return targets[i].Name < targets[j].Name })
	prespin := rec.Event.Kind == scenario.EventReplace
	r.dis.note("%s: draining %d node(s) one at a time through the eviction API", rec.Event, len(targets))
	for _, n := range targets {
		zone := n.Labels[corev1.LabelTopologyZone]
		if prespin {
			if err := r.replacementFirst(ctx, rec, n.Name, zone); err != nil {
				return err
			}
		}
		if err := r.kc.mergePatch(ctx, "/api/v1/nodes/"+url.PathEscape(n.Name), map[string]any{"spec": map[string]any{"unschedulable": true}}, nil); err != nil {
			return fmt.Errorf("cordon %s: %w", n.Name, err)
		}
		r.dis.mu.Lock()
		// The replacement launches now, even at the pool's limit: a node
		// Karpenter disrupts is marked for deletion, and such a node counts
		// for nothing against its NodePool's limits (updateNodePoolResources
		// in pkg/controllers/state/cluster.go of kubernetes-sigs/karpenter).
		// A bare `kubectl drain` marks nothing, so there the node would
		// still count: this is Karpenter's drain, the kinder case.
		if !prespin && !r.dis.down[zone] {
			repl := r.nextNode(zone)
			r.dis.launches = append(r.dis.launches, launch{node: repl, due: r.dis.clock() + r.o.Pool.Delay, why: "replaces drained " + n.Name})
		}
		r.dis.mu.Unlock()
		var pods corev1.PodList
		if err := r.kc.get(ctx, "/api/v1/pods", url.Values{"fieldSelector": {"spec.nodeName=" + n.Name}}, &pods); err != nil {
			return err
		}
		var svc, pause int
		selector := labels.SelectorFromSet(r.res.Target.Selector)
		for _, p := range pods.Items {
			switch {
			case p.Namespace != r.res.Target.Namespace:
			case selector.Matches(labels.Set(p.Labels)):
				svc++
			case p.Labels[componentLabel] == capacity.HeadroomComponent:
				pause++
			}
		}
		r.dis.mu.Lock()
		lost := r.dis.down[zone]
		r.dis.mu.Unlock()
		replacement := fmt.Sprintf("its replacement Ready in %s", r.o.Pool.Delay)
		switch {
		case lost:
			replacement = "no replacement (its zone is lost)"
		case prespin:
			replacement = "its replacement is Ready"
		}
		r.dis.note("%s: cordoned %s (%s), evicting its %d pod(s); %s", rec.Event, n.Name, zone, len(pods.Items), replacement)
		var wg sync.WaitGroup
		for _, p := range pods.Items {
			wg.Add(1)
			go func() { defer wg.Done(); r.evict(ctx, rec, p) }()
		}
		wg.Wait()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		r.dis.mu.Lock()
		rec.PodsLost += svc
		rec.PauseLost += pause
		rec.NodesLost++
		r.dis.mu.Unlock()
		if err := r.kc.delete(ctx, "/api/v1/nodes/"+url.PathEscape(n.Name)); err != nil {
			return fmt.Errorf("delete %s: %w", n.Name, err)
		}
		r.dis.note("%s: %s drained (%d pod(s) of %s, %d pause pod(s)) and removed", rec.Event, n.Name, svc, r.res.Target.Deployment, pause)
	}
	r.dis.mu.Lock()
	rec.Done = r.dis.clock()
	r.dis.mu.Unlock()
	r.dis.note("%s: done", rec.Event)
	return nil
}

// replacementFirst launches old's replacement in zone and waits until it
// is Ready, before old is cordoned: the order of an EKS managed node
// group's update (its scale-up phase launches the new nodes and waits
// until they are Ready before the upgrade phase drains the old ones:
// "Understand each phase of node updates", Amazon EKS User Guide) and,
// nearly, of Karpenter's drift (replacements pre-spun and Ready before the
// candidate is deleted: karpenter.sh v1.14 concepts/disruption, "Control
// Flow"; Karpenter taints the candidate first, which this does not). A
// lost zone gets no replacement; old is drained then as `drain` would.
func (r *runner) replacementFirst(ctx context.Context, rec *eventRecord, old, zone string) error {
	r.dis.mu.Lock()
	if r.dis.down[zone] {
		r.dis.mu.Unlock()
		return nil
	}
	repl := r.nextNode(zone)
	r.dis.launches = append(r.dis.launches, launch{node: repl, due: r.dis.clock() + r.o.Pool.Delay, why: "replaces " + old + ", before it is drained"})
	r.dis.mu.Unlock()
	r.dis.note("%s: launched %s to replace %s; %s is drained once it is Ready (in %s)", rec.Event, repl.Name, old, old, r.o.Pool.Delay)
	for {
		var n corev1.Node
		if err := r.kc.get(ctx, "/api/v1/nodes/"+url.PathEscape(repl.Name), nil, &n); err == nil && nodeReady(&n) {
			return nil
		}
		if err := sleep(ctx, time.Second); err != nil {
			return err
		}
	}
}

// evict asks for a pod's eviction until it is granted, then waits until
// the pod is gone.
func (r *runner) evict(ctx context.Context, rec *eventRecord, p corev1.Pod) {
	path := podPath(p.Namespace, p.Name)
	body := map[string]any{"apiVersion": "policy/v1", "kind": "Eviction", "metadata": map[string]any{"name": p.Name, "namespace": p.Namespace}}
	refusedAt := time.Duration(-1)
	blocked := func(now time.Duration, still bool) {
		if refusedAt < 0 {
			return
		}
		r.dis.mu.Lock()
		rec.LongestBlocked = max(rec.LongestBlocked, now-refusedAt)
		rec.Blocked = rec.Blocked || still
		r.dis.mu.Unlock()
	}
	for {
		code, msg, err := r.kc.post(ctx, path+"/eviction", body)
		now := r.dis.clock()
		if ctx.Err() != nil {
			blocked(now, true)
			return
		}
		r.dis.mu.Lock()
		rec.Evictions++
		r.dis.mu.Unlock()
		if err == nil && (code/100 == 2 || code == 404) {
			blocked(now, false)
			break
		}
		if code == 429 {
			r.dis.mu.Lock()
			rec.Refusals++
			first := rec.BudgetSaid == ""
			if first {
				rec.BudgetSaid = msg
			}
			r.dis.mu.Unlock()
			if refusedAt < 0 {
				refusedAt = now
				r.dis.note("%s: eviction of %s refused: %s", rec.Event, p.Name, msg)
			}
		} else {
			r.dis.note("%s: eviction of %s failed (%d): %v %s", rec.Event, p.Name, code, err, msg)
		}
		if sleep(ctx, evictRetry) != nil {
			blocked(r.dis.clock(), true)
			return
		}
	}
	for ctx.Err() == nil {
		if err := r.kc.get(ctx, path, nil, &corev1.Pod{}); err != nil {
			return // gone (or the cluster is stopping)
		}
		if sleep(ctx, time.Second) != nil {
			return
		}
	}
}

// rolloutAnnotation on the pod template makes the rollout's new revision.
const rolloutAnnotation = "rehearse.cirkelline.dev/rollout"

// rollout changes the pod template, so the Deployment rolls to a new
// ReplicaSet with its strategy as rendered.
func (r *runner) rollout(ctx context.Context, rec *eventRecord) error {
	t := r.res.Target
	patch := map[string]any{"spec": map[string]any{"template": map[string]any{"metadata": map[string]any{"annotations": map[string]any{rolloutAnnotation: rec.Event.At.String()}}}}}
	if err := r.kc.mergePatch(ctx, deploymentPath(t.Namespace, t.Deployment), patch, nil); err != nil {
		return err
	}
	r.dis.note("%s: new pod template for %s (strategy %s)", rec.Event, t.Deployment, r.strategy)
	return nil
}

// rolledOut is `kubectl rollout status`'s test of a Deployment
// (pkg/polymorphichelpers/rollout_status.go of k8s.io/kubectl v0.37.2):
// the controller saw the latest template, every replica is of it, no old
// one is left, and every updated one is available.
func rolledOut(dep *appsv1.Deployment) bool {
	st := dep.Status
	return dep.Generation <= st.ObservedGeneration &&
		(dep.Spec.Replicas == nil || st.UpdatedReplicas >= *dep.Spec.Replicas) &&
		st.Replicas <= st.UpdatedReplicas && st.AvailableReplicas >= st.UpdatedReplicas
}

// rolloutProgress marks the fired rollouts done once the Deployment, read
// at at, has rolled out.
func (r *runner) rolloutProgress(at time.Duration, dep *appsv1.Deployment) {
	if !rolledOut(dep) {
		return
	}
	r.dis.mu.Lock()
	defer r.dis.mu.Unlock()
	for _, rec := range r.dis.records {
		if rec.Event.Kind == scenario.EventRollout && rec.Done < 0 {
			rec.Done, rec.Replaced = at, int(dep.Status.UpdatedReplicas)
			r.dis.add(TimelineEntry{T: at, Text: fmt.Sprintf("%s: %s rolled out, %d pod(s) of the new template available, none of the old left", rec.Event, dep.Name, rec.Replaced)})
		}
	}
}

// provision joins the launched nodes that are due and, for an autoscaled
// pool, launches nodes for the pods the scheduler could not place for
// want of room (newNodeCouldHold).
// warm launches with no delay (the cluster at rest before the shape).
func (r *runner) provision(ctx context.Context, unschedulable []corev1.Pod, nodes int, warm bool) error {
	p := r.o.Pool
	if p == nil {
		return nil
	}
	now := r.dis.clock()
	r.dis.mu.Lock()
	var due []launch
	r.dis.launches = slices.DeleteFunc(r.dis.launches, func(l launch) bool {
		if warm || l.due <= now {
			due = append(due, l)
			return true
		}
		return false
	})
	r.dis.mu.Unlock()
	for _, l := range due {
		if err := r.cp.AddNodes(l.node); err != nil {
			return err
		}
		r.dis.mu.Lock()
		r.dis.lastJoin = r.dis.clock()
		r.dis.mu.Unlock()
		if !warm {
			r.dis.note("node %s joined zone %s (%s)", l.node.Name, l.node.Zone, l.why)
		}
		nodes++
	}
	unschedulable = slices.DeleteFunc(slices.Clone(unschedulable), func(pod corev1.Pod) bool {
		msg, _ := unschedulableMessage(&pod)
		return !newNodeCouldHold(msg)
	})
	if !p.Autoscaled || len(unschedulable) == 0 {
		return nil
	}
	r.dis.mu.Lock()
	defer r.dis.mu.Unlock()
	if len(due) > 0 || (r.dis.lastJoin > 0 && now-r.dis.lastJoin < settleAfterJoin) {
		return nil
	}
	var cpu, mem int64
	for _, pod := range unschedulable {
		for _, c := range pod.Spec.Containers {
			cpu += c.Resources.Requests.Cpu().MilliValue()
			mem += c.Resources.Requests.Memory().Value()
		}
	}
	inflight := len(r.dis.launches)
	need := p.NodesFor(cpu, mem, len(unschedulable)) - inflight
	if p.Max > 0 {
		need = min(need, p.Max-nodes-inflight)
	}
	if need <= 0 {
		return nil
	}
	perZone := map[string]int{}
	var list corev1.NodeList
	if err := r.kc.get(ctx, "/api/v1/nodes", nil, &list); err != nil {
		return err
	}
	for _, n := range list.Items {
		perZone[n.Labels[corev1.LabelTopologyZone]]++
	}
	for _, l := range r.dis.launches {
		perZone[l.node.Zone]++
	}
	delay := p.Delay
	if warm {
		delay = 0
	}
	for _, z := range p.PlaceNodes(need, perZone, r.dis.down) {
		n := r.nextNode(z)
		r.dis.launches = append(r.dis.launches, launch{node: n, due: now + delay,
			why: fmt.Sprintf("%s, for %d unschedulable pod(s) (%s CPU)", p.Autoscaler, len(unschedulable), resource.NewMilliQuantity(cpu, resource.DecimalSI))})
		if !warm {
			r.dis.add(TimelineEntry{T: now, Text: fmt.Sprintf("%s launches node %s in zone %s for %d unschedulable pod(s); Ready in %s",
				p.Autoscaler, n.Name, z, len(unschedulable), delay)})
		}
	}
	return nil
}

// Preemption is a pod the scheduler preempted for another.
type Preemption struct {
	T                 time.Duration
	Victim, Preemptor string
	// Pause is true when the victim was a headroom pause pod, and
	// ForService when the preemptor was the service's pod.
	Pause, ForService bool
}

// preemptions reads the scheduler's Preempted events (reason "Preempted"
// on the victim, the preemptor as the related object:
// pkg/scheduler/framework/preemption/executor.go of k8s.io/kubernetes
// v1.37.2) in the stack's namespace.
func (r *runner) preemptions(ctx context.Context) []Preemption {
	var list eventsv1.EventList
	if err := r.kc.get(ctx, "/apis/events.k8s.io/v1/namespaces/"+url.PathEscape(r.res.Target.Namespace)+"/events", nil, &list); err != nil {
		return nil
	}
	var out []Preemption
	for _, e := range list.Items {
		if e.Reason != "Preempted" {
			continue
		}
		at := e.EventTime.Time
		if at.IsZero() {
			at = e.CreationTimestamp.Time
		}
		p := Preemption{T: at.Sub(r.dis.began), Victim: e.Regarding.Name, Pause: r.known[e.Regarding.Name] == rolePause}
		if e.Related != nil {
			p.Preemptor = e.Related.Name
			p.ForService = r.known[e.Related.Name] == roleService
		}
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].T < out[j].T })
	return out
}

// schedulerSaid puts the scheduler's message about an unschedulable pod
// on the timeline when it changes.
func (r *runner) schedulerSaid(pod, msg string) {
	r.dis.mu.Lock()
	same := msg == r.dis.lastSaid
	r.dis.lastSaid = msg
	r.dis.mu.Unlock()
	if msg != "" && !same {
		r.dis.note("scheduler: %s unschedulable: %s", pod, msg)
	}
}

// newNodeCouldHold is whether a new node of the pool could take a pod the
// scheduler left with msg: some node turned it down for something a new
// node of the pool does not share, so a node like it, where the pool may
// add one, would fit it: room (the NodeResourcesFit filter's "Insufficient
// <resource>" and "Too many pods", pkg/scheduler/framework/plugins/
// noderesources/fit.go), a cordon (NodeUnschedulable's "node(s) were
// unschedulable"), or a taint a new node does not carry (TaintToleration's
// "node(s) had untolerated taint(s)": the pool's own taint the stack's
// pods tolerate), all of k8s.io/kubernetes v1.37.2, as FitError.Error
// counts them in the message. A pod turned down everywhere only for its
// spread (a lost zone under minDomains) or an affinity gets no node: the
// Cluster Autoscaler and Karpenter both launch only when their simulation
// shows the new node taking the pod.
func newNodeCouldHold(msg string) bool {
	for _, reason := range []string{"Insufficient ", "Too many pods", "node(s) were unschedulable", "node(s) had untolerated taint"} {
		if strings.Contains(msg, reason) {
			return true
		}
	}
	return false
}

// unschedulableMessage is the pod's PodScheduled condition message when
// the scheduler could not place it ("" otherwise).
func unschedulableMessage(p *corev1.Pod) (string, bool) {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonUnschedulable {
			return c.Message, true
		}
	}
	return "", false
}
