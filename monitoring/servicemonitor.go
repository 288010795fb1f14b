package monitoring

import (
	"maps"

	monv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ServiceMonitors returns one ServiceMonitor per service, in the services'
// namespace, named after the service: Prometheus scrapes Path on the
// named Port of every endpoint of the Service its Selector matches, and
// labels the series with namespace, service, pod and container
// (prometheus-operator's generated relabelling, pkg/prometheus/promcfg.go:
// __meta_kubernetes_service_name becomes "service").
func ServiceMonitors(args Args) ([]*monv1.ServiceMonitor, error) {
	a, err := args.prepared()
	if err != nil {
		return nil, err
	}
	out := make([]*monv1.ServiceMonitor, 0, len(a.Services))
	for _, s := range a.Services {
		out = append(out, &monv1.ServiceMonitor{
			TypeMeta:   metav1.TypeMeta{APIVersion: monv1.SchemeGroupVersion.String(), Kind: monv1.ServiceMonitorsKind},
			ObjectMeta: a.objectMeta(s.Name),
			Spec: monv1.ServiceMonitorSpec{
				Selector: metav1.LabelSelector{MatchLabels: maps.Clone(s.Selector)},
				// Only the stack's own namespace: a Service elsewhere with
				// the same labels is not this stack's.
				NamespaceSelector: monv1.NamespaceSelector{MatchNames: []string{a.Namespace}},
				Endpoints: []monv1.Endpoint{{
					Port:     s.Port,
					Path:     s.Path,
					Interval: monv1.Duration(a.Prometheus.Interval.String()),
				}},
			},
		})
	}
	return out, nil
}

// objectMeta is the metadata of every object built here: the caller's
// labels, then the Prometheus selector labels (which must win, or the
// object is not picked up).
func (a Args) objectMeta(name string) metav1.ObjectMeta {
	labels := maps.Clone(a.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	maps.Copy(labels, a.Prometheus.SelectorLabels)
	if len(labels) == 0 {
		labels = nil
	}
	return metav1.ObjectMeta{Name: name, Namespace: a.Namespace, Labels: labels}
}
