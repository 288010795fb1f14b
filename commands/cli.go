// Package commands holds the program's offline subcommands, so main.go stays a
// Pulumi program: `render` (every manifest a stack would apply).
package commands

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"path/filepath"
	"slices"

	"github.com/cirkelline/infra/commands/render"
	"github.com/cirkelline/infra/internal/stackfile"
	"github.com/cirkelline/infra/loadtest"
	"github.com/cirkelline/infra/stacks"
	"github.com/cirkelline/infra/workloads"
)

const usage = `usage:
  go run . render --stack NAME [--out DIR|-] [--require-secrets]
      Render every manifest the stack would apply, offline (no cloud account,
      no Pulumi CLI): one YAML file per object in DIR (default rendered/NAME),
      cloud resources under DIR/cloud. Secure config shows as [secret].
      --out - streams the Kubernetes objects, in apply order, to stdout.
  go run . render --stack NAME --diff REF
      Print the unified diff of the stack's manifests between git REF
      (rendered by REF's own code) and the working tree; nothing if none.
  go run . loadtest export --stack NAME --out DIR
      Write the stack's k6 script, the modules it imports (pacing.js) and
      the generated options.json to DIR, to run the same test with a local
      k6 (it prints the k6 run command).
  go run . loadtest report --stack NAME [--kubeconfig F] [--context C] [--logs DIR]
      Read every runner's summary from its pod log (through the Kubernetes
      API, or from saved logs) and print one combined result and verdict;
      exits non-zero unless the verdict is PASS.
` + rehearseUsage

// Main runs a subcommand and returns the process exit code.
func Main(args []string, program render.Program, stdout, stderr io.Writer) int {
	if err := run(args, program, stdout, stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		// The engine wraps program errors; show a config error as Load wrote it.
		var cfgErr *stacks.ConfigError
		if errors.As(err, &cfgErr) {
			err = cfgErr
		}
		fmt.Fprintf(stderr, "error: %v\n", err)
		return 1
	}
	return 0
}

func run(args []string, program render.Program, stdout, stderr io.Writer) error {
	switch args[0] {
	case "render":
		fs := flag.NewFlagSet("render", flag.ContinueOnError)
		fs.SetOutput(stderr)
		fs.Usage = func() { fmt.Fprint(stderr, usage) }
		opts := render.Options{Stdout: stdout, Stderr: stderr}
		fs.StringVar(&opts.Stack, "stack", "", "stack to render (a Pulumi.<stack>.yaml must exist)")
		fs.StringVar(&opts.Out, "out", "", "output directory, or - for stdout (default rendered/<stack>)")
		fs.StringVar(&opts.Dir, "dir", ".", "project directory (holds Pulumi.yaml)")
		fs.BoolVar(&opts.RequireSecrets, "require-secrets", false, "fail like `pulumi up` when a required secret is not set")
		diffRef := fs.String("diff", "", "print the manifest diff against this git ref instead of writing files")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		if opts.Stack == "" {
			stacks, _ := stackfile.Stacks(opts.Dir)
			return fmt.Errorf("render: --stack is required (stacks here: %v)", stacks)
		}
		if fs.NArg() > 0 {
			return fmt.Errorf("render: unexpected arguments %v", fs.Args())
		}
		if *diffRef != "" {
			diff, err := render.Diff(opts, program, *diffRef)
			if err != nil {
				return err
			}
			_, err = io.WriteString(stdout, diff)
			return err
		}
		if err := render.Run(opts, program); err != nil {
			return err
		}
		// What `pulumi preview` would flag on the resources, offline.
		if cfg, err := loadOffline(opts.Dir, opts.Stack); err == nil {
			plan := workloads.NewPlan(cfg)
			// Not into a manifest stream on stdout (--out -).
			if note := plan.CapacityNote(); note != "" && opts.Out != "-" {
				fmt.Fprintf(stdout, "\n%s", note)
			}
			for _, w := range plan.Warnings() {
				fmt.Fprintf(stderr, "warning: %s\n", w)
			}
		}
		return nil
	case "loadtest":
		switch {
		case len(args) >= 2 && args[1] == "export":
			return loadtestExport(args[2:], stdout, stderr)
		case len(args) >= 2 && args[1] == "report":
			return loadtestReport(args[2:], stdout, stderr)
		}
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("loadtest: want the subcommand export or report")
	case "rehearse":
		return rehearseCommand(args[1:], program, stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown command %q", args[0])
	}
}

func loadtestExport(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("loadtest export", flag.ContinueOnError)
	fs.SetOutput(stderr)
	stack := fs.String("stack", "", "stack whose load test to export")
	out := fs.String("out", "", "directory to write the scripts and options.json to")
	dir := fs.String("dir", ".", "project directory (holds Pulumi.yaml)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *stack == "" || *out == "" {
		return fmt.Errorf("loadtest export: --stack and --out are required")
	}
	cfg, err := loadOffline(*dir, *stack)
	if err != nil {
		return err
	}
	lt := cfg.LoadTest
	files, err := loadtest.Export(*out, lt.Config, cfg.LoadTestRun())
	if err != nil {
		return err
	}
	for _, f := range files {
		fmt.Fprintln(stdout, "wrote", f)
	}
	shape, _ := lt.Resolved()
	fmt.Fprintf(stdout, "\n%s shape, %s flow, %d VUs at most, %s. Run it against a URL you own:\n", lt.Shape, lt.Flow, shape.MaxVUs(), shape.TotalDuration())
	env := ""
	flowEnv := loadtest.FlowEnv(lt.Config)
	for _, k := range slices.Sorted(maps.Keys(flowEnv)) {
		env += " -e " + k + "=" + flowEnv[k]
	}
	fmt.Fprintf(stdout, "  k6 run --config %s -e BASE_URL=%s%s %s\n", filepath.Join(*out, loadtest.OptionsFile), workloads.LoadTestTargetURL(cfg),
		env, filepath.Join(*out, lt.Flow.FileName()))
	fmt.Fprintf(stdout, "load at the peak: %s\n", lt.Load())
	if !lt.Enabled {
		fmt.Fprintf(stdout, "(loadtest.enabled is false in Pulumi.%s.yaml: no Job runs in the cluster)\n", cfg.Stack)
	}
	return nil
}

// loadOffline loads and plans a stack from its files without its secrets
// (a missing one stands in as [secret]), for the commands that read the
// stack's config but register nothing.
func loadOffline(dir, stack string) (*stacks.Config, error) {
	sc, err := stackfile.LoadStackConfig(dir, stack)
	if err != nil {
		return nil, err
	}
	var missing []string
	plan, err := workloads.Load(stacks.MapSource{Values: sc.Values, Secrets: sc.SecretKeys}, sc.Project, sc.Stack, stacks.OfflineSecrets(&missing))
	if err != nil {
		return nil, err
	}
	return plan.Config, nil
}
