package monitoring

import "embed"

// CRDs holds prometheus-operator's CustomResourceDefinitions of the kinds
// built here (ServiceMonitor, PodMonitor, PrometheusRule), copied
// unchanged from the prometheus-operator repository at the tag of the
// pkg/apis/monitoring version this module requires
// (example/prometheus-operator-crd/, v0.93.0), for a cluster or API
// server that must accept these objects. A test checks that their
// operator.prometheus.io/version matches the module's.
//
//go:embed crds/*.yaml
var CRDs embed.FS
