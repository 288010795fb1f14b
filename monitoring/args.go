// Package monitoring builds what a stack needs to be watched, as plain
// values from plain inputs: a ServiceMonitor per service and a
// PrometheusRule with the scaling, error, latency and cache alerts
// (prometheus-operator's monitoring.coreos.com/v1 types), a Grafana
// dashboard as JSON (grafana-foundation-sdk), and the NetworkPolicy
// ingress a Prometheus needs to scrape the services. It knows nothing of
// the stack file or the components: the composition passes names, ports,
// labels and thresholds in and registers what comes out.
package monitoring

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"

	k8svalidation "k8s.io/apimachinery/pkg/util/validation"

	"github.com/cirkelline/infra/internal/duration"
	"github.com/cirkelline/infra/internal/validate"
)

// ErrInvalidArgs is what errors.Is matches for Args that cannot be built
// from; the error lists every problem with its field path.
var ErrInvalidArgs = errors.New("monitoring: invalid arguments")

// Settings are what a stack sets on its monitoring: the stack file's
// "monitoring" block embeds them (the json tags are its keys). Zero values
// mean the documented default (WithDefaults).
type Settings struct {
	// Prometheus is the stack's Prometheus: how its objects are selected
	// and where it scrapes from.
	Prometheus Prometheus `json:"prometheus"`
	// Grafana is where the dashboard goes.
	Grafana Grafana `json:"grafana"`
	// MetricsPath every service serves its metrics on, on its "metrics"
	// port. Default "/metrics".
	MetricsPath string `json:"metricsPath,omitempty"`
	// Requests names the services' own HTTP metrics.
	Requests RequestMetrics `json:"requests"`
	// Thresholds of the alerts.
	Thresholds Thresholds `json:"thresholds"`
}

// Args are a stack's monitoring inputs: its settings, and what the
// composition wires. Zero values mean the documented default
// (WithDefaults).
type Args struct {
	Settings
	// Stack names the stack: the dashboard's title and uid, and the value
	// of the load test's "stack" label. Required.
	Stack string
	// Namespace the services (and their HPAs and pods) run in. Required.
	Namespace string
	// Services to scrape and watch. At least one.
	Services []Service
	// Labels are added to every object built here (the project's
	// app.kubernetes.io labels, say). Default none.
	Labels map[string]string
}

// Service is one web service to scrape.
type Service struct {
	// Name of the Kubernetes Service; the ServiceMonitor's name, and the
	// "service" label Prometheus gives its series. Required.
	Name string
	// Selector is the Service's own labels that the ServiceMonitor
	// selects it by. Required.
	Selector map[string]string
	// PodSelector is its pods' labels, for the NetworkPolicy that lets
	// Prometheus in. Required.
	PodSelector map[string]string
	// Port is the name of the Service port (and container port) that
	// serves metrics. Default "http".
	Port string
	// Path of the metrics endpoint. Default Settings.MetricsPath.
	Path string
	// Container is the name of the service's container in its pods, for
	// the CPU and memory panels. Default "app".
	Container string
	// HPA is the name of the service's HorizontalPodAutoscaler; empty: the
	// service has none, and no HPA alert or panel covers it.
	HPA string
}

// Prometheus describes the stack's Prometheus.
type Prometheus struct {
	// SelectorLabels go on the ServiceMonitors and the PrometheusRule so
	// that the Prometheus's serviceMonitorSelector and ruleSelector pick
	// them up (kube-prometheus-stack selects its release:
	// {"release": "<release name>"}). Default none.
	SelectorLabels map[string]string `json:"selectorLabels,omitempty"`
	// Namespace Prometheus runs in, for the NetworkPolicy. Default
	// "monitoring".
	Namespace string `json:"namespace,omitempty"`
	// PodLabels of the Prometheus pods, for the NetworkPolicy. Default
	// {"app.kubernetes.io/name": "prometheus"}, which prometheus-operator
	// puts on every Prometheus pod (pkg/prometheus/server/operator.go,
	// makeSelectorLabels, applicationNameLabelValue "prometheus", v0.93.0).
	PodLabels map[string]string `json:"podLabels,omitempty"`
	// Interval between scrapes. Default 30s.
	Interval duration.Duration `json:"interval,omitempty"`
}

// Grafana places the dashboard's ConfigMap for Grafana's dashboard sidecar.
type Grafana struct {
	// SidecarLabel and SidecarLabelValue mark the ConfigMap for the
	// sidecar. Default grafana_dashboard: "1" (the grafana chart's label,
	// kube-prometheus-stack's value).
	SidecarLabel      string `json:"sidecarLabel,omitempty"`
	SidecarLabelValue string `json:"sidecarLabelValue,omitempty"`
	// Namespace of the ConfigMap. Default: the stack's namespace (the
	// sidecar must then search every namespace, or this one).
	Namespace string `json:"namespace,omitempty"`
}

// RequestMetrics names the services' HTTP metrics. The defaults are what
// prometheus-fastapi-instrumentator exports (its README and
// metrics.default(): http_requests_total{handler,method,status} with
// status grouped as "5xx" by default, and the histogram
// http_request_duration_seconds{handler,method}).
type RequestMetrics struct {
	// Counter of requests. Default "http_requests_total".
	Counter string `json:"counter,omitempty"`
	// StatusLabel holds the response's status code. Default "status".
	StatusLabel string `json:"statusLabel,omitempty"`
	// ServerErrors matches the status values of server errors (a PromQL
	// regular expression). Default "5.." (matches "503" and "5xx").
	ServerErrors string `json:"serverErrors,omitempty"`
	// Duration is the request-duration histogram, in seconds, without
	// "_bucket". Default "http_request_duration_seconds".
	Duration string `json:"duration,omitempty"`
}

// Thresholds of the alerts (and the dashboard's threshold lines).
type Thresholds struct {
	// LatencyP95 is the p95 request duration the stack must stay under:
	// the same number as the load test's http_req_duration p(95)
	// threshold, which a stack passes in (not a key of its own). Required.
	LatencyP95 time.Duration `json:"-"`
	// ErrorRatio is the share of server errors (5xx) among requests above
	// which HighErrorRatio fires. Default 0.05.
	ErrorRatio float64 `json:"errorRatio,omitempty"`
	// RateLimitedRatio is the share of a limiter's requests answered 429
	// above which RateLimitingHigh fires. Default 0.10.
	RateLimitedRatio float64 `json:"rateLimitedRatio,omitempty"`
	// Restarts is how many restarts of one container within 15 minutes
	// fire PodRestarting. Default 3.
	Restarts int `json:"restarts,omitempty"`
}

// Defaults of Args, each applied only to a zero field.
const (
	DefaultPort                = "http"
	DefaultPath                = "/metrics"
	DefaultContainer           = "app"
	DefaultPrometheusNamespace = "monitoring"
	DefaultInterval            = 30 * time.Second
	DefaultRequests            = "http_requests_total"
	DefaultStatusLabel         = "status"
	DefaultServerErrors        = "5.."
	DefaultDuration            = "http_request_duration_seconds"
	DefaultErrorRatio          = 0.05
	DefaultRateLimitedRatio    = 0.10
	DefaultRestarts            = 3
)

// DefaultPrometheusPodLabels are the labels prometheus-operator gives every
// Prometheus pod (see Prometheus.PodLabels).
func DefaultPrometheusPodLabels() map[string]string {
	return map[string]string{"app.kubernetes.io/name": "prometheus"}
}

// WithDefaults returns a copy of s with every zero field set to its
// default. The maps of the copy are its own.
func (s Settings) WithDefaults() Settings {
	p := &s.Prometheus
	p.Namespace = cmp.Or(p.Namespace, DefaultPrometheusNamespace)
	if len(p.PodLabels) == 0 {
		p.PodLabels = DefaultPrometheusPodLabels()
	}
	p.PodLabels = maps.Clone(p.PodLabels)
	p.SelectorLabels = maps.Clone(p.SelectorLabels)
	p.Interval = cmp.Or(p.Interval, duration.Duration(DefaultInterval))
	g := &s.Grafana
	g.SidecarLabel = cmp.Or(g.SidecarLabel, DefaultSidecarLabel)
	g.SidecarLabelValue = cmp.Or(g.SidecarLabelValue, DefaultSidecarLabelValue)
	s.MetricsPath = cmp.Or(s.MetricsPath, DefaultPath)
	r := &s.Requests
	r.Counter = cmp.Or(r.Counter, DefaultRequests)
	r.StatusLabel = cmp.Or(r.StatusLabel, DefaultStatusLabel)
	r.ServerErrors = cmp.Or(r.ServerErrors, DefaultServerErrors)
	r.Duration = cmp.Or(r.Duration, DefaultDuration)
	t := &s.Thresholds
	t.ErrorRatio = cmp.Or(t.ErrorRatio, DefaultErrorRatio)
	t.RateLimitedRatio = cmp.Or(t.RateLimitedRatio, DefaultRateLimitedRatio)
	t.Restarts = cmp.Or(t.Restarts, DefaultRestarts)
	return s
}

// WithDefaults returns a copy of a with every zero field set to its
// default. The maps and slices of the copy are its own.
func (a Args) WithDefaults() Args {
	a.Settings = a.Settings.WithDefaults()
	a.Services = slices.Clone(a.Services)
	for i := range a.Services {
		s := &a.Services[i]
		s.Port = cmp.Or(s.Port, DefaultPort)
		s.Path = cmp.Or(s.Path, a.MetricsPath)
		s.Container = cmp.Or(s.Container, DefaultContainer)
	}
	a.Labels = maps.Clone(a.Labels)
	return a
}

var (
	// promMetricName and promLabelName are Prometheus's data model
	// (prometheus.io/docs/concepts/data_model: metric names
	// [a-zA-Z_:][a-zA-Z0-9_:]*, label names [a-zA-Z_][a-zA-Z0-9_]*).
	promMetricName = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)
	promLabelName  = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
)

// Validate reports every problem of s (after WithDefaults), each with its
// field path (its json keys).
func (s Settings) Validate() error {
	var errs validate.Errors
	labels := func(path string, l map[string]string) {
		for _, k := range slices.Sorted(maps.Keys(l)) {
			validate.LabelKey(&errs, path, k)
			if problems := k8svalidation.IsValidLabelValue(l[k]); len(problems) > 0 {
				errs.Add(validate.Key(path, k), l[k], "is not a label value: "+problems[0], "")
			}
		}
	}
	labels("prometheus.selectorLabels", s.Prometheus.SelectorLabels)
	labels("prometheus.podLabels", s.Prometheus.PodLabels)
	validate.DNSLabel(&errs, "prometheus.namespace", s.Prometheus.Namespace, 63)
	if d := s.Prometheus.Interval; time.Duration(d) < time.Second {
		errs.Add("prometheus.interval", d.String(), "must be at least 1s", `e.g. "30s"`)
	}
	validate.LabelKey(&errs, "grafana.sidecarLabel", s.Grafana.SidecarLabel)
	if problems := k8svalidation.IsValidLabelValue(s.Grafana.SidecarLabelValue); len(problems) > 0 {
		errs.Add("grafana.sidecarLabelValue", s.Grafana.SidecarLabelValue, "is not a label value: "+problems[0], "")
	}
	if s.Grafana.Namespace != "" {
		validate.DNSLabel(&errs, "grafana.namespace", s.Grafana.Namespace, 63)
	}
	if !strings.HasPrefix(s.MetricsPath, "/") {
		errs.Add("metricsPath", s.MetricsPath, "must start with /", `e.g. "/metrics"`)
	}
	r := s.Requests
	for _, f := range []struct {
		path, value string
		re          *regexp.Regexp
	}{
		{"requests.counter", r.Counter, promMetricName},
		{"requests.duration", r.Duration, promMetricName},
		{"requests.statusLabel", r.StatusLabel, promLabelName},
	} {
		if !f.re.MatchString(f.value) {
			errs.Add(f.path, f.value, "is not a Prometheus name", "use letters, digits and underscores, not starting with a digit")
		}
	}
	if _, err := regexp.Compile("^(?:" + r.ServerErrors + ")$"); err != nil {
		errs.Add("requests.serverErrors", r.ServerErrors, "is not a regular expression of status values", `e.g. "5.."`)
	}
	t := s.Thresholds
	for _, f := range []struct {
		path  string
		value float64
	}{{"thresholds.errorRatio", t.ErrorRatio}, {"thresholds.rateLimitedRatio", t.RateLimitedRatio}} {
		if f.value <= 0 || f.value >= 1 {
			errs.Add(f.path, f.value, "must be between 0 and 1 (exclusive)", "a share of requests, e.g. 0.05")
		}
	}
	if t.Restarts < 1 {
		errs.Add("thresholds.restarts", t.Restarts, "must be at least 1", "")
	}
	return errs.Err()
}

// Validate reports every problem of a (after WithDefaults), each with its
// field path, as one error matching ErrInvalidArgs and validate.ErrInvalid.
func (a Args) Validate() error {
	var errs validate.Errors
	errs.Merge(a.Settings.Validate())
	if a.Stack == "" {
		errs.Add("stack", nil, "is required", "pass the stack's name")
	}
	validate.DNSLabel(&errs, "namespace", a.Namespace, 63)
	if len(a.Services) == 0 {
		errs.Add("services", nil, "is empty", "pass at least one service to scrape")
	}
	seen := map[string]bool{}
	for i, s := range a.Services {
		path := validate.Index("services", i)
		validate.DNSLabel(&errs, validate.Join(path, "name"), s.Name, 63)
		if seen[s.Name] {
			errs.Add(validate.Join(path, "name"), s.Name, "is used twice", "give each service its own name")
		}
		seen[s.Name] = true
		if len(s.Selector) == 0 {
			errs.Add(validate.Join(path, "selector"), nil, "is empty", "pass the Service's labels (an empty selector would scrape every Service)")
		}
		if len(s.PodSelector) == 0 {
			errs.Add(validate.Join(path, "podSelector"), nil, "is empty", "pass the pods' labels (an empty selector would open every pod)")
		}
		if s.Path != a.MetricsPath && !strings.HasPrefix(s.Path, "/") {
			errs.Add(validate.Join(path, "path"), s.Path, "must start with /", "")
		}
	}
	if a.Thresholds.LatencyP95 <= 0 {
		errs.Add("thresholds.latencyP95", a.Thresholds.LatencyP95.String(), "must be positive", "pass the load test's http_req_duration p(95) threshold")
	}
	if err := errs.Err(); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidArgs, err)
	}
	return nil
}

// prepared applies the defaults and validates: the start of every builder.
func (a Args) prepared() (Args, error) {
	a = a.WithDefaults()
	return a, a.Validate()
}
