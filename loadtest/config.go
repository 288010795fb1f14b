package loadtest

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
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
	// Tags are added to every metric, next to stack, run and environment.
	Tags map[string]string `json:"tags,omitempty"`
	// Env adds plain variables to the flow (e.g. SESSIONS: "5" for peak-event).
	Env map[string]string `json:"env,omitempty"`
	// VUsPerRunner is one runner pod's VU budget. Default (0): the runner
	// model's, the most VUs the default runner holds (Config.Sizing).
	VUsPerRunner int `json:"vusPerRunner"`
	// Capacity is the arithmetic the million-user shape must pass.
	Capacity Capacity `json:"capacity"`
	// AllowCapacityOverride runs the million-user shape even when the HPA
	// ceiling cannot carry the computed peak. Default false.
	AllowCapacityOverride bool `json:"allowCapacityOverride,omitempty"`
}

// DefaultConfig is a smoke test of the cirkelline flow.
func DefaultConfig() Config {
	return Config{Shape: Smoke, Flow: Cirkelline, Capacity: DefaultCapacity()}
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
	if c.VUsPerRunner < 0 {
		errs.Add(validate.Join(path, "vusPerRunner"), c.VUsPerRunner, "must not be negative", "remove it for the runner model's default, or set a count of VUs, e.g. 500")
	} else if shape, _ := c.Resolved(); c.Runners() > MaxRunners {
		errs.Add(validate.Join(path, "vusPerRunner"), c.VUsPerRunner, fmt.Sprintf("splits the shape's %d VUs over %d runners; an Indexed Job runs at most %d", shape.MaxVUs(), c.Runners(), MaxRunners),
			fmt.Sprintf("raise it to at least %d, or lower the stages' targets", (shape.MaxVUs()+MaxRunners-1)/MaxRunners))
	} else if shape, thresholds := c.Resolved(); len(shape.Stages) > 0 {
		validateSplit(&errs, validate.Join(path, "thresholds"), c.Flow, thresholds, c.Runners(), shape.MaxVUs())
	}
	for _, k := range slices.Sorted(maps.Keys(c.Env)) {
		kp := validate.Key(validate.Join(path, "env"), k)
		validate.EnvName(&errs, kp, k)
		if slices.Contains(ReservedEnv, k) || strings.HasPrefix(k, "K6_") {
			errs.Add(kp, c.Env[k], "is set by the program (and k6 reads any K6_* variable as an option that overrides the generated ones)",
				"remove it; the shape, thresholds and target come from loadtest.shape, loadtest.thresholds and loadtest.target")
		} else if def, ok := c.Flow.Settings(nil)[k]; ok {
			if _, ok := settingValue(c.Env[k]); !ok {
				errs.Add(kp, c.Env[k], fmt.Sprintf("is a setting of the %s flow, which must be a number >= 0", c.Flow),
					fmt.Sprintf("set a number, e.g. %q, or remove it for the flow's default %v", strconv.FormatFloat(def, 'f', -1, 64), def))
			}
		}
	}
	for _, k := range slices.Sorted(maps.Keys(c.Tags)) {
		kp := validate.Key(validate.Join(path, "tags"), k)
		if slices.Contains(ReservedTags, k) {
			errs.Add(kp, c.Tags[k], "is set by the program on every run", "use another tag name; reserved: "+strings.Join(ReservedTags, ", "))
		} else if !tagName.MatchString(k) {
			errs.Add(kp, c.Tags[k], "is not a usable tag name", "use letters, digits and _ (it becomes a Prometheus label with remote write)")
		} else if c.Tags[k] == "" {
			// k6 v1.3.0 internal/cmd/options.go parseTagNameValue:
			// "invalid tag, empty value" for the runners' --tag flags.
			errs.Add(kp, c.Tags[k], "is empty, which k6 refuses on the command line the runners get their tags from", "give the tag a value, or remove it")
		}
	}
	c.Capacity.Validate(&errs, validate.Join(path, "capacity"))
	return errs.Err()
}

// MaxRunners is the most runner pods a run may have: the API server's
// limit on an Indexed Job's parallelism (maxParallelismForIndexedJob in
// pkg/apis/batch/validation/validation.go of k8s.io/kubernetes v1.37.2).
const MaxRunners = 100_000

// ReservedEnv are the runner variables the program sets.
var ReservedEnv = []string{"BASE_URL", EnvRequestInterval, EnvRunnerSegments, EnvRunnerSequence, EnvRunnerSegment, "JOB_COMPLETION_INDEX"}

// tagName is a name k6 and Prometheus remote write both keep as it is.
var tagName = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

func joinNames[T ~string](names []T) string {
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = string(n)
	}
	return strings.Join(parts, ", ")
}
