package monitoring

import (
	"encoding/json"
	"fmt"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"
)

// The load test's series, as k6's Prometheus remote-write output names
// them (grafana/xk6-output-prometheus-remote, pkg/remotewrite: prefix
// "k6_" (config.go defaultMetricPrefix); a Counter gets "_total", a Rate
// "_rate", a Gauge nothing, a Trend one gauge per stat in
// K6_PROMETHEUS_RW_TREND_STATS, "p(95)" becoming "_p95", in seconds
// (trend.go adaptUnit); every tag becomes a label). The load test sets
// the stats to p(95),p(99),min,max and tags every metric with stack, run
// and runner (components/loadtestspec.go, loadtest/run.go).
const (
	k6VUs          = "k6_vus"
	k6Requests     = "k6_http_reqs_total"
	k6DurationP95  = "k6_http_req_duration_p95"
	k6Failed       = "k6_http_req_failed_rate"
	K6StackLabel   = "stack"
	K6RunLabel     = "run"
	runVariable    = "run"
	datasourceVar  = "datasource"
	rateInterval   = "$__rate_interval"
	panelHeight    = 8
	panelWidth     = 8
	dashboardTitle = "Scaling"
)

// DashboardUID is the dashboard's uid for a stack: stable, so a link to
// it survives a re-import.
func DashboardUID(stack string) string { return "cirkelline-" + stack }

// Panel is one panel of the dashboard as the README and the tests see it.
type Panel struct {
	Row, Title, Description string
	// Unit is Grafana's unit id of the values.
	Unit    string
	Queries []Query
}

// Query is one PromQL query of a panel, with the dashboard's variables,
// and the legend of its series.
type Query struct{ Expr, Legend string }

// DashboardPanels returns the dashboard's panels in order, row by row.
func DashboardPanels(args Args) ([]Panel, error) {
	a, err := args.prepared()
	if err != nil {
		return nil, err
	}
	return a.panels(), nil
}

func (a Args) panels() []Panel {
	q := a.queries()
	ns := q.ns
	k6 := fmt.Sprintf("%s=%q, %s=~\"$%s\"", K6StackLabel, a.Stack, K6RunLabel, runVariable)
	var cpu, mem []Query
	for _, s := range a.Services {
		// A Deployment's pods are <name>-<pod-template-hash>-<suffix>.
		pods := fmt.Sprintf("%s, pod=~%q, container=%q", ns, s.Name+"-[a-z0-9]+-[a-z0-9]+", s.Container)
		cpu = append(cpu, Query{fmt.Sprintf(`100 * sum(rate(%s{%s}[%s])) / sum(%s{%s, resource="cpu"})`,
			cadvisorCPU, pods, rateInterval, ksmRequests, pods), s.Name})
		mem = append(mem, Query{fmt.Sprintf(`100 * sum(%s{%s}) / sum(%s{%s, resource="memory"})`,
			cadvisorMemory, pods, ksmRequests, pods), s.Name})
	}
	target := func(resource string) Query {
		return Query{fmt.Sprintf(`max by (horizontalpodautoscaler) (%s{%s, %s, metric_name=%q, metric_target_type="utilization"})`, ksmHPATarget, ns, q.hpas, resource),
			"{{horizontalpodautoscaler}} target"}
	}
	hpa := func(metric, legend string) Query {
		return Query{fmt.Sprintf("max by (horizontalpodautoscaler) (%s{%s, %s})", metric, ns, q.hpas), "{{horizontalpodautoscaler}} " + legend}
	}
	threshold := Query{fmt.Sprintf("vector(%s)", formatFloat(a.Thresholds.LatencyP95.Seconds())), "threshold (p95)"}
	return []Panel{
		{Row: "Scaling", Title: "Replicas per HPA", Description: "Current and desired replicas against the HPA's min and max (kube-state-metrics). Desired above current for minutes: pods cannot be scheduled or do not start. Current at max: the HPA has nothing left to give.",
			Unit: "short", Queries: []Query{hpa(ksmHPACurrent, "current"), hpa(ksmHPADesired, "desired"), hpa(ksmHPAMin, "min"), hpa(ksmHPAMax, "max")}},
		{Row: "Scaling", Title: "CPU utilisation vs HPA target", Description: "Each service's CPU use as a percentage of its requests (what the HPA scales on), and the HPA's CPU target.",
			Unit: "percent", Queries: append(cpu, target("cpu"))},
		{Row: "Scaling", Title: "Memory utilisation vs HPA target", Description: "Each service's working-set memory as a percentage of its requests, and the HPA's memory target. Memory that stays above the target holds replicas up after the load is gone.",
			Unit: "percent", Queries: append(mem, target("memory"))},
		{Row: "Traffic", Title: "Request rate", Description: "Requests per second per service, from the services' own metrics.",
			Unit: "reqps", Queries: []Query{{q.requestRate(rateInterval, false), "{{service}}"}}},
		{Row: "Traffic", Title: "Error ratio (5xx)", Description: fmt.Sprintf("Share of server errors per service; HighErrorRatio fires above %s for 5 minutes.", percent(a.Thresholds.ErrorRatio)),
			Unit: "percentunit", Queries: []Query{{q.errorRatio(rateInterval), "{{service}}"}}},
		{Row: "Traffic", Title: "Latency percentiles", Description: "p50, p95 and p99 request duration per service, and the load test's p95 threshold, which LatencyP95High watches.",
			Unit: "s", Queries: []Query{{q.latency(0.5, rateInterval), "{{service}} p50"}, {q.latency(0.95, rateInterval), "{{service}} p95"}, {q.latency(0.99, rateInterval), "{{service}} p99"}, threshold}},
		{Row: "Cache", Title: "Cache hit ratio", Description: "Hits over lookups per service and backend (redis, or memory during an outage).",
			Unit: "percentunit", Queries: []Query{{fmt.Sprintf("sum by (service, backend) (rate(%s{%s, %s}[%s])) / (sum by (service, backend) (rate(%s{%s, %s}[%s])) + sum by (service, backend) (rate(%s{%s, %s}[%s])))",
				cacheHits, ns, q.services, rateInterval, cacheHits, ns, q.services, rateInterval, cacheMisses, ns, q.services, rateInterval), "{{service}} {{backend}}"}}},
		{Row: "Cache", Title: "Redis fallback", Description: "Replicas serving from memory, by why the breaker is open (unavailable: Redis down or slow; auth: the password is refused).",
			Unit: "short", Queries: []Query{{fmt.Sprintf("sum by (service, reason) (%s{%s, %s})", cacheBreakerOpen, ns, q.services), "{{service}} {{reason}}"}}},
		{Row: "Cache", Title: "Rate limiting", Description: fmt.Sprintf("Share of each limiter's requests answered 429; RateLimitingHigh fires above %s for 10 minutes.", percent(a.Thresholds.RateLimitedRatio)),
			Unit: "percentunit", Queries: []Query{{q.rateLimited(rateInterval), "{{service}} {{limiter}}"}}},
		{Row: "Load test (k6)", Title: "k6 virtual users", Description: "VUs of the selected run, summed over its runners (needs loadtest.prometheusRemoteWriteUrl).",
			Unit: "short", Queries: []Query{{fmt.Sprintf("sum by (%s) (%s{%s})", K6RunLabel, k6VUs, k6), "run {{run}} VUs"}}},
		{Row: "Load test (k6)", Title: "k6 request rate", Description: "Requests per second the selected run sent, summed over its runners; compare with the services' request rate.",
			Unit: "reqps", Queries: []Query{{fmt.Sprintf("sum by (%s) (rate(%s{%s}[%s]))", K6RunLabel, k6Requests, k6, rateInterval), "run {{run}} requests"}}},
		{Row: "Load test (k6)", Title: "k6 p95 duration vs threshold", Description: "The run's http_req_duration p95 (the highest runner's) against the threshold the run judges, shared with LatencyP95High.",
			Unit: "s", Queries: []Query{{fmt.Sprintf("max by (%s) (%s{%s})", K6RunLabel, k6DurationP95, k6), "run {{run}} p95"}, threshold}},
		{Row: "Load test (k6)", Title: "k6 failed requests", Description: "The run's http_req_failed rate (the highest runner's), which its rate<0.01 threshold judges.",
			Unit: "percentunit", Queries: []Query{{fmt.Sprintf("max by (%s) (%s{%s})", K6RunLabel, k6Failed, k6), "run {{run}} failed"}}},
	}
}

// Dashboard returns the stack's Grafana dashboard as JSON: one row per
// concern (scaling, traffic, cache, load test), a Prometheus datasource
// variable and a load-test run selector.
func Dashboard(args Args) ([]byte, error) {
	a, err := args.prepared()
	if err != nil {
		return nil, err
	}
	ds := common.DataSourceRef{Type: cog.ToPtr("prometheus"), Uid: cog.ToPtr("${" + datasourceVar + "}")}
	runs := fmt.Sprintf("label_values(%s{%s=%q}, %s)", k6VUs, K6StackLabel, a.Stack, K6RunLabel)
	b := dashboard.NewDashboardBuilder(dashboardTitle+" · "+a.Stack).
		Uid(DashboardUID(a.Stack)).
		Tags([]string{"cirkelline", a.Stack, "scaling"}).
		Time("now-1h", "now").
		Refresh("30s").
		WithVariable(dashboard.NewDatasourceVariableBuilder(datasourceVar).Label("Prometheus").Type("prometheus")).
		WithVariable(dashboard.NewQueryVariableBuilder(runVariable).Label("Load-test run").
			Datasource(ds).
			Query(dashboard.StringOrMap{String: cog.ToPtr(runs)}).
			Definition(runs).
			Refresh(dashboard.VariableRefreshOnTimeRangeChanged).
			Sort(dashboard.VariableSortNumericalDesc).
			IncludeAll(true).AllValue(".*"))
	row := ""
	for _, p := range a.panels() {
		if p.Row != row {
			row = p.Row
			b = b.WithRow(dashboard.NewRowBuilder(row))
		}
		panel := timeseries.NewPanelBuilder().Title(p.Title).Description(p.Description).
			Datasource(ds).Unit(p.Unit).Height(panelHeight).Span(panelWidth)
		for i, q := range p.Queries {
			panel = panel.WithTarget(prometheus.NewDataqueryBuilder().Expr(q.Expr).RefId(string(rune('A' + i))).
				LegendFormat(q.Legend).Datasource(ds))
		}
		b = b.WithPanel(panel)
	}
	d, err := b.Build()
	if err != nil {
		return nil, fmt.Errorf("monitoring: dashboard: %w", err)
	}
	out, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("monitoring: dashboard: %w", err)
	}
	return out, nil
}

// The label that marks a ConfigMap for Grafana's dashboard sidecar, as
// the grafana Helm chart names it (values.yaml sidecar.dashboards.label:
// grafana_dashboard; its labelValue "" accepts any value) and
// kube-prometheus-stack sets it (labelValue "1"). The wiring makes both
// configurable; these are the defaults.
const (
	DefaultSidecarLabel      = "grafana_dashboard"
	DefaultSidecarLabelValue = "1"
)

// DashboardFileName is the dashboard's key in its ConfigMap (the sidecar
// writes each key as a file) and the file render writes for a manual
// import.
func DashboardFileName(stack string) string { return stack + "-scaling.json" }
