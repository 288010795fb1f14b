package scenario

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cirkelline/infra/internal/duration"
	"github.com/cirkelline/infra/internal/validate"
	"github.com/cirkelline/infra/loadtest"
)

// A scenario as a stack file writes it decodes to typed events, and
// writes back the same way.
func TestScenarioJSON(t *testing.T) {
	in := `{"name":"zone-outage-at-peak","shape":"load","events":["zone-outage:eu-north-1a@8m","rollout@12m30s"],"nodeDelay":"1m30s"}`
	var got Scenario
	if err := json.Unmarshal([]byte(in), &got); err != nil {
		t.Fatal(err)
	}
	want := Scenario{Name: "zone-outage-at-peak", Shape: loadtest.Load, NodeDelay: duration.Duration(90 * time.Second), Events: []Event{
		{Kind: EventZoneOutage, Target: "eu-north-1a", At: 8 * time.Minute}, {Kind: EventRollout, At: 12*time.Minute + 30*time.Second}}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("decoded (-want +got):\n%s", diff)
	}
	out, err := json.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != in {
		t.Errorf("encoded %s, want %s", out, in)
	}
	if err := json.Unmarshal([]byte(`{"events":["flood@1m"]}`), &got); err == nil || !strings.Contains(err.Error(), `unknown event "flood"`) || !strings.Contains(err.Error(), EventSyntax) {
		t.Errorf("a bad event: %v; want the reason and how to write one", err)
	}
}

// The scenario replays the stack's load test with its own shape and
// stages, whichever it sets.
func TestScenarioLoad(t *testing.T) {
	stack := loadtest.Config{Shape: loadtest.Spike, Stages: []loadtest.Stage{{Duration: loadtest.Duration(time.Minute), Target: 5}}, Flow: loadtest.Cirkelline}
	short := []loadtest.Stage{{Duration: loadtest.Duration(30 * time.Second), Target: 100}}
	for name, tt := range map[string]struct {
		s    Scenario
		want loadtest.Config
	}{
		"nothing set: the stack's": {Scenario{}, stack},
		"a shape: its own stages":  {Scenario{Shape: loadtest.Load}, loadtest.Config{Shape: loadtest.Load, Flow: loadtest.Cirkelline}},
		"a shape and stages":       {Scenario{Shape: loadtest.Load, Stages: short}, loadtest.Config{Shape: loadtest.Load, Stages: short, Flow: loadtest.Cirkelline}},
		"stages alone":             {Scenario{Stages: short}, loadtest.Config{Shape: loadtest.Spike, Stages: short, Flow: loadtest.Cirkelline}},
	} {
		if diff := cmp.Diff(tt.want, tt.s.Load(stack)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", name, diff)
		}
	}
}

func TestZones(t *testing.T) {
	if got, want := Zones("eu-north-1", 3), []string{"eu-north-1a", "eu-north-1b", "eu-north-1c"}; !cmp.Equal(got, want) {
		t.Errorf("Zones = %v, want %v", got, want)
	}
	if got, want := Zones("", 0), []string{"zone-a"}; !cmp.Equal(got, want) {
		t.Errorf("Zones without a region or a count = %v, want %v", got, want)
	}
}

// A valid set of scenarios passes; each mutation is reported at its path.
func TestValidateScenarios(t *testing.T) {
	nodes := Nodes{Declared: true, Zones: Zones("eu-north-1", 3)}
	base := func() []Scenario {
		return []Scenario{
			{Name: "zone-outage-at-peak", Shape: loadtest.Load, Events: []Event{{Kind: EventZoneOutage, Target: "eu-north-1a", At: 8 * time.Minute}}},
			{Name: "quick", Stages: []loadtest.Stage{{Duration: loadtest.Duration(2 * time.Minute), Target: 10}}, Events: []Event{{Kind: EventRollout, At: time.Minute}}},
		}
	}
	stack := loadtest.Config{Shape: loadtest.Smoke, Flow: loadtest.Cirkelline}
	tests := []struct {
		name   string
		mutate func([]Scenario, *Nodes)
		want   string
	}{
		{"valid", func([]Scenario, *Nodes) {}, ""},
		{"no name", func(s []Scenario, _ *Nodes) { s[0].Name = "" }, `rehearsal.scenarios[0].name: is required`},
		{"a name twice", func(s []Scenario, _ *Nodes) { s[1].Name = s[0].Name }, `rehearsal.scenarios[1].name ("zone-outage-at-peak"): is also the name of rehearsal.scenarios[0]`},
		{"a name no folder takes", func(s []Scenario, _ *Nodes) { s[0].Name = "Zone/Outage" }, `fix: rename it, e.g. "zone-outage"`},
		{"an event after the scenario's own stages", func(s []Scenario, _ *Nodes) { s[1].Events[0].At = 3 * time.Minute }, `rehearsal.scenarios[1].events ("rollout@3m"): is at or after the shape's end (2m)`},
		{"events without nodes", func(_ []Scenario, n *Nodes) { n.Declared = false }, `rehearsal.scenarios[0].events (1): need the stack's nodes`},
		{"a zone the nodes do not span", func(_ []Scenario, n *Nodes) { n.Zones = Zones("eu-west-1", 3) }, `names zone "eu-north-1a", which the rehearsal's nodes do not span; fix: use one of the stack's zones (cluster.zones): eu-west-1a, eu-west-1b, eu-west-1c`},
		{"a negative node delay", func(s []Scenario, _ *Nodes) { s[0].NodeDelay = duration.Duration(-time.Second) }, `rehearsal.scenarios[0].nodeDelay ("-1s"): is negative`},
	}
	for _, tt := range tests {
		s, n := base(), nodes
		tt.mutate(s, &n)
		var errs validate.Errors
		ValidateScenarios(&errs, "rehearsal.scenarios", s, stack, n)
		err := errs.Err()
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s: refused: %v", tt.name, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%s: error %v, want %q", tt.name, err, tt.want)
		}
	}
}
