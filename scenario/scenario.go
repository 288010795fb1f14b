package scenario

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/cirkelline/infra/internal/duration"
	"github.com/cirkelline/infra/internal/validate"
	"github.com/cirkelline/infra/loadtest"
)

// Scenario is a named bad day of a stack: a load shape with events on its
// timeline, rehearsed by `go run . rehearse --stack <stack> --scenario
// <name>` and written to rendered/rehearsal/<stack>-<name>/. A stack file
// declares its scenarios under rehearsal.scenarios, so the days a stack
// must survive are reviewed with the stack.
type Scenario struct {
	// Name names the scenario on the command line and in the report's
	// folder. Required: lower-case letters, digits and "-".
	Name string `json:"name"`
	// Description says what day it rehearses and what it should show, for
	// a reader of the stack file and of the report. Default none.
	Description string `json:"description,omitempty"`
	// Shape is the load-test shape replayed. Default: the stack's
	// loadtest.shape (and its loadtest.stages).
	Shape loadtest.ShapeName `json:"shape,omitempty"`
	// Stages replace the shape's stages, e.g. a shortened shape for CI.
	// Default: the shape's.
	Stages []loadtest.Stage `json:"stages,omitempty"`
	// Events happen at their times of the shape, written as --event takes
	// them (EventSyntax). Default none: the shape alone.
	Events []Event `json:"events,omitempty"`
	// NodeDelay is a new node's time from the autoscaler's decision to
	// Ready. Default: the autoscaler's (60 s for Karpenter, 3 min for a
	// node group; commands/rehearse.DefaultKarpenterNodeDelay).
	NodeDelay duration.Duration `json:"nodeDelay,omitempty"`
}

// namePattern keeps a name usable as a folder and a flag value;
// notInName is what slug replaces.
var (
	namePattern = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
	notInName   = regexp.MustCompile(`[^a-z0-9]+`)
)

// Load is the load-test config the scenario replays: the stack's, with
// the scenario's shape and stages when it sets them.
func (s Scenario) Load(stack loadtest.Config) loadtest.Config {
	if s.Shape != "" {
		stack.Shape, stack.Stages = s.Shape, nil
	}
	if len(s.Stages) > 0 {
		stack.Stages = slices.Clone(s.Stages)
	}
	return stack
}

// Nodes is what a stack's scenarios are checked against: the zones the
// rehearsal's nodes span (Zones), and whether the stack declares its
// nodes at all (events need them).
type Nodes struct {
	Declared bool
	Zones    []string
}

// ValidateScenarios reports every problem of the scenarios under path
// ("rehearsal.scenarios"): names, shapes, stages, events (against the
// nodes and each scenario's shape) and node delays.
func ValidateScenarios(errs *validate.Errors, path string, scenarios []Scenario, stack loadtest.Config, nodes Nodes) {
	seen := map[string]int{}
	for i, s := range scenarios {
		at := validate.Index(path, i)
		switch {
		case s.Name == "":
			errs.Add(validate.Join(at, "name"), nil, "is required", `name the scenario, e.g. "zone-outage-at-peak"`)
		case !namePattern.MatchString(s.Name):
			errs.Add(validate.Join(at, "name"), s.Name, "is not lower-case letters, digits and '-' (at most 63, not starting or ending with '-')", "rename it, e.g. \""+slug(s.Name)+"\"")
		}
		if first, dup := seen[s.Name]; dup && s.Name != "" {
			errs.Add(validate.Join(at, "name"), s.Name, fmt.Sprintf("is also the name of %s", validate.Index(path, first)), "give each scenario its own name")
		} else {
			seen[s.Name] = i
		}
		if s.Shape != "" {
			if _, ok := loadtest.Shapes[s.Shape]; !ok {
				names := make([]string, 0, len(loadtest.Shapes))
				for _, n := range loadtest.ShapeNames() {
					names = append(names, string(n))
				}
				errs.Add(validate.Join(at, "shape"), string(s.Shape), "is not a known shape", "use one of: "+strings.Join(names, ", "))
				continue
			}
		}
		if s.Stages != nil {
			loadtest.ValidateStages(errs, validate.Join(at, "stages"), s.Stages)
		}
		if s.NodeDelay < 0 {
			errs.Add(validate.Join(at, "nodeDelay"), s.NodeDelay.String(), "is negative", `write a duration such as "90s", or leave it out for the autoscaler's default`)
		}
		if len(s.Events) == 0 {
			continue
		}
		if !nodes.Declared {
			errs.Add(validate.Join(at, "events"), len(s.Events), "need the stack's nodes, which it does not declare", "declare cluster.capacity.node and cluster.capacity.overhead, or leave the events out")
			continue
		}
		shape, _ := s.Load(stack).Resolved()
		ValidateEvents(errs, validate.Join(at, "events"), s.Events, nodes.Zones, shape.TotalDuration())
	}
}

// Find is the scenario named name.
func Find(scenarios []Scenario, name string) (Scenario, bool) {
	i := slices.IndexFunc(scenarios, func(s Scenario) bool { return s.Name == name })
	if i < 0 {
		return Scenario{}, false
	}
	return scenarios[i], true
}

// Names lists the scenarios' names, in order.
func Names(scenarios []Scenario) []string {
	names := make([]string, len(scenarios))
	for i, s := range scenarios {
		names[i] = s.Name
	}
	return names
}

// Zones names n zones of region as AWS names them (eu-north-1a,
// eu-north-1b, ...), or zone-a, zone-b, ... without a region: the zones
// a rehearsal's nodes span, and the targets its events may name.
func Zones(region string, n int) []string {
	zones := make([]string, 0, max(n, 1))
	for i := range max(n, 1) {
		if region != "" {
			zones = append(zones, fmt.Sprintf("%s%c", region, 'a'+i))
		} else {
			zones = append(zones, fmt.Sprintf("zone-%c", 'a'+i))
		}
	}
	return zones
}

// slug suggests a valid name for s.
func slug(s string) string {
	s = strings.Trim(notInName.ReplaceAllString(strings.ToLower(s), "-"), "-")
	if len(s) > 63 {
		s = strings.TrimRight(s[:63], "-")
	}
	if s == "" {
		return "my-scenario"
	}
	return s
}

// MarshalText writes the event as --event takes it.
func (e Event) MarshalText() ([]byte, error) { return []byte(e.String()), nil }

// UnmarshalText reads the event as ParseEvent does; the error says how to
// write one.
func (e *Event) UnmarshalText(b []byte) error {
	v, err := ParseEvent(string(b))
	if err != nil {
		return fmt.Errorf("is not an event (%v): write %s", err, EventSyntax)
	}
	*e = v
	return nil
}

// short writes whole minutes as "8m" (an event's time as a person writes it).
func short(d time.Duration) string { return duration.Duration(d).String() }
