package mockrun

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

// URNsFile lists, beside the manifests, the URN of every resource a stack
// registers: the identities its state keeps. A pull request shows a renamed
// resource there as a line gone and a line added.
const URNsFile = "urns.txt"

// URNs are the URNs of every registered resource but the stack itself,
// sorted: what the engine records in the stack's state.
func URNs(resources []Resource) []string {
	var out []string
	for _, r := range resources {
		if r.Type == string(resource.RootStackType) {
			continue
		}
		out = append(out, r.URN)
	}
	slices.Sort(out)
	return out
}

// FormatURNs is the content of URNsFile.
func FormatURNs(urns []string) []byte {
	if len(urns) == 0 {
		return nil
	}
	return []byte(strings.Join(urns, "\n") + "\n")
}

// ParseURNs reads URNsFile.
func ParseURNs(b []byte) []string {
	return strings.Fields(string(b))
}

// LostURNs are the URNs of before (a stack's last accepted registrations)
// that no resource of now has, nor names as an alias. The engine matches a
// resource to its state by URN, or by one of its aliases; a URN it cannot
// match is deleted and its successor created (pulumi/pulumi
// pkg/resource/deploy/step_generator.go: generateSteps looks the old state
// up by the URN and by each alias generateAliases gives), so every lost
// URN is a replace of a live object on every live stack;
// engine/urns_test.go checks this against the real engine.
func LostURNs(before []string, now []Resource) []string {
	known := map[string]bool{}
	for _, r := range now {
		known[r.URN] = true
		for _, a := range r.Aliases {
			known[a] = true
		}
	}
	var lost []string
	for _, u := range before {
		if !known[u] {
			lost = append(lost, u)
		}
	}
	return lost
}

// ExplainLostURNs says what a lost URN costs and how to keep it.
func ExplainLostURNs(lost []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d resource(s) of the last accepted render are gone: on every live stack `pulumi up` would delete each and create its successor (a replace, with downtime for a Deployment or a Service, and data loss for a stateful one):\n", len(lost))
	for _, u := range lost {
		fmt.Fprintf(&b, "  %s\n", u)
	}
	b.WriteString("fix: if the resource was renamed or moved, give the new one pulumi.Aliases([]pulumi.Alias{{Name: pulumi.String(\"<old name>\")}}) (or the old Parent/Type), so the engine matches it to its state; if the replace is intended, accept it with -update and say so in the pull request")
	return b.String()
}

// aliasURNs resolves the aliases a resource registered with to the URNs
// the engine will look up, as the engine does (pulumi/pulumi
// pkg/resource/deploy/step_generator.go, collapseAliasToUrn): an unset
// name, type, project or stack is the resource's own, an unset parent is
// its current parent, and the stack root or NoParent means no parent.
func aliasURNs(rpc *pulumirpc.RegisterResourceRequest, project, stack string) []string {
	out := slices.Clone(rpc.GetAliasURNs())
	for _, a := range rpc.GetAliases() {
		if u := a.GetUrn(); u != "" {
			out = append(out, u)
			continue
		}
		spec := a.GetSpec()
		if spec == nil {
			continue
		}
		name := cmp.Or(spec.GetName(), rpc.GetName())
		typ := cmp.Or(spec.GetType(), rpc.GetType())
		parent := resource.URN(cmp.Or(spec.GetParentUrn(), rpc.GetParent()))
		if spec.GetNoParent() || (parent != "" && parent.QualifiedType() == resource.RootStackType) {
			parent = ""
		}
		out = append(out, string(resource.CreateURN(name, typ, parent, cmp.Or(spec.GetProject(), project), cmp.Or(spec.GetStack(), stack))))
	}
	return out
}

// inheritedAliases are the aliases a child gets from its parent's, as the
// engine multiplies them out (pulumi/pulumi
// pkg/resource/deploy/step_generator.go, generateAliases and
// inheritedChildAlias): under each old URN of the parent, the child's
// current and aliased names, a name prefixed by the parent's name taking
// the parent's old name as its prefix.
func inheritedAliases(child Resource, parentAliases []string, project, stack string) []string {
	if child.Parent == "" || len(parentAliases) == 0 {
		return nil
	}
	parentName := resource.URN(child.Parent).Name()
	own := append([]string{child.URN}, child.Aliases...)
	var out []string
	for _, pa := range parentAliases {
		parentAlias := resource.URN(pa)
		for _, o := range own {
			u := resource.URN(o)
			name := u.Name()
			if strings.HasPrefix(name, parentName) {
				name = parentAlias.Name() + strings.TrimPrefix(name, parentName)
			}
			out = append(out, string(resource.NewURN(tokens.QName(stack), tokens.PackageName(project), parentAlias.QualifiedType(), u.Type(), name)))
		}
	}
	return out
}
