package commands

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/cirkelline/infra/capacity"
	"github.com/cirkelline/infra/commands/rehearse"
	"github.com/cirkelline/infra/commands/render"
	"github.com/cirkelline/infra/internal/stackfile"
	"github.com/cirkelline/infra/internal/validate"
	"github.com/cirkelline/infra/loadtest"
	"github.com/cirkelline/infra/scenario"
	"github.com/cirkelline/infra/stacks"
)

// ErrNotCarried is returned when a rehearsal's verdict is not OK.
var ErrNotCarried = errors.New("the rehearsal's verdict is not OK")

const rehearseUsage = `  go run . rehearse --stack NAME [--shape SHAPE] [--stages 10s:100,1m:100,...]
                    [--event zone-outage:ZONE@T | drain:ZONE|all@T | replace:ZONE|all@T | rollout@T ...]
                    [--node-delay D] [--nodes-at-rest N] [--min-domains N] [--block-bound D]
       go run . rehearse --stack NAME --scenario SCENARIO [--node-delay D] ...
                    [--max-replicas N] [--startup D] [--cooldown D] [--memory-share F] [--out DIR]
      Replay a load-test shape through the real HPA controller, scheduler and
      controllers on a local control plane (kube-apiserver, controller manager,
      scheduler, kwok, metrics-server; hack/controlplane builds them), on kwok
      nodes as the stack declares them (cluster.capacity, cluster.zones), with
      events on the timeline, and write DIR/rehearsal.csv, .png, .svg,
      verdict.txt, verdict.json and timeline.txt (default DIR
      rendered/rehearsal/NAME-SCENARIO; the scenario is the shape and the events).
      --scenario rehearses one of the stack file's named bad days
      (rehearsal.scenarios: its shape, stages, events and node delay) into
      rendered/rehearsal/NAME-SCENARIO; beside --shape, --stages or --event
      it names the command line's own scenario instead.
      Exits non-zero unless the verdict is OK. Takes the shape's real time;
      Ctrl-C stops it and still writes what was observed.
`

// rehearseFlags are the command's settings, parsed.
type rehearseFlags struct {
	stack, shape, stages, out, dir string
	maxReplicas                    int
	startup, cooldown              string
	memoryShare                    float64
	keepLogs                       bool
	events                         []string
	nodeDelay, blockBound          string
	minDomains, nodesAtRest        int
	scenario                       string
}

// eventFlags collects the repeatable --event.
type eventFlags []string

func (e *eventFlags) String() string     { return strings.Join(*e, ",") }
func (e *eventFlags) Set(v string) error { *e = append(*e, v); return nil }

func rehearseCommand(args []string, program render.Program, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("rehearse", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, rehearseUsage) }
	var f rehearseFlags
	fs.StringVar(&f.stack, "stack", "", "stack to rehearse (a Pulumi.<stack>.yaml must exist)")
	fs.StringVar(&f.shape, "shape", "", "load-test shape (default: the stack's loadtest.shape)")
	fs.StringVar(&f.stages, "stages", "", "stages replacing the shape's, DURATION:TARGET comma-separated (e.g. 10s:50,2m:50,10s:0)")
	fs.IntVar(&f.maxReplicas, "max-replicas", 0, "replace the HPA's maxReplicas (a what-if)")
	fs.StringVar(&f.startup, "startup", "probe", "time a new pod takes to become Ready (default: when its startup probe can first pass)")
	fs.StringVar(&f.cooldown, "cooldown", "auto", "time to watch after the shape (auto: until back at minReplicas, bounded by the scale-down policies)")
	fs.StringVar(&f.out, "out", "", "output directory (default rendered/rehearsal/<stack>-<shape>)")
	fs.StringVar(&f.dir, "dir", ".", "project directory (holds Pulumi.yaml)")
	fs.Float64Var(&f.memoryShare, "memory-share", 0, "each pod's constant memory use as a share of its request (default: none, so a memory target stays out of the way)")
	fs.BoolVar(&f.keepLogs, "keep-logs", false, "keep the control plane's logs")
	fs.Var((*eventFlags)(&f.events), "event", "an event on the shape's timeline (repeatable): zone-outage:<zone>@<time>, drain:<zone|all>@<time>, replace:<zone|all>@<time>, rollout@<time>")
	fs.StringVar(&f.nodeDelay, "node-delay", "auto", "a new node's time to Ready (auto: 60s with Karpenter, 3m with a node group; see rehearse.DefaultKarpenterNodeDelay)")
	fs.IntVar(&f.nodesAtRest, "nodes-at-rest", 0, "the fewest nodes an autoscaled pool keeps, a node group's minimum size (a what-if; default one per zone)")
	fs.IntVar(&f.minDomains, "min-domains", 0, "set minDomains on the service's zone spread (a what-if: production's spread before issue 21 had minDomains 3)")
	fs.StringVar(&f.blockBound, "block-bound", rehearse.DefaultBlockBound.String(), "the longest a budget may hold a drain's eviction before the verdict fails")
	fs.StringVar(&f.scenario, "scenario", "", "rehearse the stack file's named scenario (rehearsal.scenarios), or name the one --shape, --stages and --event write")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("rehearse: unexpected arguments %v", fs.Args())
	}
	if f.stack == "" {
		names, _ := stackfile.Stacks(f.dir)
		return fmt.Errorf("rehearse: --stack is required (stacks here: %v)", names)
	}
	opts, cfg, err := rehearseOptions(f, program)
	if err != nil {
		return err
	}
	shape := opts.Demand.Shape
	name := f.scenario
	if name == "" {
		name = string(cfg.LoadTest.Shape)
		if f.stages != "" {
			name += "-custom"
		}
		for _, e := range opts.Events {
			name += "-" + e.Slug()
		}
	}
	if f.minDomains > 0 {
		name += fmt.Sprintf("-min-domains-%d", f.minDomains)
	}
	if f.nodesAtRest > 0 {
		name += fmt.Sprintf("-nodes-at-rest-%d", f.nodesAtRest)
	}
	out := f.out
	if out == "" {
		out = filepath.Join(f.dir, "rendered", "rehearsal", cfg.Stack+"-"+name)
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "rehearsing %s of stack %s on %s: %d VUs at most, %s, %.0f req/s at the peak\n",
		name, cfg.Stack, opts.Service, shape.MaxVUs(), shape.TotalDuration(), opts.Demand.PeakRPS())
	about := ""
	if sc, ok := scenario.Find(cfg.Rehearsal.Scenarios, f.scenario); ok && sc.Description != "" {
		about = sc.Description + "\n"
		fmt.Fprint(stdout, about)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	opts.Progress = stderr
	began := time.Now()
	res, runErr := rehearse.Run(ctx, opts)
	if runErr != nil && (res == nil || !errors.Is(runErr, rehearse.ErrInterrupted) || len(res.Samples) == 0) {
		return fmt.Errorf("rehearse %s: %w", cfg.Stack, runErr)
	}
	// Interrupted (Ctrl-C): what was observed is still written and judged.
	csvPath := filepath.Join(out, "rehearsal.csv")
	fcsv, err := os.Create(csvPath)
	if err != nil {
		return err
	}
	if err := rehearse.WriteCSV(fcsv, res.Samples); err != nil {
		fcsv.Close()
		return err
	}
	if err := fcsv.Close(); err != nil {
		return err
	}
	title := fmt.Sprintf("%s: %s shape on %s (HPA %d–%d, CPU target %d %%, pods ready %s after scheduling)",
		cfg.Stack, name, opts.Service, res.Target.MinReplicas, res.Target.MaxReplicas, res.Target.CPUTargetPercent, res.Startup)
	files, err := rehearse.Plot(out, "rehearsal", title, res)
	if err != nil {
		return err
	}
	timelinePath := filepath.Join(out, "timeline.txt")
	ftl, err := os.Create(timelinePath)
	if err != nil {
		return err
	}
	if err := rehearse.WriteTimeline(ftl, res); err != nil {
		ftl.Close()
		return err
	}
	if err := ftl.Close(); err != nil {
		return err
	}
	files = append(files, timelinePath)
	table := res.Verdict.Table()
	if err := os.WriteFile(filepath.Join(out, "verdict.txt"), []byte(title+"\n"+about+table), 0o644); err != nil {
		return err
	}
	verdictJSON, err := json.MarshalIndent(res.Verdict, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(out, "verdict.json"), append(verdictJSON, '\n'), 0o644); err != nil {
		return err
	}
	for _, file := range append([]string{csvPath}, append(files, filepath.Join(out, "verdict.txt"), filepath.Join(out, "verdict.json"))...) {
		fmt.Fprintln(stdout, "wrote", file)
	}
	fmt.Fprintf(stdout, "\n%s (rehearsed in %s)\n%s", title, time.Since(began).Round(time.Second), table)
	if runErr != nil {
		return fmt.Errorf("rehearse %s: %w", cfg.Stack, runErr)
	}
	if !res.Verdict.OK() {
		return fmt.Errorf("%w: %s", ErrNotCarried, res.Verdict.Summary())
	}
	return nil
}

// rehearseOptions loads the stack, resolves the shape and renders the
// objects the rehearsal applies.
func rehearseOptions(f rehearseFlags, program render.Program) (rehearse.Options, *stacks.Config, error) {
	o := rehearse.Options{Root: f.dir, MaxReplicas: int32(f.maxReplicas), MemoryShare: f.memoryShare, KeepLogs: f.keepLogs, MinDomains: int32(f.minDomains)}
	sc, err := stackfile.LoadStackConfig(f.dir, f.stack)
	if err != nil {
		return o, nil, err
	}
	var missing []string
	cfg, err := stacks.Load(stacks.MapSource{Values: sc.Values, Secrets: sc.SecretKeys}, sc.Project, sc.Stack, stacks.OfflineSecrets(&missing))
	if err != nil {
		return o, nil, err
	}
	var errs validate.Errors
	applyScenario(&errs, &f, cfg)
	if f.shape != "" {
		if _, ok := loadtest.Shapes[loadtest.ShapeName(f.shape)]; !ok {
			names := make([]string, 0, len(loadtest.Shapes))
			for _, n := range loadtest.ShapeNames() {
				names = append(names, string(n))
			}
			errs.Add("--shape", f.shape, "is not a known shape", "use one of: "+strings.Join(names, ", "))
		}
		cfg.LoadTest.Shape, cfg.LoadTest.Stages = loadtest.ShapeName(f.shape), nil
	}
	if f.stages != "" {
		stages, err := parseStages(f.stages)
		if err != nil {
			errs.Add("--stages", f.stages, err.Error(), "write DURATION:TARGET pairs, e.g. 10s:50,2m:50,10s:0")
		} else {
			cfg.LoadTest.Stages = stages
			loadtest.ValidateStages(&errs, "--stages", stages)
		}
	}
	if f.memoryShare < 0 || f.memoryShare > 1 {
		errs.Add("--memory-share", f.memoryShare, "must be a share of the memory request in [0, 1]", "use e.g. 0.3 for a working set at 30 % of the request; above half the HPA's memory target it holds replicas up")
	}
	if f.maxReplicas < 0 {
		errs.Add("--max-replicas", f.maxReplicas, "must be positive", "leave it out to keep the stack's maxReplicas")
	}
	o.Startup = rehearse.StartupFromProbe
	if f.startup != "probe" {
		if o.Startup, err = time.ParseDuration(f.startup); err != nil || o.Startup < 0 {
			errs.Add("--startup", f.startup, "is not a duration of 0 or more", `use e.g. 30s, or "probe" for the startup probe's first pass`)
		}
	}
	o.Cooldown = rehearse.CooldownAuto
	if f.cooldown != "auto" {
		if o.Cooldown, err = time.ParseDuration(f.cooldown); err != nil || o.Cooldown < 0 {
			errs.Add("--cooldown", f.cooldown, "is not a duration of 0 or more", `use e.g. 5m, 0s to stop at the shape's end, or "auto"`)
		}
	}
	for _, ev := range f.events {
		e, err := scenario.ParseEvent(ev)
		if err != nil {
			errs.Add("--event", ev, err.Error(), "write "+scenario.EventSyntax)
			continue
		}
		o.Events = append(o.Events, e)
	}
	if f.nodesAtRest < 0 {
		errs.Add("--nodes-at-rest", f.nodesAtRest, "must not be negative", "leave it out for one node per zone")
	}
	if f.minDomains < 0 || f.minDomains > stacks.MaxZones {
		errs.Add("--min-domains", f.minDomains, fmt.Sprintf("must be between 0 and %d", stacks.MaxZones), "leave it out to keep the rendered spread")
	}
	var nodeDelay time.Duration = -1
	if f.nodeDelay != "auto" {
		if nodeDelay, err = time.ParseDuration(f.nodeDelay); err != nil || nodeDelay < 0 {
			errs.Add("--node-delay", f.nodeDelay, "is not a duration of 0 or more", `use e.g. 90s, or "auto"`)
		}
	}
	if o.BlockBound, err = time.ParseDuration(f.blockBound); err != nil || o.BlockBound <= 0 {
		errs.Add("--block-bound", f.blockBound, "is not a positive duration", "use e.g. 5m")
	}
	svc, _, ok := cfg.LoadTestTargetService()
	if !ok {
		errs.Add("loadtest.target", cfg.LoadTest.Target, "is not a service of the stack", "the rehearsal drives a service's HPA: set loadtest.target.service to one of: "+strings.Join(cfg.ServiceNames(), ", "))
	}
	if err := errs.Err(); err != nil {
		return o, cfg, err
	}
	o.Service = svc.Name
	if o.Demand, err = rehearse.NewDemand(cfg.LoadTest.Config); err != nil {
		return o, cfg, err
	}
	res, err := render.Stack(render.Options{Dir: f.dir, Stack: f.stack}, program)
	if err != nil {
		return o, cfg, err
	}
	var docs []string
	for _, obj := range res.Objects {
		if !obj.Cloud {
			docs = append(docs, string(obj.Body))
		}
	}
	o.Objects = strings.Join(docs, "\n---\n")
	if o.Pool, err = nodePool(cfg, o.Objects, nodeDelay); err != nil {
		return o, cfg, err
	}
	setNodesAtRest(&errs, o.Pool, f.nodesAtRest)
	if len(o.Events) > 0 {
		if o.Pool == nil {
			errs.Add("--event", f.events, "needs the stack's nodes", "declare cluster.capacity.node and .overhead in the stack file")
		} else {
			scenario.ValidateEvents(&errs, "--event", o.Events, o.Pool.Zones, o.Demand.Duration())
		}
	}
	return o, cfg, errs.Err()
}

// applyScenario puts the stack file's scenario named by --scenario in
// place of the flags it stands for: the shape and stages (into the
// stack's load-test config), the events, and the node delay unless
// --node-delay sets one. A name the stack file does not declare names a
// scenario written on the command line (--shape, --stages, --event).
func applyScenario(errs *validate.Errors, f *rehearseFlags, cfg *stacks.Config) {
	if f.scenario == "" {
		return
	}
	sc, ok := scenario.Find(cfg.Rehearsal.Scenarios, f.scenario)
	onCommandLine := f.shape != "" || f.stages != "" || len(f.events) > 0
	switch {
	case !ok && onCommandLine:
		// The command line's own scenario, named for its report.
	case !ok && len(cfg.Rehearsal.Scenarios) == 0:
		errs.Add("--scenario", f.scenario, "is not a scenario of stack "+cfg.Stack+", which declares none", "declare it under rehearsal.scenarios in Pulumi."+cfg.Stack+".yaml, or rehearse with --shape, --stages and --event")
	case !ok:
		errs.Add("--scenario", f.scenario, "is not a scenario of stack "+cfg.Stack, "use one of: "+strings.Join(scenario.Names(cfg.Rehearsal.Scenarios), ", "))
	case onCommandLine:
		errs.Add("--scenario", f.scenario, "is the stack file's, which declares its own shape, stages and events", "leave out --shape, --stages and --event, or give the command line's scenario another name")
	default:
		cfg.LoadTest.Config = sc.Load(cfg.LoadTest.Config)
		f.events = nil
		for _, e := range sc.Events {
			f.events = append(f.events, e.String())
		}
		if f.nodeDelay == "auto" && sc.NodeDelay > 0 {
			f.nodeDelay = time.Duration(sc.NodeDelay).String()
		}
	}
}

// nodePool is the stack's nodes for the rehearsal (nil when the stack
// declares no node shape: one big kwok node then): cluster.capacity's node
// less its overhead, spread over cluster.zones, named as the region names
// them; autoscaled by Karpenter (cluster.karpenter, its NodePool's CPU
// limit over one node's CPU the most nodes) or by the Cluster Autoscaler
// (cluster.capacity.autoscaled, or a headroom, which exists for it;
// cluster.capacity.nodes the most). delay < 0 takes the autoscaler's
// default.
func nodePool(cfg *stacks.Config, objects string, delay time.Duration) (*rehearse.NodePool, error) {
	c := cfg.Cluster.Capacity
	if c.Node.CPU == "" || c.Node.Memory == "" {
		return nil, nil
	}
	q := func(path string, v stacks.Quantity) (resource.Quantity, error) {
		if v == "" {
			return resource.Quantity{}, nil
		}
		r, err := resource.ParseQuantity(string(v))
		if err != nil {
			return r, fmt.Errorf("%s %q: %w", path, v, err)
		}
		return r, nil
	}
	var err error
	p := &rehearse.NodePool{Pods: c.Node.Pods - c.Overhead.Pods, Nodes: c.Nodes, Max: c.Nodes, Region: cfg.Region()}
	if c.Node.Pods == 0 {
		p.Pods = capacity.DefaultNodePods - c.Overhead.Pods
	}
	var cpu, mem, ocpu, omem resource.Quantity
	if cpu, err = q("cluster.capacity.node.cpu", c.Node.CPU); err != nil {
		return nil, err
	}
	if mem, err = q("cluster.capacity.node.memory", c.Node.Memory); err != nil {
		return nil, err
	}
	if ocpu, err = q("cluster.capacity.overhead.cpu", c.Overhead.CPU); err != nil {
		return nil, err
	}
	if omem, err = q("cluster.capacity.overhead.memory", c.Overhead.Memory); err != nil {
		return nil, err
	}
	cpu.Sub(ocpu)
	mem.Sub(omem)
	p.CPU, p.Memory = cpu, mem
	p.Zones = cfg.RehearsalNodes().Zones
	zones := len(p.Zones)
	// The stack's nodes, new ones included, are its NodePool's: its
	// labels and taints (the stack's pods select the pool and tolerate
	// its taint).
	pool, hasPool, err := renderedNodePool(objects)
	if err != nil {
		return nil, err
	}
	p.Labels, p.Taints = pool.Labels, pool.Taints
	switch {
	case cfg.Cluster.Karpenter.Enabled:
		p.Autoscaled, p.Autoscaler = true, "Karpenter"
		p.Delay = rehearse.DefaultKarpenterNodeDelay
		if limit, ok := pool.Limits[corev1.ResourceCPU]; hasPool && ok && p.Max == 0 {
			nodeCPU, _ := q("", c.Node.CPU)
			p.Max = int(limit.MilliValue() / max(nodeCPU.MilliValue(), 1))
		}
	case c.Autoscaled || cfg.Cluster.Headroom.Enabled:
		p.Autoscaled, p.Autoscaler = true, "Cluster Autoscaler"
		p.Delay = rehearse.DefaultNodeGroupNodeDelay
	default:
		p.Delay = rehearse.DefaultNodeGroupNodeDelay
	}
	if p.Nodes == 0 {
		p.Nodes = zones
	}
	if delay >= 0 {
		p.Delay = delay
	}
	return p, nil
}

// setNodesAtRest applies --nodes-at-rest n (0: not set) to the pool,
// which must be autoscaled and may not hold fewer than n nodes.
func setNodesAtRest(errs *validate.Errors, pool *rehearse.NodePool, n int) {
	switch {
	case n <= 0:
	case pool == nil || !pool.Autoscaled:
		errs.Add("--nodes-at-rest", n, "applies to an autoscaled pool, which the stack does not declare", "leave it out, or declare cluster.karpenter, cluster.capacity.autoscaled or cluster.headroom")
	case pool.Max > 0 && n > pool.Max:
		errs.Add("--nodes-at-rest", n, fmt.Sprintf("is above the pool's maximum (%d nodes)", pool.Max), fmt.Sprintf("use at most %d", pool.Max))
	default:
		pool.AtRest = n
	}
}

// renderedNodePool is the rendered Karpenter NodePool's nodes and limits
// (capacity.ReadPoolNodes), and whether the stack renders one.
func renderedNodePool(objects string) (capacity.PoolNodes, bool, error) {
	for _, doc := range strings.Split(objects, "\n---\n") {
		if pool, ok, err := capacity.ReadPoolNodes([]byte(doc)); err != nil || ok {
			return pool, ok, err
		}
	}
	return capacity.PoolNodes{}, false, nil
}

// parseStages reads "10s:50,2m:50,10s:0".
func parseStages(s string) ([]loadtest.Stage, error) {
	var stages []loadtest.Stage
	for _, part := range strings.Split(s, ",") {
		dur, target, ok := strings.Cut(strings.TrimSpace(part), ":")
		if !ok {
			return nil, fmt.Errorf("stage %q is not DURATION:TARGET", part)
		}
		d, err := time.ParseDuration(dur)
		if err != nil {
			return nil, fmt.Errorf("stage %q: %v", part, err)
		}
		n, err := strconv.Atoi(target)
		if err != nil {
			return nil, fmt.Errorf("stage %q: target %q is not a number of VUs", part, target)
		}
		stages = append(stages, loadtest.Stage{Duration: loadtest.Duration(d), Target: n})
	}
	return stages, nil
}
