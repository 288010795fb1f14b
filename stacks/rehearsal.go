package stacks

import (
	"strings"

	"github.com/cirkelline/infra/internal/validate"
	"github.com/cirkelline/infra/scenario"
)

// RehearsalConfig is what `go run . rehearse` reads from the stack file
// (config key "rehearsal"): the bad days the stack is rehearsed against,
// by name. Nothing here is deployed.
type RehearsalConfig struct {
	// Scenarios are the stack's named bad days: a load shape with events
	// (a zone lost, nodes drained, a rollout) on its timeline, rehearsed
	// by `go run . rehearse --stack <stack> --scenario <name>`. Default none.
	Scenarios []scenario.Scenario `json:"scenarios,omitempty"`
}

// Region is the stack's AWS region as its ACM certificate's ARN names it
// (an ALB's certificate must be in the ALB's region), "" without one.
func (c *Config) Region() string {
	parts := strings.Split(c.Ingress.CertificateARN, ":")
	if len(parts) > 3 && parts[0] == "arn" {
		return parts[3]
	}
	return ""
}

// RehearsalNodes is the nodes a rehearsal of the stack runs on, as its
// events may name them: declared when cluster.capacity gives a node's
// shape, spread over cluster.zones zones of the stack's region.
func (c *Config) RehearsalNodes() scenario.Nodes {
	node := c.Cluster.Capacity.Node
	return scenario.Nodes{Declared: node.CPU != "" && node.Memory != "", Zones: scenario.Zones(c.Region(), int(c.Cluster.Zones))}
}

func (c *Config) validateRehearsal(errs *validate.Errors) {
	scenario.ValidateScenarios(errs, "rehearsal.scenarios", c.Rehearsal.Scenarios, c.LoadTest.Config, c.RehearsalNodes())
}
