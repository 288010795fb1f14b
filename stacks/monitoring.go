package stacks

import (
	"cmp"
	"fmt"
	"time"

	"github.com/cirkelline/infra/internal/validate"
	"github.com/cirkelline/infra/monitoring"
)

// MonitoringConfig is how the stack's Prometheus and Grafana watch it
// (config key "monitoring"): the monitoring package's settings (its keys,
// defaults and checks, monitoring.Settings), and whether it is on.
type MonitoringConfig struct {
	// Enabled registers a ServiceMonitor per service, a PrometheusRule with
	// the scaling alerts and a dashboard ConfigMap, and lets Prometheus
	// through the NetworkPolicies. It needs prometheus-operator's CRDs in
	// the cluster. Default false; on in staging and production. The p95
	// latency alert uses the load test's http_req_duration p(95)
	// threshold: one number for both.
	Enabled bool `json:"enabled"`
	monitoring.Settings
}

// LatencyThresholdMetric is the k6 metric whose p(95) threshold the
// latency alert shares.
const LatencyThresholdMetric = "http_req_duration"

// LatencyP95 is the load test's http_req_duration p(95) threshold (k6
// measures it in milliseconds), and whether the thresholds have one.
func (c *Config) LatencyP95() (time.Duration, bool) {
	_, thresholds := c.LoadTest.Resolved()
	ms, ok := thresholds.UpperBound(LatencyThresholdMetric, 95)
	return time.Duration(ms * float64(time.Millisecond)), ok
}

// DashboardConfigMapName is the ConfigMap that holds the stack's Grafana
// dashboard.
func (c *Config) DashboardConfigMapName() string { return c.Namespace + "-dashboard" }

// validateMonitoring checks what the monitoring block takes from
// elsewhere in the stack file: the latency alert's threshold. The block's
// own values are the monitoring package's to check (the plan's checks).
func (c *Config) validateMonitoring(errs *validate.Errors) {
	if !c.Monitoring.Enabled {
		return
	}
	if _, ok := c.LatencyP95(); !ok {
		errs.Add(validate.Key("loadtest.thresholds", LatencyThresholdMetric), nil,
			"has no p(95) upper bound, which the LatencyP95High alert shares with the load test",
			fmt.Sprintf(`add "p(95)<2000" (milliseconds) to loadtest.thresholds.%s, or turn monitoring off`, LatencyThresholdMetric))
	}
}

// DashboardNamespace is where the dashboard's ConfigMap goes.
func (c *Config) DashboardNamespace() string {
	return cmp.Or(c.Monitoring.Grafana.Namespace, c.Namespace)
}
