package workloads

import (
	"fmt"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/cirkelline/infra/stacks"
)

// Program is the Pulumi program: it loads and plans the stack from src,
// registers the plan and exports the outputs. main.go runs it under
// `pulumi up`, render under the SDK's mocks, and the engine lifecycle test
// (engine/) as an Automation API inline program, so all three run exactly
// the same Load → Deploy → Export path.
func Program(src stacks.Source, opts ...stacks.LoadOption) pulumi.RunFunc {
	return func(ctx *pulumi.Context) error {
		plan, err := Load(src, ctx.Project(), ctx.Stack(), opts...)
		if err != nil {
			return err
		}
		out, err := Deploy(ctx, plan)
		if err != nil {
			return fmt.Errorf("build workloads: %w", err)
		}
		out.Export(ctx, plan.Config)
		return nil
	}
}
