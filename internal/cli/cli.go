// Package cli holds the program's offline subcommands, so main.go stays a
// Pulumi program: `render` (every manifest a stack would apply).
package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/cirkelline/infra/internal/render"
	"github.com/cirkelline/infra/stacks"
)

const usage = `usage:
  go run . render --stack NAME [--out DIR|-] [--require-secrets]
      Render every manifest the stack would apply, offline (no cloud account,
      no Pulumi CLI): one YAML file per object in DIR (default rendered/NAME),
      cloud resources under DIR/cloud. Secure config shows as [secret].
`

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
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		if opts.Stack == "" {
			stacks, _ := render.Stacks(opts.Dir)
			return fmt.Errorf("render: --stack is required (stacks here: %v)", stacks)
		}
		if fs.NArg() > 0 {
			return fmt.Errorf("render: unexpected arguments %v", fs.Args())
		}
		return render.Run(opts, program)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown command %q", args[0])
	}
}
