package monitoring

import "maps"

// ScrapeIngress is one NetworkPolicy ingress rule, as plain data: traffic
// from the pods matching PodLabels in the namespace matching
// NamespaceLabels to Port (TCP) of the pods matching PodSelector.
type ScrapeIngress struct {
	// Service the rule opens.
	Service string
	// PodSelector selects the service's pods (the policy's podSelector).
	PodSelector map[string]string
	// NamespaceLabels select Prometheus's namespace (the peer's
	// namespaceSelector).
	NamespaceLabels map[string]string
	// PodLabels select the Prometheus pods (the peer's podSelector).
	PodLabels map[string]string
	// Port is the named container port that serves metrics; a
	// NetworkPolicy port may be a name (k8s.io/api networking/v1
	// NetworkPolicyPort.Port: "either be a numerical or named port on a
	// pod").
	Port string
	// Protocol is always "TCP".
	Protocol string
}

// NamespaceNameLabel is the label the API server puts on every namespace,
// holding its name (KEP-2161 "APIServer defaulted labels for all
// Namespaces", stable; k8s.io/api core/v1 LabelMetadataName), so a policy
// can select a namespace by name.
const NamespaceNameLabel = "kubernetes.io/metadata.name"

// ScrapeIngresses returns, per service, the ingress rule that lets the
// stack's Prometheus reach its metrics port past a default-deny policy.
func ScrapeIngresses(args Args) ([]ScrapeIngress, error) {
	a, err := args.prepared()
	if err != nil {
		return nil, err
	}
	out := make([]ScrapeIngress, 0, len(a.Services))
	for _, s := range a.Services {
		out = append(out, ScrapeIngress{
			Service:         s.Name,
			PodSelector:     maps.Clone(s.PodSelector),
			NamespaceLabels: map[string]string{NamespaceNameLabel: a.Prometheus.Namespace},
			PodLabels:       maps.Clone(a.Prometheus.PodLabels),
			Port:            s.Port,
			Protocol:        "TCP",
		})
	}
	return out, nil
}
