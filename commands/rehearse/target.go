package rehearse

import (
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"

	"github.com/cirkelline/infra/components"
)

// Target is the Deployment and HPA a rehearsal drives, as the API server
// stored them (with its defaults, e.g. the HPA's behavior).
type Target struct {
	Namespace, Deployment, HPA string
	// Selector matches the Deployment's pods.
	Selector map[string]string
	// MinReplicas and MaxReplicas of the HPA.
	MinReplicas, MaxReplicas int32
	// CPUTargetPercent is the HPA's CPU averageUtilization target.
	CPUTargetPercent int32
	// CPURequestMilli and CPULimitMilli are the pod's, summed over its
	// containers (a limit of 0 means none).
	CPURequestMilli, CPULimitMilli int64
	// MemoryRequestBytes is the pod's, summed over its containers.
	MemoryRequestBytes int64
	// Containers in the pod (kwok's usage annotation applies to each).
	Containers int
	// ScaleUp and ScaleDown are the HPA's behavior.
	ScaleUp, ScaleDown *autoscalingv2.HPAScalingRules
	// ProbeStartup is when a real pod's startup probe can first pass:
	// initialDelaySeconds + periodSeconds of the first container that has
	// one (0 without a startup probe).
	ProbeStartup time.Duration
}

// NewTarget reads what a rehearsal needs from the Deployment and its HPA.
func NewTarget(dep *appsv1.Deployment, hpa *autoscalingv2.HorizontalPodAutoscaler) (Target, error) {
	t := Target{Namespace: dep.Namespace, Deployment: dep.Name, HPA: hpa.Name, MaxReplicas: hpa.Spec.MaxReplicas, MinReplicas: 1,
		Containers: len(dep.Spec.Template.Spec.Containers)}
	if hpa.Spec.ScaleTargetRef.Kind != "Deployment" || hpa.Spec.ScaleTargetRef.Name != dep.Name {
		return t, fmt.Errorf("HPA %s/%s scales %s %q, not Deployment %q", hpa.Namespace, hpa.Name, hpa.Spec.ScaleTargetRef.Kind, hpa.Spec.ScaleTargetRef.Name, dep.Name)
	}
	if hpa.Spec.MinReplicas != nil {
		t.MinReplicas = *hpa.Spec.MinReplicas
	}
	if dep.Spec.Selector != nil {
		t.Selector = dep.Spec.Selector.MatchLabels
	}
	for _, m := range hpa.Spec.Metrics {
		if m.Type == autoscalingv2.ResourceMetricSourceType && m.Resource != nil && m.Resource.Name == corev1.ResourceCPU &&
			m.Resource.Target.Type == autoscalingv2.UtilizationMetricType && m.Resource.Target.AverageUtilization != nil {
			t.CPUTargetPercent = *m.Resource.Target.AverageUtilization
		}
	}
	if t.CPUTargetPercent == 0 {
		return t, fmt.Errorf("HPA %s/%s has no CPU averageUtilization target: the rehearsal replays demand as CPU, so set services[].hpa's CPU target", hpa.Namespace, hpa.Name)
	}
	for _, c := range dep.Spec.Template.Spec.Containers {
		t.CPURequestMilli += c.Resources.Requests.Cpu().MilliValue()
		t.CPULimitMilli += c.Resources.Limits.Cpu().MilliValue()
		t.MemoryRequestBytes += c.Resources.Requests.Memory().Value()
		if p := c.StartupProbe; p != nil && t.ProbeStartup == 0 {
			t.ProbeStartup = time.Duration(p.InitialDelaySeconds+max(p.PeriodSeconds, 1)) * time.Second
		}
	}
	if t.CPURequestMilli == 0 {
		return t, fmt.Errorf("Deployment %s/%s requests no CPU: the HPA's utilization needs services[].resources.cpuRequest", dep.Namespace, dep.Name)
	}
	if hpa.Spec.Behavior != nil {
		t.ScaleUp, t.ScaleDown = hpa.Spec.Behavior.ScaleUp, hpa.Spec.Behavior.ScaleDown
	}
	return t, nil
}

// PodCPUMilli is what one ready pod uses while ready pods share rps: a pod
// serving capacity.perPodRps runs at the HPA's CPU target, CPU grows in
// proportion to the requests, and a pod never gets more than its CPU limit
// (the kernel throttles it there; requests beyond that queue).
func (t Target) PodCPUMilli(rps float64, ready int32, perPodRPS float64) float64 {
	if ready < 1 {
		return 0
	}
	cpu := rps / float64(ready) / perPodRPS * float64(t.CPUTargetPercent) / 100 * float64(t.CPURequestMilli)
	if t.CPULimitMilli > 0 {
		cpu = min(cpu, float64(t.CPULimitMilli))
	}
	return cpu
}

// ScaleUpLimit is the most replicas the HPA's scale-up policies allow one
// policy period after current (components.ScaleUpLimit, the controller's
// rule the capacity plan and the headroom use too).
func (t Target) ScaleUpLimit(current int32) int32 {
	return components.ScaleUpLimit(t.ScaleUp, current)
}

// ScaleUpPeriod is the shortest time in which the HPA may take another
// full step up (components.ScaleUpPeriod): it cannot exceed ScaleUpLimit
// within it.
func (t Target) ScaleUpPeriod() time.Duration {
	return components.ScaleUpPeriod(t.ScaleUp)
}

// ScaleUpSteps is how many policy periods the HPA needs at least to go from
// replicas from to to (components.ScaleUpSteps: 0 when to <= from; -1 when
// the policies never get there).
func (t Target) ScaleUpSteps(from, to int32) int {
	return components.ScaleUpSteps(t.ScaleUp, from, to)
}

// ScaleDownBound is the longest the HPA should take from replicas from back
// to minReplicas once the demand is gone (components.ScaleDownBound).
func (t Target) ScaleDownBound(from int32) time.Duration {
	return components.ScaleDownBound(t.ScaleDown, from, t.MinReplicas)
}
