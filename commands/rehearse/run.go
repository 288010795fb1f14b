package rehearse

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/yaml"

	"github.com/cirkelline/infra/capacity"
	"github.com/cirkelline/infra/internal/controlplane"
	"github.com/cirkelline/infra/monitoring"
	"github.com/cirkelline/infra/scenario"
)

// kwok's ClusterResourceUsage (kustomize/metrics/usage of kwok v0.8.0)
// reads each container's usage from these pod annotations; its Metric
// serves them as kubelet's /metrics/resource, which metrics-server scrapes.
const (
	annotationCPU    = "kwok.x-k8s.io/usage-cpu"
	annotationMemory = "kwok.x-k8s.io/usage-memory"
)

// Options of one rehearsal.
type Options struct {
	// Root is the repository root (for hack/controlplane/build.sh).
	Root string
	// Objects is the stack's rendered Kubernetes objects as one YAML stream
	// (`render --out -`). Jobs (the load test's runners) are not applied.
	Objects string
	// Service names the Deployment the demand goes to (the load test's
	// target service).
	Service string
	// Demand is the shape's request rate over time.
	Demand Demand
	// MaxReplicas, when set, replaces the HPA's maxReplicas (a what-if).
	MaxReplicas int32
	// Startup is how long a new pod takes to become Ready; 0 makes pods
	// Ready at once. StartupFromProbe takes it from the service's startup
	// probe: when it can first pass (initialDelaySeconds + periodSeconds),
	// 0 without one.
	Startup time.Duration
	// Cooldown is how long to watch after the shape ends; 0 stops at the
	// shape's end. CooldownAuto watches until the replicas are back at
	// minReplicas, at most the scale-down stabilization window and
	// policies' time (Target.ScaleDownBound) plus 3 minutes.
	Cooldown time.Duration
	// Tick is how often demand is written and the cluster sampled. Default 2 s.
	Tick time.Duration
	// MemoryShare, when set, is each pod's memory use as a share of its
	// request, constant (a working set that does not follow the load).
	// Default 0: no memory annotation, so kwok reports 1Mi
	// (kustomize/metrics/usage of kwok v0.8.0) and a memory target stays
	// out of the way. A share above half an 80 % memory target holds
	// replicas up: the HPA follows the larger of its metrics' proposals
	// (ceil(n × share / target) pods from memory) and each proposal stays
	// in the scale-down stabilization window.
	MemoryShare float64
	// Progress receives a line every ProgressEvery (default 10 s). Default io.Discard.
	Progress      io.Writer
	ProgressEvery time.Duration
	// KeepLogs keeps the control plane's logs.
	KeepLogs bool
	// Pool is the nodes as the stack declares them. Default nil: one
	// kwok node with room for any stack (controlplane.FakeNodeName).
	Pool *NodePool
	// Events happen at their times of the shape, in order. They need a
	// Pool.
	Events []scenario.Event
	// MinDomains, when set, puts minDomains on the service's zone spread
	// constraint (a what-if: production's spread before issue 21's fix
	// had minDomains = cluster.zones).
	MinDomains int32
	// BlockBound is the longest a budget may refuse a drain's eviction
	// before the verdict fails. Default DefaultBlockBound.
	BlockBound time.Duration
}

// DefaultBlockBound is Options.BlockBound's default: a budget that holds
// a drain this long means the pods it protects do not come back (a
// replacement node plus a pod's start-up take about a minute or three;
// see DefaultKarpenterNodeDelay).
const DefaultBlockBound = 5 * time.Minute

func (o *Options) withDefaults() {
	if o.Tick <= 0 {
		o.Tick = 2 * time.Second
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	if o.ProgressEvery <= 0 {
		o.ProgressEvery = 10 * time.Second
	}
	if o.BlockBound <= 0 {
		o.BlockBound = DefaultBlockBound
	}
}

// Result is what a rehearsal observed.
type Result struct {
	Target  Target
	Demand  Demand
	Startup time.Duration
	Samples []Sample
	Verdict Verdict
	// Events, Timeline and Preemptions are what the events did, what
	// happened (with what the scheduler said) and whom it preempted.
	Events      []scenario.Event
	Timeline    []TimelineEntry
	Preemptions []Preemption
	// Pool is the nodes rehearsed on (nil: the one big kwok node).
	Pool *NodePool
}

// ErrInterrupted is returned, with the samples so far, when the context
// ends while the shape is replayed.
var ErrInterrupted = errors.New("rehearsal interrupted")

// StartupFromProbe and CooldownAuto are the Options values that derive
// the start-up time and the cool-down from the stack.
const (
	StartupFromProbe = time.Duration(-1)
	CooldownAuto     = time.Duration(-1)
)

// Run starts the control plane, applies the objects, replays the demand
// and returns the samples and verdict. The control plane is stopped when it
// returns, also when ctx is cancelled.
func Run(ctx context.Context, o Options) (*Result, error) {
	o.withDefaults()
	docs, dep, err := objectsFor(o.Objects, o.Service, o.MinDomains)
	if err != nil {
		return nil, err
	}
	if len(o.Events) > 0 && o.Pool == nil {
		return nil, fmt.Errorf("events need the stack's nodes: declare cluster.capacity (node, overhead) in the stack file")
	}
	res := &Result{Demand: o.Demand, Startup: o.Startup, Events: o.Events, Pool: o.Pool}
	if res.Startup < 0 {
		for _, c := range dep.Spec.Template.Spec.Containers {
			if p := c.StartupProbe; p != nil {
				res.Startup = time.Duration(p.InitialDelaySeconds+max(p.PeriodSeconds, 1)) * time.Second
				break
			}
		}
		res.Startup = max(res.Startup, 0)
	}
	fmt.Fprintf(o.Progress, "starting the control plane with metrics-server (pods Ready %s after they are scheduled)\n", res.Startup)
	var nodes []controlplane.Node
	if o.Pool != nil {
		nodes = o.Pool.InitialNodes()
		fmt.Fprintf(o.Progress, "nodes: %s\n", o.Pool)
	}
	cp, err := controlplane.Start(controlplane.Options{Root: o.Root, BuildLog: o.Progress, MetricsServer: true, PodReadyDelay: res.Startup, KeepLogs: o.KeepLogs, Nodes: nodes})
	if err != nil {
		return nil, fmt.Errorf("start the control plane: %w", err)
	}
	defer cp.Stop()
	// The stack's custom resources (ServiceMonitors, a Karpenter NodePool)
	// need their CRDs; nothing in the rehearsal acts on them.
	if err := ApplyStackCRDs(cp); err != nil {
		return nil, err
	}
	if o.Pool == nil {
		if err := standInForNodePools(cp, docs); err != nil {
			return nil, err
		}
	}
	if _, err := cp.KubectlIn(strings.Join(docs, "\n---\n"), "apply", "--server-side", "--field-manager=rehearse", "-f", "-"); err != nil {
		return nil, fmt.Errorf("apply the stack: %w", err)
	}
	kc, err := newAPI(cp.Kubeconfig)
	if err != nil {
		return nil, err
	}
	r := &runner{o: o, kc: kc, cp: cp, res: res, known: map[string]podRole{},
		dis: &disruption{down: map[string]bool{}, seq: map[string]int{}, progress: o.Progress}}
	if o.Pool != nil {
		for z, n := range zonesOf(nodes) {
			r.dis.seq[z] = n
		}
	}
	if err := r.target(ctx, dep); err != nil {
		return nil, err
	}
	if err := r.warmUp(ctx); err != nil {
		return nil, err
	}
	// Drains run beside the replay and stop with it.
	drainCtx, stopDrains := context.WithCancel(ctx)
	r.drainCtx = drainCtx
	err = r.replay(ctx)
	stopDrains()
	r.dis.drains.Wait()
	res.Preemptions = r.preemptions(context.Background())
	res.Timeline = r.dis.timeline
	res.Verdict = Judge(res.Samples, o.Demand, res.Target)
	res.Verdict.Events = JudgeEvents(res, r.dis.records, o.BlockBound)
	if err != nil && ctx.Err() != nil {
		return res, fmt.Errorf("%w after %d samples: %v", ErrInterrupted, len(res.Samples), ctx.Err())
	}
	return res, err
}

// objectsFor splits the stream, leaves out Jobs and finds the Deployment.
// With minDomains > 0 the Deployment's zone spread constraint gets
// minDomains and loses nodeTaintsPolicy (the spread before issue 21's
// fix).
func objectsFor(stream, service string, minDomains int32) ([]string, *appsv1.Deployment, error) {
	var docs []string
	var dep *appsv1.Deployment
	var deployments []string
	for _, doc := range strings.Split(stream, "\n---\n") {
		var meta struct {
			Kind     string            `json:"kind"`
			Metadata metav1.ObjectMeta `json:"metadata"`
		}
		if err := yaml.Unmarshal([]byte(doc), &meta); err != nil {
			return nil, nil, fmt.Errorf("rendered objects: %w", err)
		}
		switch meta.Kind {
		case "":
			continue
		case "Job":
			continue // the load test's runners: the rehearsal replays their load instead
		case "Deployment":
			deployments = append(deployments, meta.Metadata.Name)
			if meta.Metadata.Name == service {
				dep = &appsv1.Deployment{}
				if err := yaml.Unmarshal([]byte(doc), dep); err != nil {
					return nil, nil, fmt.Errorf("Deployment %s: %w", service, err)
				}
				if minDomains > 0 {
					changed, err := withMinDomains(dep, minDomains)
					if err != nil {
						return nil, nil, err
					}
					doc = changed
				}
			}
		}
		docs = append(docs, doc)
	}
	if dep == nil {
		return nil, nil, fmt.Errorf("service %q has no Deployment in the stack (Deployments: %s): set loadtest.target.service to one of them", service, strings.Join(deployments, ", "))
	}
	return docs, dep, nil
}

// withMinDomains sets minDomains on the zone spread constraint (and drops
// nodeTaintsPolicy), returning the Deployment as JSON.
func withMinDomains(dep *appsv1.Deployment, minDomains int32) (string, error) {
	found := false
	for i, c := range dep.Spec.Template.Spec.TopologySpreadConstraints {
		if c.TopologyKey == corev1.LabelTopologyZone {
			if c.WhenUnsatisfiable != corev1.DoNotSchedule {
				return "", fmt.Errorf("--min-domains %d: the zone spread of %s is %s; minDomains needs DoNotSchedule (declare cluster.zones >= 2)", minDomains, dep.Name, c.WhenUnsatisfiable)
			}
			c.MinDomains, c.NodeTaintsPolicy = &minDomains, nil
			dep.Spec.Template.Spec.TopologySpreadConstraints[i] = c
			found = true
		}
	}
	if !found {
		return "", fmt.Errorf("--min-domains %d: %s has no zone spread constraint (declare cluster.zones >= 2)", minDomains, dep.Name)
	}
	b, err := json.Marshal(dep)
	return string(b), err
}

// podRole is what a pod of the stack's namespace is to the rehearsal.
type podRole int

const (
	roleOther podRole = iota
	roleService
	rolePause
)

// nodePoolTemplates is what the rendered Karpenter NodePools give their
// nodes (capacity.ReadPoolNodes): the labels and taints. The stack's pods
// select their pool and tolerate its taint; nodes standing in for the
// pool's must carry both.
func nodePoolTemplates(docs []string) (labels map[string]string, taints []corev1.Taint, err error) {
	for _, doc := range docs {
		pool, ok, err := capacity.ReadPoolNodes([]byte(doc))
		if err != nil {
			return nil, nil, err
		}
		if !ok {
			continue
		}
		if labels == nil {
			labels = map[string]string{}
		}
		maps.Copy(labels, pool.Labels)
		taints = append(taints, pool.Taints...)
	}
	return labels, taints, nil
}

// standInForNodePools makes the one fake node (a rehearsal without the
// stack's nodes) one of the rendered NodePools' nodes.
func standInForNodePools(cp *controlplane.Cluster, docs []string) error {
	labels, taints, err := nodePoolTemplates(docs)
	if err != nil {
		return err
	}
	if len(labels) > 0 {
		args := []string{"label", "node", controlplane.FakeNodeName, "--overwrite"}
		for k, v := range labels {
			args = append(args, k+"="+v)
		}
		if out, err := cp.Kubectl(args...); err != nil {
			return fmt.Errorf("label the fake node as a NodePool's: %w\n%s", err, out)
		}
	}
	for _, t := range taints {
		if out, err := cp.Kubectl("taint", "node", controlplane.FakeNodeName, "--overwrite", fmt.Sprintf("%s=%s:%s", t.Key, t.Value, t.Effect)); err != nil {
			return fmt.Errorf("taint the fake node as a NodePool's: %w\n%s", err, out)
		}
	}
	return nil
}

type runner struct {
	o   Options
	kc  *api
	cp  *controlplane.Cluster
	res *Result
	// written is the CPU annotation last written per pod.
	written map[string]string
	// known is every pod of the namespace seen, by name.
	known map[string]podRole
	// pdb is the service's PodDisruptionBudget ("" without one);
	// strategy its Deployment's rolling update, for the timeline.
	pdb, strategy string
	dis           *disruption
	// drainCtx ends the drains when the replay ends.
	drainCtx context.Context
}

// target reads the stored Deployment and HPA (with the API's defaults) and
// applies the maxReplicas what-if.
func (r *runner) target(ctx context.Context, rendered *appsv1.Deployment) error {
	ns := rendered.Namespace
	var hpas autoscalingv2.HorizontalPodAutoscalerList
	if err := r.kc.get(ctx, hpaPath(ns, ""), nil, &hpas); err != nil {
		return err
	}
	var hpa *autoscalingv2.HorizontalPodAutoscaler
	for i := range hpas.Items {
		if ref := hpas.Items[i].Spec.ScaleTargetRef; ref.Kind == "Deployment" && ref.Name == rendered.Name {
			hpa = &hpas.Items[i]
		}
	}
	if hpa == nil {
		return fmt.Errorf("service %q has no HPA in the stack: give services[].hpa a maxReplicas above minReplicas to rehearse it", rendered.Name)
	}
	if r.o.MaxReplicas > 0 {
		patch := fmt.Sprintf(`{"spec":{"maxReplicas":%d}}`, r.o.MaxReplicas)
		if err := r.kc.mergePatch(ctx, hpaPath(ns, hpa.Name), json.RawMessage(patch), hpa); err != nil {
			return fmt.Errorf("--max-replicas %d: %w", r.o.MaxReplicas, err)
		}
	}
	var dep appsv1.Deployment
	if err := r.kc.get(ctx, deploymentPath(ns, rendered.Name), nil, &dep); err != nil {
		return err
	}
	if ru := dep.Spec.Strategy.RollingUpdate; ru != nil {
		r.strategy = fmt.Sprintf("RollingUpdate, maxSurge %s, maxUnavailable %s", ru.MaxSurge, ru.MaxUnavailable)
	} else {
		r.strategy = string(dep.Spec.Strategy.Type)
	}
	var pdbs policyv1.PodDisruptionBudgetList
	if err := r.kc.get(ctx, "/apis/policy/v1/namespaces/"+url.PathEscape(ns)+"/poddisruptionbudgets", nil, &pdbs); err != nil {
		return err
	}
	for _, b := range pdbs.Items {
		sel, err := metav1.LabelSelectorAsSelector(b.Spec.Selector)
		if err == nil && !sel.Empty() && sel.Matches(labels.Set(dep.Spec.Template.Labels)) {
			r.pdb = b.Name
		}
	}
	var err error
	r.res.Target, err = NewTarget(&dep, hpa)
	return err
}

// warmUp gives the pods their idle usage and waits until the HPA reads
// metrics and the Deployment runs minReplicas ready pods.
func (r *runner) warmUp(ctx context.Context) error {
	t := r.res.Target
	fmt.Fprintf(r.o.Progress, "applied; waiting for the HPA %s to read metrics through metrics-server\n", t.HPA)
	deadline := time.Now().Add(4 * time.Minute)
	for {
		s, err := r.step(ctx, 0)
		if err != nil {
			return err
		}
		if s.HPAUtilization >= 0 && s.Ready >= t.MinReplicas && s.Desired == s.Ready && s.unschedulableAll == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			hpa, _ := r.cp.Kubectl("describe", "hpa", t.HPA, "-n", t.Namespace)
			log, _ := os.ReadFile(filepath.Join(r.cp.Dir, "metrics-server.log"))
			if len(log) > 1500 {
				log = log[len(log)-1500:]
			}
			return fmt.Errorf("the HPA read no CPU metrics within 4 minutes (ready %d of minReplicas %d):\n%s\nmetrics-server log:\n%s", s.Ready, t.MinReplicas, hpa, log)
		}
		if err := sleep(ctx, r.o.Tick); err != nil {
			return err
		}
	}
}

// replay runs the shape, then the cool-down.
func (r *runner) replay(ctx context.Context) error {
	d, t := r.o.Demand, r.res.Target
	end := d.Duration()
	limit := end + r.o.Cooldown
	untilMin := r.o.Cooldown < 0
	if untilMin {
		limit = end + t.ScaleDownBound(max(min(d.PodsNeeded(d.PeakRPS()), t.MaxReplicas), t.MinReplicas)) + 3*time.Minute
	}
	fmt.Fprintf(r.o.Progress, "replaying %s: %s of shape, then up to %s of cool-down\n", d.Shape.Name, end, (limit - end).Round(time.Second))
	r.dis.mu.Lock()
	r.dis.began = time.Now()
	r.dis.mu.Unlock()
	var lastProgress time.Duration = -time.Hour
	fired := make([]bool, len(r.o.Events))
	for {
		now := r.dis.clock()
		if err := r.fireEvents(ctx, now, fired); err != nil {
			return err
		}
		s, err := r.step(ctx, now)
		if err != nil {
			return err
		}
		r.res.Samples = append(r.res.Samples, s)
		if now-lastProgress >= r.o.ProgressEvery {
			lastProgress = now
			hpa := "-"
			if s.HPAUtilization >= 0 {
				hpa = fmt.Sprintf("%.0f%%", s.HPAUtilization)
			}
			fmt.Fprintf(r.o.Progress, "%6s/%s  %5.0f VUs %6.0f req/s needs %3d pods | HPA desired %3d, pods %3d, ready %3d, pending %3d | CPU %4.0f%% of request (HPA sees %s) | %d nodes\n",
				now.Round(time.Second), end, s.VUs, s.DemandRPS, s.Needed, s.Desired, s.Current, s.Ready, s.Pending, s.PodUtilization, hpa, s.Nodes)
		}
		if finished(now, end, limit, untilMin, s, t) && allFired(fired) {
			return nil
		}
		if err := r.cp.Alive(); err != nil {
			return err
		}
		if err := sleep(ctx, r.o.Tick); err != nil {
			return err
		}
	}
}

// finished tells the replay loop to stop: at the cool-down's limit, or,
// watching until minReplicas, once the shape is over and the HPA, the
// Deployment and the ready pods are all back at minReplicas.
func finished(now, end, limit time.Duration, untilMin bool, s Sample, t Target) bool {
	if now >= limit {
		return true
	}
	return untilMin && now >= end && s.Ready == t.MinReplicas && s.Current == t.MinReplicas && s.Desired == t.MinReplicas
}

// step writes the demand at time at onto the ready pods and samples.
func (r *runner) step(ctx context.Context, at time.Duration) (Sample, error) {
	d, t := r.o.Demand, r.res.Target
	ns := t.Namespace
	var nsPods corev1.PodList
	if err := r.kc.get(ctx, podPath(ns, ""), nil, &nsPods); err != nil {
		return Sample{}, fmt.Errorf("list pods: %w", err)
	}
	s := Sample{T: at, VUs: d.VUs(at), HPAUtilization: -1, PDBHealthy: -1, PDBDesired: -1}
	selector := labels.SelectorFromSet(t.Selector)
	var pods corev1.PodList
	var unschedulable []corev1.Pod
	for _, p := range nsPods.Items {
		switch {
		case selector.Matches(labels.Set(p.Labels)):
			r.known[p.Name] = roleService
			pods.Items = append(pods.Items, p)
		case p.Labels[componentLabel] == capacity.HeadroomComponent:
			r.known[p.Name] = rolePause
			if p.DeletionTimestamp == nil {
				s.PauseTotal++
				if podReady(&p) {
					s.PauseRunning++
				}
			}
		}
		if p.DeletionTimestamp != nil {
			continue
		}
		if msg, ok := unschedulableMessage(&p); ok {
			unschedulable = append(unschedulable, p)
			if r.known[p.Name] == roleService {
				s.Unschedulable++
				if s.SchedulerSaid == "" {
					s.SchedulerSaid = msg
					r.schedulerSaid(p.Name, msg)
				}
			}
		}
	}
	s.unschedulableAll = len(unschedulable)
	if s.Unschedulable == 0 {
		r.schedulerSaid("", "")
	}
	var nodes corev1.NodeList
	if err := r.kc.get(ctx, "/api/v1/nodes", nil, &nodes); err != nil {
		return s, fmt.Errorf("list nodes: %w", err)
	}
	for _, n := range nodes.Items {
		if n.DeletionTimestamp == nil && !n.Spec.Unschedulable && nodeReady(&n) {
			s.Nodes++
		}
	}
	if err := r.provision(ctx, unschedulable, len(nodes.Items), at == 0 && r.dis.began.IsZero()); err != nil {
		return s, fmt.Errorf("nodes: %w", err)
	}
	if at >= d.Duration() {
		s.VUs = 0
	}
	s.DemandRPS = s.VUs * d.PerVURPS
	s.Needed = d.PodsNeeded(s.DemandRPS)
	var ready []string
	var all []string
	for _, p := range pods.Items {
		if p.DeletionTimestamp != nil {
			continue
		}
		all = append(all, p.Name)
		if podReady(&p) {
			ready = append(ready, p.Name)
		} else if p.Status.Phase == corev1.PodPending {
			s.Pending++
		}
	}
	s.Ready = int32(len(ready))
	s.CapacityRPS = float64(s.Ready) * d.PerPodRPS
	s.PodCPUMilli = t.PodCPUMilli(s.DemandRPS, s.Ready, d.PerPodRPS)
	s.PodUtilization = s.PodCPUMilli / float64(t.CPURequestMilli) * 100
	if r.written == nil {
		r.written = map[string]string{}
	}
	annotations := func(cpu string) map[string]string {
		a := map[string]string{annotationCPU: cpu}
		if r.o.MemoryShare > 0 {
			a[annotationMemory] = fmt.Sprintf("%dMi", max(int64(float64(t.MemoryRequestBytes)*r.o.MemoryShare/float64(max(t.Containers, 1)))>>20, 1))
		}
		return a
	}
	isReady := map[string]bool{}
	for _, n := range ready {
		isReady[n] = true
	}
	for _, name := range all {
		// A pod that is not Ready yet idles; the HPA leaves it out anyway
		// (groupPods in pkg/controller/podautoscaler/replica_calculator.go).
		cpu := "1m"
		if isReady[name] {
			cpu = fmt.Sprintf("%dm", max(int64(s.PodCPUMilli/float64(max(t.Containers, 1))+0.5), 1))
		}
		if r.written[name] == cpu {
			continue
		}
		patch := map[string]any{"metadata": map[string]any{"annotations": annotations(cpu)}}
		if err := r.kc.mergePatch(ctx, podPath(ns, name), patch, nil); err != nil {
			if ctx.Err() != nil {
				return s, ctx.Err()
			}
			continue // the pod went away between list and patch
		}
		r.written[name] = cpu
	}
	var hpa autoscalingv2.HorizontalPodAutoscaler
	if err := r.kc.get(ctx, hpaPath(ns, t.HPA), nil, &hpa); err != nil {
		return s, fmt.Errorf("read HPA: %w", err)
	}
	s.Desired = hpa.Status.DesiredReplicas
	for _, m := range hpa.Status.CurrentMetrics {
		if m.Type == autoscalingv2.ResourceMetricSourceType && m.Resource != nil && m.Resource.Name == corev1.ResourceCPU && m.Resource.Current.AverageUtilization != nil {
			s.HPAUtilization = float64(*m.Resource.Current.AverageUtilization)
		}
	}
	var dep appsv1.Deployment
	if err := r.kc.get(ctx, deploymentPath(ns, t.Deployment), nil, &dep); err != nil {
		return s, fmt.Errorf("read Deployment: %w", err)
	}
	s.Current = dep.Status.Replicas
	r.rolloutProgress(s.T, &dep)
	if r.pdb != "" {
		var pdb policyv1.PodDisruptionBudget
		if err := r.kc.get(ctx, "/apis/policy/v1/namespaces/"+url.PathEscape(ns)+"/poddisruptionbudgets/"+url.PathEscape(r.pdb), nil, &pdb); err != nil {
			return s, fmt.Errorf("read PodDisruptionBudget: %w", err)
		}
		s.PDBHealthy, s.PDBDesired = pdb.Status.CurrentHealthy, pdb.Status.DesiredHealthy
	}
	return s, nil
}

func allFired(fired []bool) bool {
	return !slices.Contains(fired, false)
}

func nodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func podReady(p *corev1.Pod) bool {
	if p.Status.Phase != corev1.PodRunning {
		return false
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

func podPath(ns, name string) string {
	return strings.TrimSuffix("/api/v1/namespaces/"+url.PathEscape(ns)+"/pods/"+url.PathEscape(name), "/")
}

func deploymentPath(ns, name string) string {
	return "/apis/apps/v1/namespaces/" + url.PathEscape(ns) + "/deployments/" + url.PathEscape(name)
}

func hpaPath(ns, name string) string {
	return strings.TrimSuffix("/apis/autoscaling/v2/namespaces/"+url.PathEscape(ns)+"/horizontalpodautoscalers/"+url.PathEscape(name), "/")
}

// ApplyStackCRDs applies the CRDs of every custom resource a stack may
// render (prometheus-operator's, Karpenter's) to a control plane, so an
// API server accepts the stack; the rehearsal, the integration tests and
// the engine tests all start from it.
func ApplyStackCRDs(cp *controlplane.Cluster) error {
	for _, crds := range []fs.FS{monitoring.CRDs, capacity.CRDs} {
		if err := cp.ApplyCRDs(crds, "crds/*.yaml"); err != nil {
			return err
		}
	}
	return nil
}
