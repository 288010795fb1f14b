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
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/cirkelline/infra/internal/validate"
)

// ErrInvalidArgs is what errors.Is matches for Args that cannot be built
// from; the error lists every problem with its field path.
var ErrInvalidArgs = errors.New("monitoring: invalid arguments")

// Args are a stack's monitoring inputs. Zero values mean the documented
// default (WithDefaults).
type Args struct {
	// Stack names the stack: the dashboard's title and uid, and the value
	// of the load test's "stack" label. Required.
	Stack string
	// Namespace the services (and their HPAs and pods) run in. Required.
	Namespace string
	// Services to scrape and watch. At least one.
	Services []Service
	// Prometheus is the stack's Prometheus: how its objects are selected
	// and where it scrapes from.
	Prometheus Prometheus
	// Requests names the services' own HTTP metrics.
	Requests RequestMetrics
	// Thresholds of the alerts.
	Thresholds Thresholds
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
	// Path of the metrics endpoint. Default "/metrics".
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
	SelectorLabels map[string]string
	// Namespace Prometheus runs in, for the NetworkPolicy. Default
	// "monitoring".
	Namespace string
	// PodLabels of the Prometheus pods, for the NetworkPolicy. Default
	// {"app.kubernetes.io/name": "prometheus"}, which prometheus-operator
	// puts on every Prometheus pod (pkg/prometheus/server/operator.go,
	// makeSelectorLabels, applicationNameLabelValue "prometheus", v0.93.0).
	PodLabels map[string]string
	// Interval between scrapes. Default 30s.
	Interval time.Duration
}

// RequestMetrics names the services' HTTP metrics. The defaults are what
// prometheus-fastapi-instrumentator exports (its README and
// metrics.default(): http_requests_total{handler,method,status} with
// status grouped as "5xx" by default, and the histogram
// http_request_duration_seconds{handler,method}).
type RequestMetrics struct {
	// Requests is the request counter. Default "http_requests_total".
	Requests string
	// StatusLabel holds the response's status code. Default "status".
	StatusLabel string
	// ServerErrors matches the status values of server errors (a PromQL
	// regular expression). Default "5.." (matches "503" and "5xx").
	ServerErrors string
	// Duration is the request-duration histogram, in seconds, without
	// "_bucket". Default "http_request_duration_seconds".
	Duration string
}

// Thresholds of the alerts (and the dashboard's threshold lines).
type Thresholds struct {
	// LatencyP95 is the p95 request duration the stack must stay under:
	// the same number as the load test's http_req_duration p(95)
	// threshold. Required.
	LatencyP95 time.Duration
	// ErrorRatio is the share of server errors (5xx) among requests above
	// which HighErrorRatio fires. Default 0.05.
	ErrorRatio float64
	// RateLimitedRatio is the share of a limiter's requests answered 429
	// above which RateLimitingHigh fires. Default 0.10.
	RateLimitedRatio float64
	// Restarts is how many restarts of one container within 15 minutes
	// fire PodRestarting. Default 3.
	Restarts int
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

// WithDefaults returns a copy of a with every zero field set to its
// default. The maps and slices of the copy are its own.
func (a Args) WithDefaults() Args {
	a.Services = slices.Clone(a.Services)
	for i := range a.Services {
		s := &a.Services[i]
		if s.Port == "" {
			s.Port = DefaultPort
		}
		if s.Path == "" {
			s.Path = DefaultPath
		}
		if s.Container == "" {
			s.Container = DefaultContainer
		}
	}
	p := &a.Prometheus
	if p.Namespace == "" {
		p.Namespace = DefaultPrometheusNamespace
	}
	if len(p.PodLabels) == 0 {
		p.PodLabels = DefaultPrometheusPodLabels()
	}
	p.PodLabels = maps.Clone(p.PodLabels)
	p.SelectorLabels = maps.Clone(p.SelectorLabels)
	if p.Interval == 0 {
		p.Interval = DefaultInterval
	}
	r := &a.Requests
	if r.Requests == "" {
		r.Requests = DefaultRequests
	}
	if r.StatusLabel == "" {
		r.StatusLabel = DefaultStatusLabel
	}
	if r.ServerErrors == "" {
		r.ServerErrors = DefaultServerErrors
	}
	if r.Duration == "" {
		r.Duration = DefaultDuration
	}
	t := &a.Thresholds
	if t.ErrorRatio == 0 {
		t.ErrorRatio = DefaultErrorRatio
	}
	if t.RateLimitedRatio == 0 {
		t.RateLimitedRatio = DefaultRateLimitedRatio
	}
	if t.Restarts == 0 {
		t.Restarts = DefaultRestarts
	}
	a.Labels = maps.Clone(a.Labels)
	return a
}

// Validate reports every problem of a (after WithDefaults), each with its
// field path, as one error matching ErrInvalidArgs and validate.ErrInvalid.
func (a Args) Validate() error {
	var errs validate.Errors
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
		if s.Path == "" || s.Path[0] != '/' {
			errs.Add(validate.Join(path, "path"), s.Path, "must start with /", "")
		}
	}
	t := a.Thresholds
	if t.LatencyP95 <= 0 {
		errs.Add("thresholds.latencyP95", t.LatencyP95.String(), "must be positive", "pass the load test's http_req_duration p(95) threshold")
	}
	for _, r := range []struct {
		path  string
		value float64
	}{{"thresholds.errorRatio", t.ErrorRatio}, {"thresholds.rateLimitedRatio", t.RateLimitedRatio}} {
		if r.value <= 0 || r.value >= 1 {
			errs.Add(r.path, r.value, "must be between 0 and 1 (exclusive)", "a share of requests, e.g. 0.05")
		}
	}
	if t.Restarts < 1 {
		errs.Add("thresholds.restarts", t.Restarts, "must be at least 1", "")
	}
	if a.Prometheus.Interval < time.Second {
		errs.Add("prometheus.interval", a.Prometheus.Interval.String(), "must be at least 1s", "")
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
