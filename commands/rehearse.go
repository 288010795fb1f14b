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

	"github.com/cirkelline/infra/commands/rehearse"
	"github.com/cirkelline/infra/commands/render"
	"github.com/cirkelline/infra/internal/stackfile"
	"github.com/cirkelline/infra/internal/validate"
	"github.com/cirkelline/infra/loadtest"
	"github.com/cirkelline/infra/stacks"
)

// ErrNotCarried is returned when a rehearsal's verdict is not OK.
var ErrNotCarried = errors.New("the rehearsal's verdict is not OK")

const rehearseUsage = `  go run . rehearse --stack NAME [--shape SHAPE] [--stages 10s:100,1m:100,...]
                    [--max-replicas N] [--startup D] [--cooldown D] [--memory-share F] [--out DIR]
      Replay a load-test shape through the real HPA controller on a local
      control plane (kube-apiserver, controller manager, scheduler, kwok,
      metrics-server; hack/controlplane builds them) and write DIR/rehearsal.csv,
      .png, .svg verdict.txt and
      verdict.json (default DIR rendered/rehearsal/NAME-SHAPE).
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
}

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
	name := string(cfg.LoadTest.Shape)
	if f.stages != "" {
		name += "-custom"
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
	table := res.Verdict.Table()
	if err := os.WriteFile(filepath.Join(out, "verdict.txt"), []byte(title+"\n"+table), 0o644); err != nil {
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
	o := rehearse.Options{Root: f.dir, MaxReplicas: int32(f.maxReplicas), MemoryShare: f.memoryShare, KeepLogs: f.keepLogs}
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
	return o, cfg, nil
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
