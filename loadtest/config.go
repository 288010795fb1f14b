package loadtest

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/cirkelline/infra/internal/validate"
)

// Config is the k6 side of a stack's load test (stack config key
// "loadtest"; the Kubernetes side lives in stacks.LoadTestConfig).
type Config struct {
	// Shape is a built-in scenario. Default "smoke".
	Shape ShapeName `json:"shape"`
	// Flow is the request flow. Default "cirkelline".
	Flow Flow `json:"flow"`
	// Stages, when set, replace the shape's stages.
	Stages []Stage `json:"stages,omitempty"`
	// Thresholds, when set, replace the flow's defaults metric by metric.
	Thresholds Thresholds `json:"thresholds,omitempty"`
	// Tags are added to every metric.
	Tags map[string]string `json:"tags,omitempty"`
	// VUsPerRunner is one runner pod's VU budget. Default 500.
	VUsPerRunner int `json:"vusPerRunner"`
	// Capacity is the arithmetic the million-user shape must pass.
	Capacity Capacity `json:"capacity"`
	// AllowCapacityOverride runs the million-user shape even when the HPA
	// ceiling cannot carry the computed peak. Default false.
	AllowCapacityOverride bool `json:"allowCapacityOverride,omitempty"`
}

// DefaultConfig is a smoke test of the cirkelline flow.
func DefaultConfig() Config {
	return Config{Shape: Smoke, Flow: Cirkelline, VUsPerRunner: DefaultVUsPerRunner, Capacity: DefaultCapacity()}
}

// Resolved is the scenario a Config runs.
func (c Config) Resolved() (Shape, Thresholds) {
	shape := Shapes[c.Shape]
	if len(c.Stages) > 0 {
		shape.Stages = slices.Clone(c.Stages)
		shape.StartVUs = 0
	}
	thresholds := c.Flow.DefaultThresholds()
	maps.Copy(thresholds, c.Thresholds)
	return shape, thresholds
}

// Validate reports every problem with its path under path ("loadtest").
func (c Config) Validate(path string) error {
	var errs validate.Errors
	if _, ok := Shapes[c.Shape]; !ok {
		errs.Add(validate.Join(path, "shape"), string(c.Shape), "is not a known shape", "use one of: "+joinNames(ShapeNames()))
	}
	if !slices.Contains(Flows(), c.Flow) {
		errs.Add(validate.Join(path, "flow"), string(c.Flow), "is not a known flow", "use one of: "+joinNames(Flows()))
		return errs.Err() // thresholds depend on the flow
	}
	if c.Stages != nil {
		ValidateStages(&errs, validate.Join(path, "stages"), c.Stages)
	}
	ValidateThresholds(&errs, validate.Join(path, "thresholds"), c.Flow, c.Thresholds)
	if c.VUsPerRunner < 1 {
		errs.Add(validate.Join(path, "vusPerRunner"), c.VUsPerRunner, "must be at least 1", fmt.Sprintf("use e.g. %d", DefaultVUsPerRunner))
	}
	c.Capacity.Validate(&errs, validate.Join(path, "capacity"))
	return errs.Err()
}

func joinNames[T ~string](names []T) string {
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = string(n)
	}
	return strings.Join(parts, ", ")
}
