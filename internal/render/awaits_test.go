package render_test

import (
	"reflect"
	"testing"

	"github.com/cirkelline/infra/internal/render"
)

func obj(typ, name string, parent string, custom bool, deps []string, inputs map[string]any) render.Resource {
	if inputs == nil {
		inputs = map[string]any{}
	}
	if _, ok := inputs["metadata"]; !ok {
		inputs["metadata"] = map[string]any{"name": name}
	}
	return render.Resource{Type: typ, Name: name, URN: "urn:" + name, Parent: parent, Custom: custom, DependsOn: deps, Inputs: inputs}
}

func TestAwaitRule(t *testing.T) {
	skip := map[string]any{"metadata": map[string]any{"name": "x", "annotations": map[string]any{"pulumi.com/skipAwait": "true"}}}
	tests := []struct {
		r    render.Resource
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
	resources := []render.Resource{
		obj("cirkelline:components:WebService", "web", "", false, nil, nil),
		obj("kubernetes:apps/v1:Deployment", "backend", "urn:web", true, []string{"urn:redis-env"}, nil),
		obj("kubernetes:core/v1:Service", "redis", "", true, nil, svcSpec),
		obj("kubernetes:core/v1:Secret", "redis-env", "", true, []string{"urn:redis"}, nil),
		obj("cirkelline:components:LoadTest", "lt", "", false, []string{"urn:web"}, nil),
		obj("kubernetes:batch/v1:Job", "loadtest-1", "urn:lt", true, nil, nil),
	}
	g := render.NewGraph(resources)
	if got := render.FormatChain(g.CriticalPath()); got != "Service redis (endpoints) → Deployment backend (rollout) → Job loadtest-1 (completion)" {
		t.Errorf("chain %s", got)
	}
	var names []string
	for _, d := range g.DependsOn(resources[5]) {
		names = append(names, d.Name)
	}
	if !reflect.DeepEqual(names, []string{"backend", "redis", "redis-env"}) {
		t.Errorf("the Job waits for %v", names)
	}
	// With the name known from the plan, the Secret no longer waits.
	resources[3].DependsOn = nil
	if got := render.FormatChain(render.NewGraph(resources).CriticalPath()); got != "Deployment backend (rollout) → Job loadtest-1 (completion)" {
		t.Errorf("chain after the cut %s", got)
	}
}
