// Command cirkelline is the Pulumi program for the cirkelline backend's
// Kubernetes stacks. `pulumi up` runs it; `go run . render --stack NAME`
// renders a stack offline (see commands/).
package main

import (
	"fmt"
	"os"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/cirkelline/infra/commands"
	"github.com/cirkelline/infra/stacks"
	"github.com/cirkelline/infra/workloads"
)

func main() {
	if len(os.Args) > 1 {
		os.Exit(commands.Main(os.Args[1:], workloads.Program, os.Stdout, os.Stderr))
	}
	pulumi.Run(func(ctx *pulumi.Context) error {
		src, err := stacks.EnvSource()
		if err != nil {
			return fmt.Errorf("read engine config: %w", err)
		}
		return workloads.Program(src)(ctx)
	})
}
