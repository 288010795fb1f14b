// Command cirkelline is the Pulumi program for the cirkelline backend's
// Kubernetes stacks. `pulumi up` runs it; `go run . render --stack NAME`
// renders a stack offline (see internal/cli).
package main

import (
	"fmt"
	"os"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/cirkelline/infra/internal/cli"
	"github.com/cirkelline/infra/stacks"
	"github.com/cirkelline/infra/workloads"
)

func main() {
	if len(os.Args) > 1 {
		os.Exit(cli.Main(os.Args[1:], program, os.Stdout, os.Stderr))
	}
	pulumi.Run(func(ctx *pulumi.Context) error {
		src, err := stacks.EnvSource()
		if err != nil {
			return fmt.Errorf("read engine config: %w", err)
		}
		return program(src)(ctx)
	})
}

// program loads and plans the stack, registers the plan and exports outputs.
func program(src stacks.Source, opts ...stacks.LoadOption) pulumi.RunFunc {
	return func(ctx *pulumi.Context) error {
		plan, err := workloads.Load(src, ctx.Project(), ctx.Stack(), opts...)
		if err != nil {
			return err
		}
		out, err := workloads.Deploy(ctx, plan)
		if err != nil {
			return fmt.Errorf("build workloads: %w", err)
		}
		out.Export(ctx, plan.Config)
		return nil
	}
}
