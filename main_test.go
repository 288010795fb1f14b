package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/yaml"

	"github.com/cirkelline/infra/internal/render"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/rendered")

// shippedStacks are the stacks with a Pulumi.<stack>.yaml in the repo.
func shippedStacks(t testing.TB) []string {
	t.Helper()
	names, err := render.Stacks(".")
	if err != nil || len(names) < 3 {
		t.Fatalf("want at least staging, production and partypic stack files, got %v (%v)", names, err)
	}
	return names
}

func renderStack(t testing.TB, stack string) *render.Result {
	t.Helper()
	res, err := render.Stack(render.Options{Dir: ".", Stack: stack}, program)
	if err != nil {
		t.Fatalf("render %s: %v", stack, err)
	}
	return res
}

// TestGolden compares every shipped stack's rendered manifests with
// testdata/rendered/<stack>/, file by file. Run with -update to refresh.
func TestGolden(t *testing.T) {
	for _, stack := range shippedStacks(t) {
		t.Run(stack, func(t *testing.T) {
			res := renderStack(t, stack)
			dir := filepath.Join("testdata", "rendered", stack)
			if *update {
				if err := render.Write(dir, res.Objects); err != nil {
					t.Fatal(err)
				}
			}
			want, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			cloud, _ := filepath.Glob(filepath.Join(dir, "cloud", "*.yaml"))
			want = append(want, cloud...)
			var got []string
			for _, o := range res.Objects {
				path := filepath.Join(dir, filepath.FromSlash(o.File))
				got = append(got, path)
				golden, err := os.ReadFile(path)
				if err != nil {
					t.Errorf("%s: no golden file (run go test . -update): %v", o.File, err)
					continue
				}
				if !bytes.Equal(golden, o.Body) {
					t.Errorf("%s differs from its golden file (run go test . -update and review the diff):\n--- golden\n%s\n--- rendered\n%s", o.File, golden, o.Body)
				}
			}
			for _, w := range want {
				if !slices.Contains(got, w) {
					t.Errorf("%s is no longer rendered; delete it or run go test . -update", w)
				}
			}
		})
	}
}

// typedObject returns the k8s.io/api type a kind must decode into.
func typedObject(kind string) (any, bool) {
	switch kind {
	case "Namespace":
		return &corev1.Namespace{}, true
	case "ServiceAccount":
		return &corev1.ServiceAccount{}, true
	case "ConfigMap":
		return &corev1.ConfigMap{}, true
	case "Secret":
		return &corev1.Secret{}, true
	case "Service":
		return &corev1.Service{}, true
	case "Role":
		return &rbacv1.Role{}, true
	case "RoleBinding":
		return &rbacv1.RoleBinding{}, true
	case "Deployment":
		return &appsv1.Deployment{}, true
	case "StatefulSet":
		return &appsv1.StatefulSet{}, true
	case "HorizontalPodAutoscaler":
		return &autoscalingv2.HorizontalPodAutoscaler{}, true
	case "PodDisruptionBudget":
		return &policyv1.PodDisruptionBudget{}, true
	case "Ingress":
		return &networkingv1.Ingress{}, true
	case "NetworkPolicy":
		return &networkingv1.NetworkPolicy{}, true
	case "Job":
		return &batchv1.Job{}, true
	}
	return nil, false
}

// TestRenderedObjectsDecodeStrictly decodes every rendered Kubernetes object
// into its k8s.io/api type with unknown fields rejected, so a misspelt field
// fails here rather than at apply time.
func TestRenderedObjectsDecodeStrictly(t *testing.T) {
	for _, stack := range shippedStacks(t) {
		res := renderStack(t, stack)
		for _, o := range res.Objects {
			if o.Cloud {
				continue
			}
			obj, ok := typedObject(o.Kind)
			if !ok {
				t.Errorf("%s/%s: kind %s has no typed decoder; add it to typedObject", stack, o.File, o.Kind)
				continue
			}
			if err := yaml.UnmarshalStrict(o.Body, obj); err != nil {
				t.Errorf("%s/%s: %v", stack, o.File, err)
			}
		}
	}
}

// TestStackInvariants checks the rules the issue sets for every stack.
func TestStackInvariants(t *testing.T) {
	for _, stack := range shippedStacks(t) {
		res := renderStack(t, stack)
		hpaTargets := map[string]bool{}
		for _, o := range res.Objects {
			if o.Kind == "HorizontalPodAutoscaler" {
				var h autoscalingv2.HorizontalPodAutoscaler
				mustDecode(t, o, &h)
				hpaTargets[h.Spec.ScaleTargetRef.Name] = true
				if got := metricTargets(h); got != "cpu=70,memory=80" {
					t.Errorf("%s/%s: metrics %s, want cpu=70,memory=80", stack, o.File, got)
				}
			}
		}
		for _, o := range res.Objects {
			switch o.Kind {
			case "Deployment":
				var d appsv1.Deployment
				mustDecode(t, o, &d)
				if hpaTargets[d.Name] && d.Spec.Replicas != nil {
					t.Errorf("%s/%s: sets replicas although an HPA manages it", stack, o.File)
				}
				if mu := d.Spec.Strategy.RollingUpdate.MaxUnavailable; mu == nil || mu.IntValue() != 0 {
					t.Errorf("%s/%s: rolling update maxUnavailable %v, want 0", stack, o.File, mu)
				}
				c := d.Spec.Template.Spec.Containers[0]
				if !*c.SecurityContext.ReadOnlyRootFilesystem || !*d.Spec.Template.Spec.SecurityContext.RunAsNonRoot {
					t.Errorf("%s/%s: must run non-root with a read-only root filesystem", stack, o.File)
				}
			case "PodDisruptionBudget":
				var p policyv1.PodDisruptionBudget
				mustDecode(t, o, &p)
				if p.Spec.MaxUnavailable == nil || p.Spec.MaxUnavailable.IntValue() < 1 {
					t.Errorf("%s/%s: PDB must allow at least one disruption, got %+v", stack, o.File, p.Spec)
				}
			case "Namespace":
				var n corev1.Namespace
				mustDecode(t, o, &n)
				if n.Labels["pod-security.kubernetes.io/enforce"] != "restricted" {
					t.Errorf("%s/%s: namespace must enforce restricted pod security", stack, o.File)
				}
			case "Secret":
				if !strings.Contains(string(o.Body), "[secret]") {
					t.Errorf("%s/%s: secret data must render as [secret]", stack, o.File)
				}
			}
		}
	}
}

func metricTargets(h autoscalingv2.HorizontalPodAutoscaler) string {
	var parts []string
	for _, m := range h.Spec.Metrics {
		parts = append(parts, fmt.Sprintf("%s=%d", m.Resource.Name, *m.Resource.Target.AverageUtilization))
	}
	return strings.Join(parts, ",")
}

func mustDecode(t *testing.T, o render.Object, into any) {
	t.Helper()
	if err := yaml.UnmarshalStrict(o.Body, into); err != nil {
		t.Fatalf("%s: %v", o.File, err)
	}
}
