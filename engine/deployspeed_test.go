//go:build engine

package engine

import (
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"

	"github.com/cirkelline/infra/internal/mockrun"
)

// TestDeploySpeed is the deploy-speed benchmark (bench/deploy.sh runs it
// with ENGINE_BENCH_RUNS set; the lifecycle run skips it): `pulumi up` of
// `local` through this engine against `kubectl apply --server-side` of the
// same rendered objects plus `kubectl rollout status` of every Deployment
// and `kubectl wait --for=condition=complete` of every Job, alternating, on
// the same control plane; each side tears down (destroy, or delete of the
// namespace) before the next run, untimed. It prints each run, the ratio
// of the medians, and for the engine each kind's await (from a resource's
// step starting to its outputs arriving), so `render` can name the chain
// that sets the wall time. It asserts nothing about time: figures only.
func TestDeploySpeed(t *testing.T) {
	runs, _ := strconv.Atoi(os.Getenv("ENGINE_BENCH_RUNS"))
	if runs <= 0 {
		t.Skip("ENGINE_BENCH_RUNS not set: the deploy-speed benchmark runs from bench/deploy.sh")
	}
	needCluster(t)
	const stack = "local"
	objs := renderObjects(t, stack)
	s := openStack(t, stackOptions{Stack: stack, Backend: t.TempDir(), Env: map[string]string{"KUBECONFIG": cp.Kubeconfig}})
	for i, k := range missingSecrets(t, stack) {
		setSecret(t, s, k, secretValue(k, i))
	}
	var namespace string
	for _, o := range objs {
		if o.Kind == "Namespace" {
			namespace = o.Name
		}
	}
	var engine, kubectl []time.Duration
	awaits := map[string][]time.Duration{}
	var last []string
	for i := 0; i < runs; i++ {
		r := up(s).must(t, "up")
		wall := r.ended.Sub(r.began)
		engine = append(engine, wall)
		perKind, finishedLast := awaitDurations(r)
		for k, d := range perKind {
			awaits[k] = append(awaits[k], d...)
		}
		last = append(last, finishedLast)
		destroy(s).must(t, "destroy")
		waitFor(t, 2*time.Minute, "namespace gone after destroy", func() bool { return len(remaining(t, objs)) == 0 })

		d := applyAndWait(t, objs)
		kubectl = append(kubectl, d)
		if out, err := cp.Kubectl("delete", "namespace", namespace, "--wait=true", "--timeout=120s"); err != nil {
			t.Fatalf("delete namespace: %v\n%s", err, out)
		}
		waitFor(t, 2*time.Minute, "namespace gone after delete", func() bool { return len(remaining(t, objs)) == 0 })
		fmt.Printf("run %d: pulumi up %6.2fs   kubectl apply+wait %6.2fs   (last to finish under up: %s)\n", i+1, wall.Seconds(), d.Seconds(), finishedLast)
	}
	me, mk := median(engine), median(kubectl)
	fmt.Printf("median: pulumi up %.2fs, kubectl apply --server-side + rollout status + wait %.2fs\n", me.Seconds(), mk.Seconds())
	fmt.Printf("ratio: %.1fx (pulumi up / kubectl; target <= 3x)\n", me.Seconds()/mk.Seconds())
	fmt.Println("engine awaits by kind (median over runs and objects; max), from step start to outputs:")
	for _, k := range slices.Sorted(maps.Keys(awaits)) {
		fmt.Printf("  %-28s median %6.2fs  max %6.2fs  (%d)\n", k, median(awaits[k]).Seconds(), slices.Max(awaits[k]).Seconds(), len(awaits[k]))
	}
	fmt.Printf("last to finish per run: %s\n", strings.Join(last, "; "))
}

// awaitDurations are, per Kubernetes kind, how long each object took from
// its step starting (ResourcePreEvent) to its outputs (ResOutputsEvent):
// the provider's create and await. finishedLast names the last object.
func awaitDurations(r *run) (map[string][]time.Duration, string) {
	started := map[string]time.Time{}
	out := map[string][]time.Duration{}
	var lastAt time.Time
	var last string
	for i, e := range r.events {
		if p := e.ResourcePreEvent; p != nil {
			started[p.Metadata.URN] = r.at[i]
		}
		if o := e.ResOutputsEvent; o != nil && strings.HasPrefix(o.Metadata.Type, "kubernetes:") && o.Metadata.Op == apitype.OpCreate {
			k, _ := objectKey(o.Metadata)
			d := r.at[i].Sub(started[o.Metadata.URN])
			out[k.Kind] = append(out[k.Kind], d)
			if r.at[i].After(lastAt) {
				lastAt, last = r.at[i], fmt.Sprintf("%s after %.1fs", k, r.at[i].Sub(r.began).Seconds())
			}
		}
	}
	return out, last
}

// applyAndWait is the baseline: server-side apply of the rendered objects
// in render's apply order, then what `pulumi up` waits for.
func applyAndWait(t *testing.T, objs []mockrun.Object) time.Duration {
	t.Helper()
	began := time.Now()
	if out, err := cp.KubectlIn(manifestStream(objs), "apply", "--server-side", "--field-manager=bench", "-f", "-"); err != nil {
		t.Fatalf("kubectl apply: %v\n%s", err, out)
	}
	for _, o := range objs {
		var err error
		var out string
		switch o.Kind {
		case "Deployment":
			out, err = cp.Kubectl("rollout", "status", "deployment/"+o.Name, "-n", o.Namespace, "--timeout=300s")
		case "Job":
			out, err = cp.Kubectl("wait", "--for=condition=complete", "job/"+o.Name, "-n", o.Namespace, "--timeout=300s")
		}
		if err != nil {
			t.Fatalf("wait for %s %s: %v\n%s", o.Kind, o.Name, err, out)
		}
	}
	return time.Since(began)
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}
