package render

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/cirkelline/infra/internal/mockrun"
)

// Await is one object `pulumi up` waits on after creating it.
type Await struct {
	Resource mockrun.Resource
	// Rule is what the provider waits for, e.g. "rollout".
	Rule string
}

// AwaitRule is what the provider waits for after creating r, or "" when it
// moves on at once. pulumi-kubernetes v4.25.0 (provider/pkg/await):
//   - Deployment: the rollout, the new ReplicaSet's pods available
//     (deployment.go);
//   - Job: completion (job.go);
//   - Service: endpoints for ready pods, except a headless Service, an
//     ExternalName Service or one without a selector (service.go,
//     shouldWaitForPods);
//   - Ingress: an address from the load balancer controller (ingress.go);
//   - any object annotated pulumi.com/skipAwait: "true": nothing
//     (await.go, metadata.SkipAwaitLogic).
//
// ConfigMaps, Secrets, RBAC, HPAs, PDBs and NetworkPolicies are created at
// once (awaiters.go). An ElastiCache replication group's endpoint is known
// only once AWS has provisioned the group.
func AwaitRule(r mockrun.Resource) string {
	if !r.Custom {
		return ""
	}
	meta, _ := r.Inputs["metadata"].(map[string]any)
	if ann, _ := meta["annotations"].(map[string]any); ann["pulumi.com/skipAwait"] == "true" {
		return ""
	}
	spec, _ := r.Inputs["spec"].(map[string]any)
	switch r.Type {
	case "kubernetes:apps/v1:Deployment":
		return "rollout"
	case "kubernetes:batch/v1:Job":
		return "completion"
	case "kubernetes:core/v1:Service":
		selector, _ := spec["selector"].(map[string]any)
		if spec["clusterIP"] == "None" || spec["type"] == "ExternalName" || len(selector) == 0 {
			return ""
		}
		return "endpoints"
	case "kubernetes:networking.k8s.io/v1:Ingress":
		return "load balancer address"
	case "aws:elasticache/replicationGroup:ReplicationGroup":
		return "provisioned"
	}
	return ""
}

// Graph is the engine's view of the registrations: who waits for whom.
type Graph struct {
	byURN    map[string]mockrun.Resource
	children map[string][]string
}

// NewGraph indexes the captured resources.
func NewGraph(resources []mockrun.Resource) *Graph {
	g := &Graph{byURN: map[string]mockrun.Resource{}, children: map[string][]string{}}
	for _, r := range resources {
		g.byURN[r.URN] = r
		if r.Parent != "" {
			g.children[r.Parent] = append(g.children[r.Parent], r.URN)
		}
	}
	return g
}

// deps are the URNs r waits for: its own, and its ancestors' (the SDK
// registers a child only once its parent is registered, and a parent only
// once its dependencies are created).
//
// A dependency on one child of another component stands for the whole
// component: the SDK expands a dependency on a component into the children
// registered so far, a set that depends on timing, while the program's
// intent (and what a deploy must be planned for) is all of them.
func (g *Graph) deps(r mockrun.Resource) []string {
	raw := slices.Clone(r.DependsOn)
	ancestors := map[string]bool{}
	for p, ok := g.byURN[r.Parent]; ok; p, ok = g.byURN[p.Parent] {
		raw = append(raw, p.DependsOn...)
		ancestors[p.URN] = true
	}
	out := make([]string, 0, len(raw))
	for _, d := range raw {
		out = append(out, g.outermostComponent(d, ancestors))
	}
	return out
}

// outermostComponent is the top-most component above urn that is not one
// of ancestors, or urn itself when it has none.
func (g *Graph) outermostComponent(urn string, ancestors map[string]bool) string {
	top := urn
	for p, ok := g.byURN[g.byURN[urn].Parent]; ok && !p.Custom && !ancestors[p.URN]; p, ok = g.byURN[p.Parent] {
		top = p.URN
	}
	return top
}

// direct is the custom resources r waits for itself: a component among its
// dependencies stands for every custom resource under it.
func (g *Graph) direct(r mockrun.Resource) []mockrun.Resource {
	var out []mockrun.Resource
	seen := map[string]bool{}
	var visit func(urn string)
	visit = func(urn string) {
		if seen[urn] {
			return
		}
		seen[urn] = true
		d, ok := g.byURN[urn]
		switch {
		case !ok:
		case d.Custom:
			out = append(out, d)
		default:
			for _, c := range g.children[urn] {
				visit(c)
			}
		}
	}
	for _, d := range g.deps(r) {
		visit(d)
	}
	slices.SortFunc(out, func(a, b mockrun.Resource) int { return strings.Compare(a.URN, b.URN) })
	return out
}

// DependsOn is every custom resource r waits for, directly or through the
// resources those wait for.
func (g *Graph) DependsOn(r mockrun.Resource) []mockrun.Resource {
	seen := map[string]bool{}
	var out []mockrun.Resource
	var visit func(mockrun.Resource)
	visit = func(r mockrun.Resource) {
		for _, d := range g.direct(r) {
			if !seen[d.URN] {
				seen[d.URN] = true
				out = append(out, d)
				visit(d)
			}
		}
	}
	visit(r)
	slices.SortFunc(out, func(a, b mockrun.Resource) int { return strings.Compare(a.URN, b.URN) })
	return out
}

// AwaitTime is how long `pulumi up` waits on an object after creating it,
// by AwaitRule. Rollout, completion and endpoints are what bench/deploy.sh
// measured: the real engine and Kubernetes provider on the project's
// control plane, from each object's create to its outputs in the engine's
// events, medians of three runs of `local` (hack/engine/README.md). They
// weigh the chains, so render names the chain that sets the wall time,
// not the one with the most links (the endpoint awaits, which no longer
// run, once set it). A real cluster adds image pulls and start-up to a
// rollout; the ratios between kinds are what matter here. Not measured
// here, and weighted only to rank above every Kubernetes await: an
// Ingress's load balancer address (the control plane has no AWS Load
// Balancer Controller) and an ElastiCache replication group, which AWS
// provisions in minutes.
var AwaitTime = map[string]time.Duration{
	"rollout":               600 * time.Millisecond,
	"completion":            1300 * time.Millisecond,
	"endpoints":             200 * time.Millisecond,
	"load balancer address": 2 * time.Minute,
	"provisioned":           10 * time.Minute,
}

// CriticalPath is the chain of awaited objects `pulumi up` waits through
// one after another (each starts only when the one before is done) that
// takes longest by AwaitTime: the chain that sets the wall time.
func (g *Graph) CriticalPath() []Await {
	type best struct {
		took  time.Duration
		chain []Await
	}
	memo := map[string]best{}
	var longest func(r mockrun.Resource) best
	longest = func(r mockrun.Resource) best {
		if b, ok := memo[r.URN]; ok {
			return b
		}
		memo[r.URN] = best{} // a cycle cannot be registered; guard anyway
		var pick best
		for _, d := range g.direct(r) {
			if b := longest(d); b.took > pick.took || pick.chain == nil && b.chain != nil {
				pick = b
			}
		}
		out := best{took: pick.took, chain: slices.Clone(pick.chain)}
		if rule := AwaitRule(r); rule != "" {
			out.took += AwaitTime[rule]
			out.chain = append(out.chain, Await{Resource: r, Rule: rule})
		}
		memo[r.URN] = out
		return out
	}
	var top best
	urns := make([]string, 0, len(g.byURN))
	for u := range g.byURN {
		urns = append(urns, u)
	}
	slices.Sort(urns)
	for _, u := range urns {
		if r := g.byURN[u]; r.Custom {
			if b := longest(r); b.took > top.took {
				top = b
			}
		}
	}
	return top.chain
}

// FormatChain writes a chain as "Deployment backend (rollout, 2.1 s) →
// Job loadtest-1 (completion, 3.0 s): 5.1 s", each object by its kind and
// Kubernetes name, with its AwaitTime and the chain's total.
func FormatChain(chain []Await) string {
	if len(chain) == 0 {
		return "nothing is awaited"
	}
	parts := make([]string, len(chain))
	var total time.Duration
	for i, a := range chain {
		parts[i] = fmt.Sprintf("%s %s (%s, %s)", kindOf(a.Resource), objectName(a.Resource), a.Rule, roughly(AwaitTime[a.Rule]))
		total += AwaitTime[a.Rule]
	}
	return strings.Join(parts, " → ") + ": " + roughly(total)
}

// roughly prints a duration to a tenth of a second, or whole minutes.
func roughly(d time.Duration) string {
	if d >= time.Minute {
		return fmt.Sprintf("%d min", int(d.Round(time.Minute)/time.Minute))
	}
	return fmt.Sprintf("%.1f s", d.Seconds())
}

func kindOf(r mockrun.Resource) string { return r.Type[strings.LastIndex(r.Type, ":")+1:] }

func objectName(r mockrun.Resource) string {
	if meta, ok := r.Inputs["metadata"].(map[string]any); ok {
		if n, ok := meta["name"].(string); ok {
			return n
		}
	}
	return r.Name
}
