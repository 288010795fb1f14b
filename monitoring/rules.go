package monitoring

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	monv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// The alerts PrometheusRule defines.
const (
	AlertHPAAtMaxReplicas       = "HPAAtMaxReplicas"
	AlertHPADesiredAboveCurrent = "HPADesiredAboveCurrent"
	AlertPodRestarting          = "PodRestarting"
	AlertHighErrorRatio         = "HighErrorRatio"
	AlertLatencyP95High         = "LatencyP95High"
	AlertRedisFallbackActive    = "RedisFallbackActive"
	AlertRateLimitingHigh       = "RateLimitingHigh"
)

// Metrics of other tools the alerts and panels read, each checked against
// its source:
//   - kube-state-metrics, docs/metrics/workload/horizontalpodautoscaler-metrics.md:
//     kube_horizontalpodautoscaler_{spec_max_replicas,spec_min_replicas,
//     status_current_replicas,status_desired_replicas} (STABLE) and
//     spec_target_metric{metric_name,metric_target_type} (EXPERIMENTAL),
//     labelled namespace and horizontalpodautoscaler;
//     docs/metrics/workload/pod-metrics.md: kube_pod_container_status_restarts_total
//     and kube_pod_container_resource_requests{resource,unit}, labelled
//     namespace, pod, container.
//   - cAdvisor (kubelet), docs/storage/prometheus.md:
//     container_cpu_usage_seconds_total, container_memory_working_set_bytes,
//     labelled namespace, pod, container.
//   - the cache library (cache/metrics.go): cache_fallback_active,
//     cache_ratelimit_requests_total{limiter,result}, cache_hits_total,
//     cache_misses_total, cache_breaker_open{reason}.
const (
	ksmHPAMax        = "kube_horizontalpodautoscaler_spec_max_replicas"
	ksmHPAMin        = "kube_horizontalpodautoscaler_spec_min_replicas"
	ksmHPACurrent    = "kube_horizontalpodautoscaler_status_current_replicas"
	ksmHPADesired    = "kube_horizontalpodautoscaler_status_desired_replicas"
	ksmHPATarget     = "kube_horizontalpodautoscaler_spec_target_metric"
	ksmRestarts      = "kube_pod_container_status_restarts_total"
	ksmRequests      = "kube_pod_container_resource_requests"
	cadvisorCPU      = "container_cpu_usage_seconds_total"
	cadvisorMemory   = "container_memory_working_set_bytes"
	cacheFallback    = "cache_fallback_active"
	cacheBreakerOpen = "cache_breaker_open"
	cacheRateLimit   = "cache_ratelimit_requests_total"
	cacheHits        = "cache_hits_total"
	cacheMisses      = "cache_misses_total"
)

// Severity values of the alerts' "severity" label.
const (
	SeverityWarning  = "warning"
	SeverityCritical = "critical"
)

// RuleName is the PrometheusRule's name for a stack.
func RuleName(stack string) string { return stack + "-alerts" }

// PrometheusRule returns the stack's alerts in one group, each with a
// summary, a description (why it matters, what to look at) and a runbook
// annotation naming the kubectl command to run first.
func PrometheusRule(args Args) (*monv1.PrometheusRule, error) {
	a, err := args.prepared()
	if err != nil {
		return nil, err
	}
	q := a.queries()
	ns := a.Namespace
	rules := []monv1.Rule{
		alert(AlertHPAAtMaxReplicas, q.hpaAtMax(), 10*time.Minute, SeverityWarning,
			"HPA {{ $labels.horizontalpodautoscaler }} has been at maxReplicas for 10 minutes",
			"The autoscaler wants no more pods than its maximum allows, so more load is answered slower or not at all. Raise hpa.maxReplicas if the nodes and the budget allow, or find what makes each pod slow.",
			"kubectl describe hpa {{ $labels.horizontalpodautoscaler }} -n "+ns),
		alert(AlertHPADesiredAboveCurrent, q.hpaCannotScale(), 5*time.Minute, SeverityWarning,
			"HPA {{ $labels.horizontalpodautoscaler }} wants more replicas than it has, for 5 minutes",
			"New pods are not being created or not becoming ready: a ResourceQuota, nodes without room (Pending pods), image pulls or failing probes. The events say which.",
			"kubectl get events -n "+ns+" --sort-by=.lastTimestamp; kubectl get pods -n "+ns+" --field-selector=status.phase=Pending"),
		alert(AlertPodRestarting, q.restarts(), 0, SeverityWarning,
			"Container {{ $labels.container }} of {{ $labels.pod }} restarted {{ $value }} times in 15 minutes",
			"Crashes or failed liveness probes: every restart drops in-flight requests and, under load, pushes more onto the other pods.",
			"kubectl logs {{ $labels.pod }} -c {{ $labels.container }} -n "+ns+" --previous; kubectl describe pod {{ $labels.pod }} -n "+ns),
		alert(AlertHighErrorRatio, q.errorRatioAbove(), 5*time.Minute, SeverityCritical,
			"{{ $labels.service }}: {{ $value | humanizePercentage }} of requests fail with a server error",
			fmt.Sprintf("More than %s of the service's responses are 5xx for 5 minutes: users see errors.", percent(a.Thresholds.ErrorRatio)),
			"kubectl logs -n "+ns+" "+a.podsOf("{{ $labels.service }}")+" --since=10m --prefix"),
		alert(AlertLatencyP95High, q.latencyAbove(), 10*time.Minute, SeverityWarning,
			"{{ $labels.service }}: p95 latency {{ $value | humanizeDuration }} is above "+a.Thresholds.LatencyP95.String(),
			"The p95 request duration is above the load test's threshold for 10 minutes: the service is slower in production than the load test allows. Check whether the HPA is at its maximum and whether pods are CPU-throttled.",
			"kubectl get hpa -n "+ns+"; kubectl top pods -n "+ns),
		alert(AlertRedisFallbackActive, q.fallbackActive(), 2*time.Minute, SeverityWarning,
			"{{ $labels.service }}: the cache serves from memory, Redis is unavailable",
			"Each replica caches and counts rate limits on its own: stale reads across replicas, up to N times the rate limits. cache_breaker_open{reason=\"auth\"} means the password is refused (fix the token); \"unavailable\" means Redis is down or too slow.",
			"kubectl logs -n "+ns+" "+a.podsOf("{{ $labels.service }}")+" --since=15m | grep 'cache: Redis'; kubectl get pods,events -n "+ns),
		alert(AlertRateLimitingHigh, q.rateLimitedAbove(), 10*time.Minute, SeverityWarning,
			"{{ $labels.service }}: limiter {{ $labels.limiter }} refuses {{ $value | humanizePercentage }} of requests",
			fmt.Sprintf("More than %s of the limiter's requests are answered 429 for 10 minutes: an abusive client, or a limit too tight for real traffic (clients behind one NAT share a bucket unless the trusted proxy header is set).", percent(a.Thresholds.RateLimitedRatio)),
			"kubectl logs -n "+ns+" "+a.podsOf("{{ $labels.service }}")+" --since=10m | grep ' 429 '"),
	}
	return &monv1.PrometheusRule{
		TypeMeta:   metav1.TypeMeta{APIVersion: monv1.SchemeGroupVersion.String(), Kind: monv1.PrometheusRuleKind},
		ObjectMeta: a.objectMeta(RuleName(a.Stack)),
		Spec:       monv1.PrometheusRuleSpec{Groups: []monv1.RuleGroup{{Name: a.Stack + ".rules", Rules: rules}}},
	}, nil
}

func alert(name, expr string, pending time.Duration, severity, summary, description, runbook string) monv1.Rule {
	r := monv1.Rule{
		Alert:  name,
		Expr:   intstr.FromString(expr),
		Labels: map[string]string{"severity": severity},
		Annotations: map[string]string{
			"summary":     summary,
			"description": description,
			"runbook":     runbook,
		},
	}
	if pending > 0 {
		d := monv1.Duration(promDuration(pending))
		r.For = &d
	}
	return r
}

// podsOf is how kubectl's logs select a service's pods in a runbook:
// when every service's pods share one label key whose value is the
// service's name (app.kubernetes.io/name, say), "-l key=<service>" (all
// its pods); else "deploy/<service>" (one pod of the Deployment named
// after the service).
func (a Args) podsOf(service string) string {
	for _, key := range slices.Sorted(maps.Keys(a.Services[0].PodSelector)) {
		all := true
		for _, s := range a.Services {
			if s.PodSelector[key] != s.Name {
				all = false
				break
			}
		}
		if all {
			return "-l " + key + "=" + service
		}
	}
	return "deploy/" + service
}

func percent(f float64) string { return strconv.FormatFloat(f*100, 'f', -1, 64) + " %" }

// promDuration prints d as Prometheus reads a duration ("10m", "90s").
func promDuration(d time.Duration) string {
	switch {
	case d%time.Hour == 0:
		return strconv.Itoa(int(d/time.Hour)) + "h"
	case d%time.Minute == 0:
		return strconv.Itoa(int(d/time.Minute)) + "m"
	case d%time.Second == 0:
		return strconv.Itoa(int(d/time.Second)) + "s"
	}
	return strconv.FormatInt(d.Milliseconds(), 10) + "ms"
}

// queries builds the PromQL of the alerts and panels from one place, so
// a panel shows what an alert fires on.
type queries struct {
	a        Args
	ns       string // namespace="..." matcher
	services string // service=~"..." matcher
	hpas     string // horizontalpodautoscaler=~"..." matcher; empty without HPAs
	window   string // rate window of the alerts
}

func (a Args) queries() queries {
	var names, hpas []string
	for _, s := range a.Services {
		names = append(names, regexp.QuoteMeta(s.Name))
		if s.HPA != "" {
			hpas = append(hpas, regexp.QuoteMeta(s.HPA))
		}
	}
	q := queries{
		a:        a,
		ns:       fmt.Sprintf("namespace=%q", a.Namespace),
		services: fmt.Sprintf("service=~%q", strings.Join(names, "|")),
		window:   "5m",
	}
	if len(hpas) > 0 {
		q.hpas = fmt.Sprintf("horizontalpodautoscaler=~%q", strings.Join(hpas, "|"))
	} else {
		// No HPA: the HPA alerts match nothing rather than every HPA of
		// the namespace.
		q.hpas = `horizontalpodautoscaler=""`
	}
	return q
}

// hpaSeries is one kube-state-metrics HPA gauge per HPA (max over
// duplicate kube-state-metrics replicas, so both sides of a comparison
// have the same labels).
func (q queries) hpaSeries(metric string) string {
	return fmt.Sprintf("max by (namespace, horizontalpodautoscaler) (%s{%s, %s})", metric, q.ns, q.hpas)
}

func (q queries) hpaAtMax() string {
	return q.hpaSeries(ksmHPACurrent) + " >= " + q.hpaSeries(ksmHPAMax)
}

func (q queries) hpaCannotScale() string {
	return q.hpaSeries(ksmHPADesired) + " > " + q.hpaSeries(ksmHPACurrent)
}

func (q queries) restarts() string {
	return fmt.Sprintf("sum by (namespace, pod, container) (increase(%s{%s}[15m])) >= %d", ksmRestarts, q.ns, q.a.Thresholds.Restarts)
}

// requestRate is the per-service request rate, only server errors when
// errorsOnly.
func (q queries) requestRate(window string, errorsOnly bool) string {
	r := q.a.Requests
	match := q.ns + ", " + q.services
	if errorsOnly {
		match += fmt.Sprintf(", %s=~%q", r.StatusLabel, r.ServerErrors)
	}
	return fmt.Sprintf("sum by (namespace, service) (rate(%s{%s}[%s]))", r.Counter, match, window)
}

func (q queries) errorRatio(window string) string {
	return "(" + q.requestRate(window, true) + " / " + q.requestRate(window, false) + ")"
}

func (q queries) errorRatioAbove() string {
	return q.errorRatio(q.window) + " > " + formatFloat(q.a.Thresholds.ErrorRatio)
}

func (q queries) latency(quantile float64, window string) string {
	return fmt.Sprintf("histogram_quantile(%s, sum by (namespace, service, le) (rate(%s_bucket{%s, %s}[%s])))",
		formatFloat(quantile), q.a.Requests.Duration, q.ns, q.services, window)
}

func (q queries) latencyAbove() string {
	return q.latency(0.95, q.window) + " > " + formatFloat(q.a.Thresholds.LatencyP95.Seconds())
}

func (q queries) fallbackActive() string {
	return fmt.Sprintf("max by (namespace, service) (%s{%s, %s}) > 0", cacheFallback, q.ns, q.services)
}

func (q queries) rateLimited(window string) string {
	by := "sum by (namespace, service, limiter) "
	return fmt.Sprintf(`(%s(rate(%s{%s, %s, result="limited"}[%s])) / %s(rate(%s{%s, %s}[%s])))`,
		by, cacheRateLimit, q.ns, q.services, window, by, cacheRateLimit, q.ns, q.services, window)
}

func (q queries) rateLimitedAbove() string {
	return q.rateLimited(q.window) + " > " + formatFloat(q.a.Thresholds.RateLimitedRatio)
}

func formatFloat(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }
