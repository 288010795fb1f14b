// Package renametest holds the renames the URN check is tested on: the
// render tests give them to the mocks, the engine tests to the real
// engine, and both must find the same URNs lost.
package renametest

import (
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Project and Stack the programs run as.
const (
	Project = "renames"
	Stack   = "dev"
)

// Case is one edit of Base: the component's and the child's names, and
// the aliases they carry.
type Case struct {
	Name string
	// Component is the component's logical name; its child is named
	// Component+ChildSuffix, as this project's components name children.
	Component   string
	ChildSuffix string
	// ComponentAliases and ChildAliases are given as pulumi.Aliases.
	ComponentAliases, ChildAliases []pulumi.Alias
	// ChildAtRoot registers the child without its parent, and
	// ChildAliasedUnderComponent aliases it to its place under the
	// component.
	ChildAtRoot, ChildAliasedUnderComponent bool
	// Lost are the names (logical, of the Base program) whose URNs the
	// engine no longer matches: each is deleted and its successor created.
	Lost []string
}

// Base is the program the stack was last deployed with.
var Base = Case{Name: "unchanged", Component: "probe", ChildSuffix: "-config"}

// Cases are renames with and without aliases.
var Cases = []Case{
	Base,
	{Name: "child renamed", Component: "probe", ChildSuffix: "-settings", Lost: []string{"probe-config"}},
	{Name: "child renamed with an alias", Component: "probe", ChildSuffix: "-settings",
		ChildAliases: []pulumi.Alias{{Name: pulumi.String("probe-config")}}},
	{Name: "component renamed", Component: "sonde", ChildSuffix: "-config", Lost: []string{"probe", "probe-config"}},
	// The child is not aliased itself: it inherits its parent's alias,
	// its name's prefix following the parent's old name.
	{Name: "component renamed with an alias", Component: "sonde", ChildSuffix: "-config",
		ComponentAliases: []pulumi.Alias{{Name: pulumi.String("probe")}}},
	{Name: "child moved to the stack root", Component: "probe", ChildSuffix: "-config", ChildAtRoot: true, Lost: []string{"probe-config"}},
	{Name: "child moved to the stack root with an alias", Component: "probe", ChildSuffix: "-config", ChildAtRoot: true,
		ChildAliasedUnderComponent: true},
}

// ComponentType and ChildType are the probe's resource types; the child's
// is a ConfigMap so the real provider can create it.
const (
	ComponentType = "renametest:index:Probe"
	ChildType     = "kubernetes:core/v1:ConfigMap"
)

type probe struct{ pulumi.ResourceState }

// Program registers the case's component and its child, a ConfigMap in
// namespace, auto-named by the provider so a renamed child's object is a
// new one.
func (c Case) Program(namespace string) pulumi.RunFunc {
	return func(ctx *pulumi.Context) error {
		comp := &probe{}
		if err := ctx.RegisterComponentResource(ComponentType, c.Component, comp, pulumi.Aliases(c.ComponentAliases)); err != nil {
			return err
		}
		aliases := c.ChildAliases
		if c.ChildAliasedUnderComponent {
			aliases = append(aliases, pulumi.Alias{Parent: comp})
		}
		opts := []pulumi.ResourceOption{pulumi.Aliases(aliases)}
		if !c.ChildAtRoot {
			opts = append(opts, pulumi.Parent(comp))
		}
		_, err := corev1.NewConfigMap(ctx, c.Component+c.ChildSuffix, &corev1.ConfigMapArgs{
			Metadata: &metav1.ObjectMetaArgs{Namespace: pulumi.String(namespace)},
			Data:     pulumi.StringMap{"probe": pulumi.String("1")},
		}, opts...)
		return err
	}
}
