package components_test

import (
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"sigs.k8s.io/yaml"

	"github.com/cirkelline/infra/internal/mockrun"
)

// captured is what a component registered, run against Pulumi's mocks.
type captured struct {
	t         *testing.T
	resources []mockrun.Resource
}

func capture(t *testing.T, fn pulumi.RunFunc) captured {
	t.Helper()
	res, err := mockrun.Capture("test", "unit", nil, nil, fn)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	return captured{t: t, resources: res}
}

// get decodes the Kubernetes object of a type token and metadata.name
// strictly into a k8s.io/api type; ok is false when there is none.
func (c captured) get(typeToken, name string, into any) bool {
	c.t.Helper()
	for _, r := range c.resources {
		if r.Type != typeToken {
			continue
		}
		meta, _ := r.Inputs["metadata"].(map[string]any)
		if meta["name"] != name {
			continue
		}
		b, err := yaml.Marshal(r.Inputs)
		if err != nil {
			c.t.Fatal(err)
		}
		if err := yaml.UnmarshalStrict(b, into); err != nil {
			c.t.Fatalf("%s %s does not decode strictly: %v", typeToken, name, err)
		}
		return true
	}
	return false
}

func (c captured) mustGet(typeToken, name string, into any) {
	c.t.Helper()
	if !c.get(typeToken, name, into) {
		c.t.Fatalf("no %s named %s; registered: %v", typeToken, name, c.names())
	}
}

func (c captured) names() []string {
	var out []string
	for _, r := range c.resources {
		out = append(out, r.Type+" "+r.Name)
	}
	return out
}

// checkParenting asserts every custom resource is a child of the one
// component of componentType, and that component of the stack.
func (c captured) checkParenting(componentType string) {
	c.t.Helper()
	var comp string
	for _, r := range c.resources {
		if r.Type == componentType {
			comp = r.Name
			if r.ParentType() != "pulumi:pulumi:Stack" {
				c.t.Errorf("%s %s: parent %s, want the stack", r.Type, r.Name, r.Parent)
			}
		}
	}
	if comp == "" {
		c.t.Fatalf("no %s registered: %v", componentType, c.names())
	}
	for _, r := range c.resources {
		if !r.Custom {
			continue
		}
		if r.ParentType() != componentType || r.ParentName() != comp {
			c.t.Errorf("%s %s: parent %s, want %s %s", r.Type, r.Name, r.Parent, componentType, comp)
		}
	}
}

func ptr[T any](v T) *T { return &v }
