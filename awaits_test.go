package main

import (
	"path/filepath"
	"testing"

	"github.com/cirkelline/infra/commands/render"
	"github.com/cirkelline/infra/components"
	"github.com/cirkelline/infra/internal/golden"
	"github.com/cirkelline/infra/internal/mockrun"
)

// label reads a resource's metadata label.
func label(r mockrun.Resource, key string) string {
	meta, _ := r.Inputs["metadata"].(map[string]any)
	labels, _ := meta["labels"].(map[string]any)
	v, _ := labels[key].(string)
	return v
}

// TestNoRolloutWaitsOnAnotherObjectsAwait: in every shipped stack, no
// Deployment, HPA or Job waits (directly, through its inputs, or through
// its parents' dependencies) for a Service or another Deployment, except
// what the plan declares: a load test's Jobs start after the services they
// test. Values known from the plan (names, in-cluster DNS names) must not
// be taken from other resources' outputs.
func TestNoRolloutWaitsOnAnotherObjectsAwait(t *testing.T) {
	for _, stack := range shippedStacks(t) {
		t.Run(stack, func(t *testing.T) {
			res := renderStack(t, stack)
			g := render.NewGraph(res.Resources)
			for _, r := range res.Resources {
				switch r.Type {
				case "kubernetes:apps/v1:Deployment", "kubernetes:autoscaling/v2:HorizontalPodAutoscaler", "kubernetes:batch/v1:Job":
				default:
					continue
				}
				loadTest := label(r, "app.kubernetes.io/component") == "loadtest"
				for _, d := range g.DependsOn(r) {
					if d.Type != "kubernetes:core/v1:Service" && d.Type != "kubernetes:apps/v1:Deployment" {
						continue
					}
					if c := label(d, components.LabelComponent); loadTest && (c == components.WebComponent || c == components.PeersComponent) {
						continue // declared: the runners test these services
					}
					t.Errorf("%s %s waits for %s %s", r.Type, r.Name, d.Type, d.Name)
				}
			}
		})
	}
}

// TestAwaitedChain pins what `pulumi up` waits through, per stack
// (testdata/awaits/<stack>.txt; -update rewrites them).
func TestAwaitedChain(t *testing.T) {
	for _, stack := range shippedStacks(t) {
		t.Run(stack, func(t *testing.T) {
			got := render.FormatChain(renderStack(t, stack).AwaitChain) + "\n"
			golden.Check(t, filepath.Join("testdata", "awaits", stack+".txt"), []byte(got))
		})
	}
}
