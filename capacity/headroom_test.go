package capacity_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/cirkelline/infra/capacity"
)

// baseHeadroom: the backend adds 4 pods of 250m / 512Mi in its first step
// (the default scaleUp policy, pods: 4), the client 2 of 100m / 64Mi.
func baseHeadroom() capacity.HeadroomArgs {
	return capacity.HeadroomArgs{
		Name:      "cirkelline-headroom",
		Namespace: "cirkelline",
		Labels:    map[string]string{"app.kubernetes.io/part-of": "cirkelline"},
		Steps: []capacity.ScaleUpStep{
			{Service: "client", Pods: 2, CPU: q("100m"), Memory: q("64Mi")},
			{Service: "cirkelline-backend", Pods: 4, CPU: q("250m"), Memory: q("512Mi")},
		},
	}
}

func TestHeadroom(t *testing.T) {
	pc, d, err := capacity.Headroom(baseHeadroom())
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, obj := range []any{pc, d} {
		raw, err := yaml.Marshal(obj)
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString("---\n")
		b.Write(raw)
	}
	checkGolden(t, "headroom.yaml", b.String())

	tests := []struct {
		name  string
		setup func(*capacity.HeadroomArgs)
		want  func(*schedulingv1.PriorityClass, *appsv1.Deployment)
	}{
		{"a busier step elsewhere wins", func(a *capacity.HeadroomArgs) {
			a.Steps[0].Pods = 11 // 1100m > 1000m
		}, func(pc *schedulingv1.PriorityClass, d *appsv1.Deployment) {
			pc.Description = strings.Replace(pc.Description, "cirkelline-backend (4 pods)", "client (11 pods)", 1)
			*d.Spec.Replicas = 11
			c := &d.Spec.Template.Spec.Containers[0]
			c.Resources.Requests = corev1.ResourceList{corev1.ResourceCPU: q("100m"), corev1.ResourceMemory: q("64Mi")}
			c.Resources.Limits = c.Resources.Requests.DeepCopy()
		}},
		{"equal CPU: more memory wins", func(a *capacity.HeadroomArgs) {
			a.Steps[0] = capacity.ScaleUpStep{Service: "client", Pods: 10, CPU: q("100m"), Memory: q("1Gi")}
		}, func(pc *schedulingv1.PriorityClass, d *appsv1.Deployment) {
			pc.Description = strings.Replace(pc.Description, "cirkelline-backend (4 pods)", "client (10 pods)", 1)
			*d.Spec.Replicas = 10
			c := &d.Spec.Template.Spec.Containers[0]
			c.Resources.Requests = corev1.ResourceList{corev1.ResourceCPU: q("100m"), corev1.ResourceMemory: q("1Gi")}
			c.Resources.Limits = c.Resources.Requests.DeepCopy()
		}},
		{"the busiest service's spread, counting the pause pods", func(a *capacity.HeadroomArgs) {
			honor := corev1.NodeInclusionPolicyHonor
			a.Steps[0].Spread = []corev1.TopologySpreadConstraint{{MaxSkew: 3, TopologyKey: "rack", WhenUnsatisfiable: corev1.ScheduleAnyway}}
			a.Steps[1].Spread = []corev1.TopologySpreadConstraint{
				{MaxSkew: 1, TopologyKey: "topology.kubernetes.io/zone", WhenUnsatisfiable: corev1.DoNotSchedule, NodeTaintsPolicy: &honor,
					LabelSelector:  &metav1.LabelSelector{MatchLabels: map[string]string{"app.kubernetes.io/name": "cirkelline-backend"}},
					MatchLabelKeys: []string{"pod-template-hash"}},
				{MaxSkew: 1, TopologyKey: "kubernetes.io/hostname", WhenUnsatisfiable: corev1.ScheduleAnyway, MatchLabelKeys: []string{"pod-template-hash"}},
			}
		}, func(pc *schedulingv1.PriorityClass, d *appsv1.Deployment) {
			honor := corev1.NodeInclusionPolicyHonor
			pause := &metav1.LabelSelector{MatchLabels: map[string]string{"app.kubernetes.io/name": "cirkelline-headroom", "app.kubernetes.io/component": "headroom"}}
			d.Spec.Template.Spec.TopologySpreadConstraints = []corev1.TopologySpreadConstraint{
				{MaxSkew: 1, TopologyKey: "topology.kubernetes.io/zone", WhenUnsatisfiable: corev1.DoNotSchedule, NodeTaintsPolicy: &honor,
					LabelSelector: pause, MatchLabelKeys: []string{"pod-template-hash"}},
				{MaxSkew: 1, TopologyKey: "kubernetes.io/hostname", WhenUnsatisfiable: corev1.ScheduleAnyway,
					LabelSelector: pause, MatchLabelKeys: []string{"pod-template-hash"}},
			}
		}},
		{"the stack's node pool", func(a *capacity.HeadroomArgs) {
			a.NodeSelector = map[string]string{"karpenter.sh/nodepool": "cirkelline"}
			a.Tolerations = []corev1.Toleration{{Key: "cirkelline.io/nodepool", Operator: corev1.TolerationOpEqual, Value: "cirkelline", Effect: corev1.TaintEffectNoSchedule}}
		}, func(pc *schedulingv1.PriorityClass, d *appsv1.Deployment) {
			d.Spec.Template.Spec.NodeSelector = map[string]string{"karpenter.sh/nodepool": "cirkelline"}
			d.Spec.Template.Spec.Tolerations = []corev1.Toleration{{Key: "cirkelline.io/nodepool", Operator: corev1.TolerationOpEqual, Value: "cirkelline", Effect: corev1.TaintEffectNoSchedule}}
		}},
		{"priority and image", func(a *capacity.HeadroomArgs) {
			a.Priority = -5
			a.Image = "registry.example.com/pause:3.10.1"
		}, func(pc *schedulingv1.PriorityClass, d *appsv1.Deployment) {
			pc.Value = -5
			d.Spec.Template.Spec.Containers[0].Image = "registry.example.com/pause:3.10.1"
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := baseHeadroom()
			tt.setup(&a)
			gotPC, gotD, err := capacity.Headroom(a)
			if err != nil {
				t.Fatal(err)
			}
			wantPC, wantD := pc.DeepCopy(), d.DeepCopy()
			tt.want(wantPC, wantD)
			for _, pair := range [][2]any{{gotPC, wantPC}, {gotD, wantD}} {
				if g, w := asMap(t, pair[0]), asMap(t, pair[1]); !reflect.DeepEqual(g, w) {
					gy, _ := yaml.Marshal(g)
					wy, _ := yaml.Marshal(w)
					t.Errorf("got\n%s\nwant\n%s", gy, wy)
				}
			}
		})
	}
}

// TestHeadroomIsRestricted: the pause pods pass the restricted Pod
// Security Standard's checks that a Deployment's template can fail.
func TestHeadroomIsRestricted(t *testing.T) {
	_, d, err := capacity.Headroom(baseHeadroom())
	if err != nil {
		t.Fatal(err)
	}
	s := d.Spec.Template.Spec
	c := s.Containers[0].SecurityContext
	for what, ok := range map[string]bool{
		"runAsNonRoot":                 *s.SecurityContext.RunAsNonRoot,
		"runAsUser not 0":              *s.SecurityContext.RunAsUser != 0,
		"seccomp RuntimeDefault":       s.SecurityContext.SeccompProfile.Type == corev1.SeccompProfileTypeRuntimeDefault,
		"no privilege escalation":      !*c.AllowPrivilegeEscalation,
		"drop ALL":                     reflect.DeepEqual(c.Capabilities.Drop, []corev1.Capability{"ALL"}),
		"read-only root":               *c.ReadOnlyRootFilesystem,
		"no token":                     !*s.AutomountServiceAccountToken,
		"priority class is the one":    s.PriorityClassName == "cirkelline-headroom",
		"selector selects its pods":    labelsMatch(d.Spec.Selector.MatchLabels, d.Spec.Template.Labels),
		"requests equal limits (QoS)":  reflect.DeepEqual(s.Containers[0].Resources.Requests, s.Containers[0].Resources.Limits),
		"grace period 0 frees at once": *s.TerminationGracePeriodSeconds == 0,
	} {
		if !ok {
			t.Error(what)
		}
	}
}

func labelsMatch(selector, labels map[string]string) bool {
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return len(selector) > 0
}

func TestHeadroomInvalidArgs(t *testing.T) {
	a := capacity.HeadroomArgs{
		Namespace: "Cirkelline",
		Steps:     []capacity.ScaleUpStep{{Pods: 0}},
		Priority:  5,
	}
	want := []string{
		`headroom.name: is required`,
		`headroom.namespace ("Cirkelline"): must be a lower-case RFC 1123 label`,
		`headroom.steps[0].service: is required`,
		`headroom.steps[0].pods (0): must be at least 1`,
		`headroom.steps[0].cpu ("0"): must be positive`,
		`headroom.steps[0].memory ("0"): must be positive`,
		`headroom.priority (5): must be negative and at least -10; fix: pods below -10 do not make Cluster Autoscaler scale up, and pods of priority 0 must preempt these`,
	}
	_, _, err := capacity.Headroom(a)
	if !errors.Is(err, capacity.ErrInvalidArgs) {
		t.Fatalf("%v does not match ErrInvalidArgs", err)
	}
	got := strings.Split(strings.TrimPrefix(err.Error(), capacity.ErrInvalidArgs.Error()+": "), "\n")
	if len(got) != len(want) {
		t.Fatalf("got %d problems, want %d:\n%s", len(got), len(want), err)
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("problem %d:\ngot  %s\nwant %s", i, got[i], want[i])
		}
	}
	a = baseHeadroom()
	a.Steps = nil
	if _, _, err := capacity.Headroom(a); err == nil || !strings.Contains(err.Error(), "headroom.steps: is empty") {
		t.Errorf("no steps: %v", err)
	}
}
