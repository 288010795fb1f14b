package commands

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/cirkelline/infra/commands/rehearse"
	"github.com/cirkelline/infra/internal/stackfile"
	"github.com/cirkelline/infra/internal/validate"
	"github.com/cirkelline/infra/loadtest"
	"github.com/cirkelline/infra/stacks"
)

func TestParseStages(t *testing.T) {
	got, err := parseStages("10s:50, 2m:50,10s:0")
	if err != nil {
		t.Fatal(err)
	}
	want := []loadtest.Stage{{Duration: loadtest.Duration(10 * time.Second), Target: 50},
		{Duration: loadtest.Duration(2 * time.Minute), Target: 50}, {Duration: loadtest.Duration(10 * time.Second), Target: 0}}
	if len(got) != len(want) {
		t.Fatalf("stages %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("stage %d: %v, want %v", i, got[i], want[i])
		}
	}
	for in, msg := range map[string]string{
		"10s":     `stage "10s" is not DURATION:TARGET`,
		"ten:5":   `stage "ten:5": time: invalid duration "ten"`,
		"10s:lot": `stage "10s:lot": target "lot" is not a number of VUs`,
	} {
		if _, err := parseStages(in); err == nil || err.Error() != msg {
			t.Errorf("parseStages(%q) = %v, want %q", in, err, msg)
		}
	}
}

// Every bad flag is reported at once, each with its value and a fix,
// before anything is rendered or started.
func TestRehearseOptionsRejectBadFlags(t *testing.T) {
	_, _, err := rehearseOptions(rehearseFlags{stack: "staging", dir: "..", shape: "burst", stages: "10s",
		maxReplicas: -1, startup: "soon", cooldown: "-1m", memoryShare: 2,
		events: []string{"flood:a@1m"}, nodeDelay: "fast", blockBound: "0s", minDomains: -1, nodesAtRest: -1}, nil)
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{
		`--shape`, `"burst"`, "use one of: load, million-users, normal-event, peak-event, smoke, spike, stress",
		`--stages`, `stage "10s" is not DURATION:TARGET`,
		`--max-replicas`, `--startup`, `"soon"`, `--cooldown`, `"-1m"`, `--memory-share`,
		`--event`, `unknown event "flood"`, `--node-delay`, `"fast"`, `--block-bound`, `--min-domains`, `--nodes-at-rest`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

// loadStack is a shipped stack's config, as rehearse loads it.
func loadStack(t *testing.T, stack string) *stacks.Config {
	t.Helper()
	sc, err := stackfile.LoadStackConfig("..", stack)
	if err != nil {
		t.Fatal(err)
	}
	var missing []string
	cfg, err := stacks.Load(stacks.MapSource{Values: sc.Values, Secrets: sc.SecretKeys}, sc.Project, sc.Stack, stacks.OfflineSecrets(&missing))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// The rehearsal's nodes follow the shipped stacks' cluster.capacity and
// cluster.zones.
func TestNodePoolOfShippedStacks(t *testing.T) {
	production, err := nodePool(loadStack(t, "production"), "", -1)
	if err != nil {
		t.Fatal(err)
	}
	want := &rehearse.NodePool{
		Zones: []string{"eu-north-1a", "eu-north-1b", "eu-north-1c"}, Region: "eu-north-1",
		// m6i.2xlarge's 7910m / 29Gi / 58 pods less the DaemonSets' 250m / 512Mi / 4.
		CPU: resource.MustParse("7660m"), Memory: resource.MustParse("29184Mi"), Pods: 54,
		Nodes: 6, Max: 6, Autoscaled: true, Autoscaler: "Cluster Autoscaler", Delay: rehearse.DefaultNodeGroupNodeDelay,
	}
	if diff := cmp.Diff(want, production, cmpQuantity); diff != "" {
		t.Errorf("production (-want +got):\n%s", diff)
	}
	nodePoolDoc := "apiVersion: karpenter.sh/v1\nkind: NodePool\nmetadata: {name: cirkelline-staging}\nspec:\n  limits: {cpu: \"3\", memory: 9Gi}\n"
	staging, err := nodePool(loadStack(t, "staging"), "kind: Namespace\n---\n"+nodePoolDoc, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	want = &rehearse.NodePool{
		Zones: []string{"eu-north-1a"}, Region: "eu-north-1",
		CPU: resource.MustParse("1730m"), Memory: resource.MustParse("6272Mi"), Pods: 26,
		// The NodePool's 3 CPUs hold one 1930m node.
		Nodes: 1, Max: 1, Autoscaled: true, Autoscaler: "Karpenter", Delay: 30 * time.Second,
		Labels: map[string]string{"karpenter.sh/nodepool": "cirkelline-staging"},
	}
	if diff := cmp.Diff(want, staging, cmpQuantity); diff != "" {
		t.Errorf("staging (-want +got):\n%s", diff)
	}
	local, err := nodePool(loadStack(t, "local"), "", -1)
	if err != nil || local != nil {
		t.Errorf("local declares no node shape: want no pool (one big kwok node), got %+v, %v", local, err)
	}
}

var cmpQuantity = cmp.Comparer(func(a, b resource.Quantity) bool { return a.Cmp(b) == 0 })

// --scenario takes the shape, stages, events and node delay from the stack
// file, and is refused, with the names there are, when the stack has no
// such scenario or flags would contradict it.
func TestApplyScenario(t *testing.T) {
	base := rehearseFlags{stack: "staging", dir: "..", nodeDelay: "auto"}
	tests := []struct {
		name    string
		flags   func(*rehearseFlags)
		want    func(*rehearseFlags)
		wantErr string
	}{
		{"no scenario: the flags as given", func(*rehearseFlags) {}, func(*rehearseFlags) {}, ""},
		{"the stack's scenario", func(f *rehearseFlags) { f.scenario = "ci-drain-and-rollout" }, func(f *rehearseFlags) {
			f.scenario, f.events, f.nodeDelay = "ci-drain-and-rollout", []string{"drain:all@1m", "rollout@3m"}, "30s"
		}, ""},
		{"--node-delay wins over the scenario's", func(f *rehearseFlags) { f.scenario, f.nodeDelay = "ci-drain-and-rollout", "3m" }, func(f *rehearseFlags) {
			f.scenario, f.events, f.nodeDelay = "ci-drain-and-rollout", []string{"drain:all@1m", "rollout@3m"}, "3m"
		}, ""},
		{"an unknown scenario", func(f *rehearseFlags) { f.scenario = "zone-outage" }, nil,
			`--scenario ("zone-outage"): is not a scenario of stack staging; fix: use one of: drain-and-rollout-under-load, ci-drain-and-rollout`},
		{"the stack's scenario and --event", func(f *rehearseFlags) { f.scenario, f.events = "ci-drain-and-rollout", []string{"rollout@1m"} }, nil,
			`--scenario ("ci-drain-and-rollout"): is the stack file's, which declares its own shape, stages and events; fix: leave out --shape, --stages and --event`},
		{"a name for the command line's scenario", func(f *rehearseFlags) { f.scenario, f.shape, f.events = "my-day", "spike", []string{"rollout@1m"} }, func(f *rehearseFlags) {
			f.scenario, f.shape, f.events = "my-day", "spike", []string{"rollout@1m"}
		}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := loadStack(t, "staging")
			f := base
			tt.flags(&f)
			var errs validate.Errors
			applyScenario(&errs, &f, cfg)
			if tt.wantErr != "" {
				if err := errs.Err(); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err := errs.Err(); err != nil {
				t.Fatal(err)
			}
			want := base
			tt.want(&want)
			if diff := cmp.Diff(want, f, cmp.AllowUnexported(rehearseFlags{})); diff != "" {
				t.Errorf("flags (-want +got):\n%s", diff)
			}
		})
	}
	// The scenario's shape and stages replace the stack's.
	cfg := loadStack(t, "staging")
	f := base
	f.scenario = "ci-drain-and-rollout"
	var errs validate.Errors
	applyScenario(&errs, &f, cfg)
	shape, _ := cfg.LoadTest.Resolved()
	if got, want := shape.TotalDuration(), 4*time.Minute+30*time.Second; got != want || cfg.LoadTest.Shape != loadtest.Spike {
		t.Errorf("shape %s of %s, want spike of %s (the scenario's stages)", cfg.LoadTest.Shape, got, want)
	}
}

// --nodes-at-rest sets an autoscaled pool's minimum, and is refused, with
// the fix, on a fixed pool, without a pool, or above the pool's maximum.
func TestSetNodesAtRest(t *testing.T) {
	for _, tt := range []struct {
		name    string
		pool    *rehearse.NodePool
		n       int
		want    int
		wantErr string
	}{
		{"not set", &rehearse.NodePool{Autoscaled: true, Max: 3}, 0, 0, ""},
		{"an autoscaled pool", &rehearse.NodePool{Autoscaled: true, Max: 3}, 2, 2, ""},
		{"above the maximum", &rehearse.NodePool{Autoscaled: true, Max: 3}, 4, 0,
			`--nodes-at-rest (4): is above the pool's maximum (3 nodes); fix: use at most 3`},
		{"a fixed pool", &rehearse.NodePool{Nodes: 6}, 2, 0,
			`--nodes-at-rest (2): applies to an autoscaled pool, which the stack does not declare; fix: leave it out, or declare cluster.karpenter, cluster.capacity.autoscaled or cluster.headroom`},
		{"no pool", nil, 2, 0, `--nodes-at-rest (2): applies to an autoscaled pool`},
	} {
		var errs validate.Errors
		setNodesAtRest(&errs, tt.pool, tt.n)
		err := errs.Err()
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("%s: %v", tt.name, err)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("%s: error %v, want %q", tt.name, err, tt.wantErr)
		}
		if tt.pool != nil && tt.pool.AtRest != tt.want {
			t.Errorf("%s: AtRest %d, want %d", tt.name, tt.pool.AtRest, tt.want)
		}
	}
}
