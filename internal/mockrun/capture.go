// Package mockrun runs a Pulumi program in-process against mocks and turns
// what it registers into manifests a reviewer can read: one YAML file per
// Kubernetes object, and cloud resources as their type and inputs. Nothing
// talks to a cluster or a cloud, and secrets are never decrypted.
package mockrun

import (
	"context"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"sync"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Placeholders for values the render cannot or must not show.
const (
	// SecretPlaceholder is what Pulumi's blinding decrypter returns for a
	// secure config value (pulumi/pulumi sdk/v3 v3.263.0,
	// go/common/resource/config/crypt.go, blindingCrypter.DecryptValue), so a
	// secret reads the same from the stack file and from a resource; the
	// stack schema prints its secrets the same way (stacks.Redacted, tied to
	// this by a test).
	SecretPlaceholder  = "[secret]"
	UnknownPlaceholder = "[unknown]"
)

// Resource is one registered resource, as the engine would see it.
type Resource struct {
	// Type token, e.g. "kubernetes:apps/v1:Deployment".
	Type string
	// Name is the logical (Pulumi) name.
	Name string
	// Parent is the parent's URN ("" for the stack itself).
	Parent string
	// Custom is false for ComponentResources.
	Custom bool
	// Protect is true when the resource is protected from deletion.
	Protect bool
	// Inputs with secrets as SecretPlaceholder and unknowns as UnknownPlaceholder.
	Inputs map[string]any
	// URN is the resource's URN, as the engine would make it.
	URN string
	// DependsOn are the URNs the engine waits for before creating it: its
	// dependsOn and the resources its inputs came from (from the
	// RegisterResourceRequest; parents are not dependencies).
	DependsOn []string
	// Aliases are the URNs the resource was known by before, resolved from
	// its pulumi.Aliases as the engine resolves them.
	Aliases []string
}

// ParentName is the logical name of the resource's parent.
func (r Resource) ParentName() string { return resource.URN(r.Parent).Name() }

// ParentType is the type token of the resource's parent.
func (r Resource) ParentType() string { return string(resource.URN(r.Parent).Type()) }

// recorder is a pulumi.MockResourceMonitor that records every resource and
// echoes its inputs back as its outputs (what a preview would show).
type recorder struct {
	project, stack string
	mu             sync.Mutex
	resources      []Resource
	// stackOutputs are stand-in outputs of other stacks, by stack name.
	stackOutputs map[string]resource.PropertyMap
	// aliases of every registered resource, by URN.
	aliases map[string][]string
}

func (r *recorder) NewResource(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	res := Resource{Type: args.TypeToken, Name: args.Name, Custom: args.Custom, Inputs: plainMap(args.Inputs)}
	if rpc := args.RegisterRPC; rpc != nil {
		res.Parent = rpc.GetParent()
		res.Protect = rpc.GetProtect()
		deps := map[string]bool{}
		for _, d := range rpc.GetDependencies() {
			deps[d] = true
		}
		for _, pd := range rpc.GetPropertyDependencies() {
			for _, d := range pd.GetUrns() {
				deps[d] = true
			}
		}
		res.DependsOn = slices.Sorted(maps.Keys(deps))
		res.Aliases = aliasURNs(rpc, r.project, r.stack)
	}
	res.URN = r.urn(res.Parent, res.Type, res.Name)
	r.mu.Lock()
	// A parent is registered before its children (a child names its
	// parent's URN), so the parent's aliases are known here.
	res.Aliases = append(res.Aliases, inheritedAliases(res, r.aliases[res.Parent], r.project, r.stack)...)
	if r.aliases == nil {
		r.aliases = map[string][]string{}
	}
	r.aliases[res.URN] = res.Aliases
	r.resources = append(r.resources, res)
	r.mu.Unlock()
	state := args.Inputs.Copy()
	switch args.TypeToken {
	case "pulumi:pulumi:StackReference":
		// Another stack's outputs cannot be read offline; stand-ins name them.
		outputs := r.stackOutputs[args.Inputs["name"].StringValue()]
		if outputs == nil {
			outputs = resource.PropertyMap{}
		}
		state["outputs"] = resource.NewObjectProperty(outputs)
	case "aws:elasticache/replicationGroup:ReplicationGroup":
		// Provider-computed outputs that flow into secrets must be known:
		// Pulumi's mocks cannot carry a secret whose value is unknown. The
		// placeholder only ever appears inside a [secret].
		id := args.Inputs["replicationGroupId"].StringValue()
		state["primaryEndpointAddress"] = resource.NewStringProperty("master." + id + ".cache.amazonaws.com")
	}
	// The ID a provider would assign is unknown offline. The mocks drop
	// unknown values altogether, so a readable stand-in names it instead.
	typeName := args.TypeToken[strings.LastIndex(args.TypeToken, ":")+1:]
	return fmt.Sprintf("[id of %s %s]", typeName, args.Name), state, nil
}

// urn is the URN the mock monitor gives a resource (pulumi's mocks.go
// newURN): the parent's type qualifies the type, the stack root's does not.
func (r *recorder) urn(parent, typ, name string) string {
	parentType := tokens.Type("")
	if p := resource.URN(parent); p != "" && p.QualifiedType() != resource.RootStackType {
		parentType = p.QualifiedType()
	}
	return string(resource.NewURN(tokens.QName(r.stack), tokens.PackageName(r.project), parentType, tokens.Type(typ), name))
}

func (r *recorder) Call(args pulumi.MockCallArgs) (resource.PropertyMap, error) {
	return resource.PropertyMap{}, nil
}

// Capture runs fn as a Pulumi program for project and stack with the given
// config (fully qualified keys, objects as JSON) against mocks, as a preview,
// and returns every resource it registered, in a stable order.
func Capture(project, stack string, config map[string]string, secretKeys []string, fn pulumi.RunFunc) ([]Resource, error) {
	return CaptureWithStackOutputs(project, stack, config, secretKeys, nil, fn)
}

// CaptureWithStackOutputs is Capture with the outputs a StackReference reads,
// by the referenced stack's name.
func CaptureWithStackOutputs(project, stack string, config map[string]string, secretKeys []string, stackOutputs map[string]resource.PropertyMap, fn pulumi.RunFunc) ([]Resource, error) {
	rec := &recorder{project: project, stack: stack, stackOutputs: stackOutputs}
	ctx, err := pulumi.NewContext(context.Background(), pulumi.RunInfo{
		Project: project, Stack: stack, Config: config, ConfigSecretKeys: secretKeys,
		Mocks: rec, DryRun: true,
	})
	if err != nil {
		return nil, fmt.Errorf("start mock engine: %w", err)
	}
	runErr := pulumi.RunWithContext(ctx, fn)
	if err := ctx.Close(); err != nil && runErr == nil {
		runErr = err
	}
	if runErr != nil {
		return nil, runErr
	}
	res := rec.resources
	slices.SortFunc(res, func(a, b Resource) int {
		return strings.Compare(a.Type+"\x00"+a.Name, b.Type+"\x00"+b.Name)
	})
	return res, nil
}

func plainMap(m resource.PropertyMap) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		if pv, ok := plainValue(v); ok {
			out[string(k)] = pv
		}
	}
	return out
}

// redacted keeps a secret's shape (object keys, list lengths) so reviewers
// see which keys a Secret holds, and hides every scalar.
func redacted(v resource.PropertyValue) any {
	switch {
	case v.IsObject():
		out := map[string]any{}
		for k, e := range v.ObjectValue() {
			out[string(k)] = redacted(e)
		}
		return out
	case v.IsArray():
		var out []any
		for _, e := range v.ArrayValue() {
			out = append(out, redacted(e))
		}
		return out
	case v.IsSecret():
		return redacted(v.SecretValue().Element)
	case v.IsOutput() && v.OutputValue().Known:
		return redacted(v.OutputValue().Element)
	}
	return SecretPlaceholder
}

// plainValue turns a property value into YAML-friendly Go values. Nulls are
// dropped (ok == false), as the provider does.
func plainValue(v resource.PropertyValue) (any, bool) {
	switch {
	case v.IsNull():
		return nil, false
	case v.IsSecret():
		return redacted(v.SecretValue().Element), true
	case v.IsComputed():
		return UnknownPlaceholder, true
	case v.IsOutput():
		o := v.OutputValue()
		if o.Secret {
			return redacted(o.Element), true
		}
		if !o.Known {
			return UnknownPlaceholder, true
		}
		return plainValue(o.Element)
	case v.IsBool():
		return v.BoolValue(), true
	case v.IsNumber():
		n := v.NumberValue()
		if n == math.Trunc(n) && math.Abs(n) < 1<<53 {
			return int64(n), true
		}
		return n, true
	case v.IsString():
		return v.StringValue(), true
	case v.IsArray():
		arr := v.ArrayValue()
		out := make([]any, 0, len(arr))
		for _, e := range arr {
			if pe, ok := plainValue(e); ok {
				out = append(out, pe)
			}
		}
		return out, true
	case v.IsObject():
		return plainMap(v.ObjectValue()), true
	case v.IsResourceReference():
		return v.ResourceReferenceValue().URN, true
	}
	return fmt.Sprint(v), true
}
