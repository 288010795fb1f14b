package render_test

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/cirkelline/infra/commands/render"
	"github.com/cirkelline/infra/internal/mockrun"
)

func obj(typ, name string, parent string, custom bool, deps []string, inputs map[string]any) mockrun.Resource {
	if inputs == nil {
		inputs = map[string]any{}
	}
	if _, ok := inputs["metadata"]; !ok {
		inputs["metadata"] = map[string]any{"name": name}
	}
	return mockrun.Resource{Type: typ, Name: name, URN: "urn:" + name, Parent: parent, Custom: custom, DependsOn: deps, Inputs: inputs}
}

func TestAwaitRule(t *testing.T) {
	skip := map[string]any{"metadata": map[string]any{"name": "x", "annotations": map[string]any{"pulumi.com/skipAwait": "true"}}}
	tests := []struct {
		r    mockrun.Resource
		want string
	}{
		{obj("kubernetes:apps/v1:Deployment", "d", "", true, nil, nil), "rollout"},
		{obj("kubernetes:batch/v1:Job", "j", "", true, nil, nil), "completion"},
		{obj("kubernetes:core/v1:Service", "s", "", true, nil, map[string]any{"spec": map[string]any{"selector": map[string]any{"app": "a"}}}), "endpoints"},
		{obj("kubernetes:core/v1:Service", "h", "", true, nil, map[string]any{"spec": map[string]any{"clusterIP": "None", "selector": map[string]any{"app": "a"}}}), ""},
		{obj("kubernetes:core/v1:Service", "n", "", true, nil, map[string]any{"spec": map[string]any{}}), ""},
		{obj("kubernetes:networking.k8s.io/v1:Ingress", "i", "", true, nil, nil), "load balancer address"},
		{obj("kubernetes:networking.k8s.io/v1:Ingress", "i", "", true, nil, skip), ""},
		{obj("kubernetes:core/v1:ConfigMap", "c", "", true, nil, nil), ""},
		{obj("cirkelline:components:WebService", "w", "", false, nil, nil), ""},
	}
	for _, tt := range tests {
		if got := render.AwaitRule(tt.r); got != tt.want {
			t.Errorf("%s %s: %q, want %q", tt.r.Type, tt.r.Name, got, tt.want)
		}
	}
}

// TestCriticalPath: a Job under a component that depends on a web
// component waits for the web Deployment's rollout; a Secret built from a
// Service's output puts the Service's await on the path of whatever uses it.
func TestCriticalPath(t *testing.T) {
	svcSpec := map[string]any{"spec": map[string]any{"selector": map[string]any{"app": "redis"}}}
	resources := []mockrun.Resource{
		obj("cirkelline:components:WebService", "web", "", false, nil, nil),
		obj("kubernetes:apps/v1:Deployment", "backend", "urn:web", true, []string{"urn:redis-env"}, nil),
		obj("kubernetes:core/v1:Service", "redis", "", true, nil, svcSpec),
		obj("kubernetes:core/v1:Secret", "redis-env", "", true, []string{"urn:redis"}, nil),
		obj("cirkelline:components:LoadTest", "lt", "", false, []string{"urn:web"}, nil),
		obj("kubernetes:batch/v1:Job", "loadtest-1", "urn:lt", true, nil, nil),
	}
	g := render.NewGraph(resources)
	if got := links(g.CriticalPath()); got != "redis endpoints, backend rollout, loadtest-1 completion" {
		t.Errorf("chain %s", got)
	}
	var names []string
	for _, d := range g.DependsOn(resources[5]) {
		names = append(names, d.Name)
	}
	if !reflect.DeepEqual(names, []string{"backend", "redis", "redis-env"}) {
		t.Errorf("the Job waits for %v", names)
	}
	// With the name known from the plan, the Secret no longer waits: two
	// chains remain, and the one that takes longer by the measured await
	// times sets the wall time, not the one with more links.
	resources[3].DependsOn = nil
	want := "backend rollout, loadtest-1 completion"
	if render.AwaitTime["endpoints"] > render.AwaitTime["rollout"]+render.AwaitTime["completion"] {
		want = "redis endpoints"
	}
	if got := links(render.NewGraph(resources).CriticalPath()); got != want {
		t.Errorf("chain after the cut %s, want %s", got, want)
	}
	// Measured the other way round, the other chain is named.
	saved := render.AwaitTime["endpoints"]
	defer func() { render.AwaitTime["endpoints"] = saved }()
	render.AwaitTime["endpoints"] = render.AwaitTime["rollout"] + render.AwaitTime["completion"] + 1
	if got := links(render.NewGraph(resources).CriticalPath()); got != "redis endpoints" {
		t.Errorf("a slower Service await: chain %s, want the Service alone", got)
	}
	render.AwaitTime["endpoints"] = 0
	if got := links(render.NewGraph(resources).CriticalPath()); got != "backend rollout, loadtest-1 completion" {
		t.Errorf("an instant Service await: chain %s, want the rollout and the Job", got)
	}
}

// links names a chain's objects and rules.
func links(chain []render.Await) string {
	var parts []string
	for _, a := range chain {
		parts = append(parts, a.Resource.Name+" "+a.Rule)
	}
	return strings.Join(parts, ", ")
}

func TestFormatChain(t *testing.T) {
	chain := []render.Await{
		{Resource: obj("kubernetes:apps/v1:Deployment", "backend", "", true, nil, nil), Rule: "rollout"},
		{Resource: obj("kubernetes:batch/v1:Job", "loadtest-1", "", true, nil, nil), Rule: "completion"},
	}
	r, c := render.AwaitTime["rollout"], render.AwaitTime["completion"]
	want := fmt.Sprintf("Deployment backend (rollout, %.1f s) → Job loadtest-1 (completion, %.1f s): %.1f s", r.Seconds(), c.Seconds(), (r + c).Seconds())
	if got := render.FormatChain(chain); got != want {
		t.Errorf("FormatChain: %q, want %q", got, want)
	}
	if got := render.FormatChain(nil); got != "nothing is awaited" {
		t.Errorf("FormatChain(nil): %q", got)
	}
}
