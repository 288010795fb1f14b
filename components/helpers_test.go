package components_test

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
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

// objects is every resource the component registered: a Kubernetes object
// decoded strictly into its Go type (mockrun.TypedObject), keyed by
// objectKey; any other (a cloud resource) as a cloudResource, keyed by its
// type token and Pulumi name.
func (c captured) objects() map[string]any {
	c.t.Helper()
	out := map[string]any{}
	for _, r := range c.resources {
		if !r.Custom {
			continue
		}
		if !strings.HasPrefix(r.Type, "kubernetes:") {
			out[r.Type+" "+r.Name] = cloudResource{Inputs: r.Inputs, Protect: r.Protect}
			continue
		}
		// "kubernetes:<group/version>:<kind>"
		obj, ok := mockrun.TypedObject(r.Type[strings.LastIndex(r.Type, ":")+1:])
		if !ok {
			c.t.Fatalf("%s %s: no Go type to decode it into; add it to mockrun.TypedObject", r.Type, r.Name)
		}
		b, err := yaml.Marshal(r.Inputs)
		if err != nil {
			c.t.Fatal(err)
		}
		if err := yaml.UnmarshalStrict(b, obj); err != nil {
			c.t.Fatalf("%s %s does not decode strictly: %v", r.Type, r.Name, err)
		}
		key := objectKey(obj)
		if _, dup := out[key]; dup {
			c.t.Fatalf("%s registered twice", key)
		}
		out[key] = obj
	}
	return out
}

// cloudResource is a resource of another provider than Kubernetes: the
// inputs the provider receives (secrets as mockrun.SecretPlaceholder,
// another resource's ID as "[id of <type> <name>]"), and whether it is
// protected.
type cloudResource struct {
	Inputs  map[string]any
	Protect bool
}

// objectKey names an object by its kind, namespace and name.
func objectKey(obj runtime.Object) string {
	m, ok := obj.(metav1.Object)
	if !ok {
		panic(fmt.Sprintf("%T has no object metadata", obj))
	}
	return fmt.Sprintf("%s %s/%s", obj.GetObjectKind().GroupVersionKind().Kind, m.GetNamespace(), m.GetName())
}

// keyed keys the wanted objects as objects does, leaving out nil ones (an
// object a row removes).
func keyed(objs ...runtime.Object) map[string]any {
	out := map[string]any{}
	for _, o := range objs {
		if o == nil || reflect.ValueOf(o).IsNil() {
			continue
		}
		out[objectKey(o)] = o
	}
	return out
}

// typeMeta is an object's apiVersion and kind, as every registered object
// carries them.
func typeMeta(apiVersion, kind string) metav1.TypeMeta {
	return metav1.TypeMeta{APIVersion: apiVersion, Kind: kind}
}

// objectRow is one row of a component's table test: a change to the base
// args, and the same change to the wanted objects.
type objectRow[A, O any] struct {
	name  string
	setup func(*A)
	want  func(*O)
}

// wholeObjects are a component's wanted objects, keyed as objects keys
// the registered ones.
type wholeObjects interface {
	all() map[string]any
}

// testObjectRows runs a component's table test k6-operator style: each
// row registers the base args with its change (through register, under
// Pulumi's mocks), and every object registered, parented to the one
// component of componentType, must equal the base objects with the row's
// change, compared whole; a failure prints the diff.
func testObjectRows[A any, O wholeObjects](t *testing.T, componentType string, baseArgs func() A, baseObjects func() O, register func(*pulumi.Context, A) error, rows []objectRow[A, O]) {
	t.Helper()
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			args := baseArgs()
			row.setup(&args)
			want := baseObjects()
			row.want(&want)
			c := capture(t, func(ctx *pulumi.Context) error { return register(ctx, args) })
			c.checkParenting(componentType)
			if d := cmp.Diff(want.all(), c.objects()); d != "" {
				t.Errorf("registered objects differ (-want +got):\n%s", d)
			}
		})
	}
}
