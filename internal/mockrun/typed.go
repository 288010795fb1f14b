package mockrun

import (
	monv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// TypedObject returns an empty object of the Go type a kind the program
// registers decodes into (k8s.io/api's, or prometheus-operator's for its
// CRDs), for tests that decode rendered objects strictly; ok is false for
// a kind without one here (Karpenter's: its modules are not imported).
func TypedObject(kind string) (obj runtime.Object, ok bool) {
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
	case "ServiceMonitor":
		return &monv1.ServiceMonitor{}, true
	case "PrometheusRule":
		return &monv1.PrometheusRule{}, true
	case "PriorityClass":
		return &schedulingv1.PriorityClass{}, true
	}
	return nil, false
}
