package stacks

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"time"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/cirkelline/infra/internal/validate"
	"github.com/cirkelline/infra/loadtest"
	"github.com/cirkelline/infra/monitoring"
)

// MonitoringConfig is how the stack's Prometheus and Grafana watch it
// (config key "monitoring"); the monitoring package builds the objects.
type MonitoringConfig struct {
	// Enabled registers a ServiceMonitor per service, a PrometheusRule with
	// the scaling alerts and a dashboard ConfigMap, and lets Prometheus
	// through the NetworkPolicies. It needs prometheus-operator's CRDs in
	// the cluster. Default false; on in staging and production.
	Enabled bool `json:"enabled"`
	// Prometheus is the cluster's Prometheus.
	Prometheus PrometheusConfig `json:"prometheus"`
	// Grafana is where the dashboard goes.
	Grafana GrafanaConfig `json:"grafana"`
	// MetricsPath every service serves its metrics on, on its "metrics"
	// port (services[].metricsPort).
	// Default "/metrics".
	MetricsPath string `json:"metricsPath"`
	// Requests names the services' HTTP metrics. Default:
	// prometheus-fastapi-instrumentator's.
	Requests RequestMetricsConfig `json:"requests"`
	// Thresholds of the alerts. The p95 latency alert uses the load test's
	// http_req_duration p(95) threshold: one number for both.
	Thresholds AlertThresholds `json:"thresholds"`
}

// PrometheusConfig describes the cluster's Prometheus.
type PrometheusConfig struct {
	// SelectorLabels go on the ServiceMonitors and the PrometheusRule so
	// the Prometheus selects them (kube-prometheus-stack: its release,
	// {release: <release name>}). Default none.
	SelectorLabels map[string]string `json:"selectorLabels,omitempty"`
	// Namespace Prometheus runs in. Default "monitoring".
	Namespace string `json:"namespace"`
	// PodLabels of the Prometheus pods, let through the NetworkPolicies.
	// Default {app.kubernetes.io/name: prometheus}.
	PodLabels map[string]string `json:"podLabels"`
	// Interval between scrapes. Default 30s.
	Interval loadtest.Duration `json:"interval"`
}

// GrafanaConfig places the dashboard ConfigMap for the Grafana sidecar.
type GrafanaConfig struct {
	// SidecarLabel and SidecarLabelValue mark the ConfigMap for the
	// sidecar. Default grafana_dashboard: "1" (the grafana chart's label,
	// kube-prometheus-stack's value).
	SidecarLabel      string `json:"sidecarLabel"`
	SidecarLabelValue string `json:"sidecarLabelValue"`
	// Namespace of the ConfigMap. Default: the stack's namespace (the
	// sidecar must then search every namespace, or this one).
	Namespace string `json:"namespace,omitempty"`
}

// RequestMetricsConfig names the services' HTTP metrics (see
// monitoring.RequestMetrics).
type RequestMetricsConfig struct {
	// Counter of requests. Default "http_requests_total".
	Counter string `json:"counter"`
	// StatusLabel holds the status code. Default "status".
	StatusLabel string `json:"statusLabel"`
	// ServerErrors matches the status values of server errors. Default "5..".
	ServerErrors string `json:"serverErrors"`
	// Duration is the latency histogram, without "_bucket". Default
	// "http_request_duration_seconds".
	Duration string `json:"duration"`
}

// AlertThresholds are the alerts' own thresholds.
type AlertThresholds struct {
	// ErrorRatio of 5xx responses that fires HighErrorRatio. Default 0.05.
	ErrorRatio float64 `json:"errorRatio"`
	// RateLimitedRatio of a limiter's requests answered 429 that fires
	// RateLimitingHigh. Default 0.10.
	RateLimitedRatio float64 `json:"rateLimitedRatio"`
	// Restarts of one container in 15 minutes that fire PodRestarting.
	// Default 3.
	Restarts int `json:"restarts"`
}

func defaultMonitoring() MonitoringConfig {
	return MonitoringConfig{
		Prometheus: PrometheusConfig{
			Namespace: monitoring.DefaultPrometheusNamespace, PodLabels: monitoring.DefaultPrometheusPodLabels(),
			Interval: loadtest.Duration(monitoring.DefaultInterval),
		},
		Grafana:     GrafanaConfig{SidecarLabel: monitoring.DefaultSidecarLabel, SidecarLabelValue: monitoring.DefaultSidecarLabelValue},
		MetricsPath: monitoring.DefaultPath,
		Requests: RequestMetricsConfig{
			Counter: monitoring.DefaultRequests, StatusLabel: monitoring.DefaultStatusLabel,
			ServerErrors: monitoring.DefaultServerErrors, Duration: monitoring.DefaultDuration,
		},
		Thresholds: AlertThresholds{ErrorRatio: monitoring.DefaultErrorRatio, RateLimitedRatio: monitoring.DefaultRateLimitedRatio, Restarts: monitoring.DefaultRestarts},
	}
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

// DashboardNamespace is where that ConfigMap goes.
func (c *Config) DashboardNamespace() string {
	if c.Monitoring.Grafana.Namespace != "" {
		return c.Monitoring.Grafana.Namespace
	}
	return c.Namespace
}

var (
	// promMetricName and promLabelName are Prometheus's data model
	// (prometheus.io/docs/concepts/data_model: metric names
	// [a-zA-Z_:][a-zA-Z0-9_:]*, label names [a-zA-Z_][a-zA-Z0-9_]*).
	promMetricName = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)
	promLabelName  = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
)

// MonitoringErr is the monitoring block's problems alone (nil when it has
// none): the plan checks the monitoring objects' own arguments only when
// these pass, so one mistake is reported once, at its stack file key.
func (c *Config) MonitoringErr() error {
	var errs validate.Errors
	c.validateMonitoring(&errs)
	return errs.Err()
}

// validateMonitoring checks the monitoring block, at the stack file's keys.
func (c *Config) validateMonitoring(errs *validate.Errors) {
	m := c.Monitoring
	if !m.Enabled {
		return
	}
	const path = "monitoring"
	labels := func(field string, l map[string]string, required bool) {
		p := validate.Join(path, field)
		if required && len(l) == 0 {
			errs.Add(p, nil, "is empty", "name the labels of the Prometheus pods, e.g. {app.kubernetes.io/name: prometheus}")
		}
		for _, k := range slices.Sorted(maps.Keys(l)) {
			validate.LabelKey(errs, p, k)
			if problems := validation.IsValidLabelValue(l[k]); len(problems) > 0 {
				errs.Add(validate.Key(p, k), l[k], "is not a label value: "+problems[0], "")
			}
		}
	}
	labels("prometheus.selectorLabels", m.Prometheus.SelectorLabels, false)
	labels("prometheus.podLabels", m.Prometheus.PodLabels, true)
	validate.DNSLabel(errs, validate.Join(path, "prometheus.namespace"), m.Prometheus.Namespace, 63)
	if d := time.Duration(m.Prometheus.Interval); d < time.Second {
		errs.Add(validate.Join(path, "prometheus.interval"), d.String(), "must be at least 1s", `e.g. "30s"`)
	}
	validate.LabelKey(errs, validate.Join(path, "grafana.sidecarLabel"), m.Grafana.SidecarLabel)
	if problems := validation.IsValidLabelValue(m.Grafana.SidecarLabelValue); len(problems) > 0 {
		errs.Add(validate.Join(path, "grafana.sidecarLabelValue"), m.Grafana.SidecarLabelValue, "is not a label value: "+problems[0], "")
	}
	if m.Grafana.Namespace != "" {
		validate.DNSLabel(errs, validate.Join(path, "grafana.namespace"), m.Grafana.Namespace, 63)
	}
	if m.MetricsPath == "" || m.MetricsPath[0] != '/' {
		errs.Add(validate.Join(path, "metricsPath"), m.MetricsPath, "must start with /", `e.g. "/metrics"`)
	}
	for _, f := range []struct {
		field, value string
		re           *regexp.Regexp
	}{
		{"requests.counter", m.Requests.Counter, promMetricName},
		{"requests.duration", m.Requests.Duration, promMetricName},
		{"requests.statusLabel", m.Requests.StatusLabel, promLabelName},
	} {
		if !f.re.MatchString(f.value) {
			errs.Add(validate.Join(path, f.field), f.value, "is not a Prometheus name", "use letters, digits and underscores, not starting with a digit")
		}
	}
	if _, err := regexp.Compile("^(?:" + m.Requests.ServerErrors + ")$"); err != nil || m.Requests.ServerErrors == "" {
		errs.Add(validate.Join(path, "requests.serverErrors"), m.Requests.ServerErrors, "is not a regular expression of status values", `e.g. "5.."`)
	}
	t := m.Thresholds
	for _, r := range []struct {
		field string
		value float64
	}{{"thresholds.errorRatio", t.ErrorRatio}, {"thresholds.rateLimitedRatio", t.RateLimitedRatio}} {
		if r.value <= 0 || r.value >= 1 {
			errs.Add(validate.Join(path, r.field), r.value, "must be between 0 and 1 (exclusive)", "a share of requests, e.g. 0.05")
		}
	}
	if t.Restarts < 1 {
		errs.Add(validate.Join(path, "thresholds.restarts"), t.Restarts, "must be at least 1", "")
	}
	if _, ok := c.LatencyP95(); !ok {
		errs.Add(validate.Key("loadtest.thresholds", LatencyThresholdMetric), nil,
			"has no p(95) upper bound, which the LatencyP95High alert shares with the load test",
			fmt.Sprintf(`add "p(95)<2000" (milliseconds) to loadtest.thresholds.%s, or turn monitoring off`, LatencyThresholdMetric))
	}
}
