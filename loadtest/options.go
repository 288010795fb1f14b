package loadtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cirkelline/infra/internal/validate"
)

// Thresholds map a metric (optionally with tags, "http_req_duration{endpoint:chat}")
// to k6 threshold expressions ("p(95)<2000").
type Thresholds map[string][]string

// GracefulRampDown lets iterations in flight finish when VUs ramp down.
const GracefulRampDown = 30 * time.Second

// Options is the k6 options document (options.json) the Go side generates;
// the scripts hold request logic only.
type Options struct {
	Scenarios  map[string]Scenario `json:"scenarios"`
	Thresholds Thresholds          `json:"thresholds"`
	Tags       map[string]string   `json:"tags,omitempty"`
	// SummaryTrendStats include the percentiles the thresholds use, and
	// count, so the runners' summaries can be combined (a Trend's "count"
	// stat: k6 v1.3.0 metrics/sample.go).
	SummaryTrendStats []string `json:"summaryTrendStats"`
}

// Scenario is a k6 ramping-vus scenario.
type Scenario struct {
	Executor         string   `json:"executor"`
	StartVUs         int      `json:"startVUs"`
	Stages           []Stage  `json:"stages"`
	GracefulRampDown Duration `json:"gracefulRampDown"`
}

// BuildOptions generates k6's options for a shape run with a flow.
func BuildOptions(shape Shape, thresholds Thresholds, tags map[string]string) Options {
	return Options{
		Scenarios: map[string]Scenario{string(shape.Name): {
			Executor: "ramping-vus", StartVUs: shape.StartVUs, Stages: slices.Clone(shape.Stages),
			GracefulRampDown: Duration(GracefulRampDown),
		}},
		Thresholds:        thresholds,
		Tags:              maps.Clone(tags),
		SummaryTrendStats: summaryTrendStats(thresholds),
	}
}

// JSON is the options document, indented, with a trailing newline.
func (o Options) JSON() ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // keep "p(95)<2000" readable
	enc.SetIndent("", "  ")
	if err := enc.Encode(o); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// SummaryTrendStats are the Trend statistics every runner's summary holds.
var SummaryTrendStats = []string{"avg", "min", "med", "max", "p(90)", "p(95)", "p(99)", "count"}

// summaryTrendStats adds every percentile a threshold uses, so the report
// can judge it from the runners' summaries.
func summaryTrendStats(t Thresholds) []string {
	stats := slices.Clone(SummaryTrendStats)
	for _, metric := range slices.Sorted(maps.Keys(t)) {
		for _, expr := range t[metric] {
			if e := thresholdExpr.FindStringSubmatch(strings.TrimSpace(expr)); e != nil && aggregationKind(e[1]) == "p" && !slices.Contains(stats, e[1]) {
				stats = append(stats, e[1])
			}
		}
	}
	return stats
}

var (
	thresholdExpr = regexp.MustCompile(`^(avg|min|max|med|count|rate|value|p\((\d+(\.\d+)?)\))\s*(<=|>=|==|===|!=|<|>)\s*-?\d+(\.\d+)?$`)
	metricName    = regexp.MustCompile(`^([a-z_][a-z0-9_]*)(\{[^{}]+\})?$`)
)

// Aggregations are the threshold aggregation methods k6 accepts on each
// metric type, exactly k6 v1.3.0's metrics/metric_type.go
// supportedAggregationMethods ("p" is any percentile p(N)). k6 checks every
// threshold against it at start (metrics/thresholds.go Thresholds.Validate,
// called from internal/cmd/run.go through the metrics engine's
// InitSubMetricsAndThresholds) and exits 104 (InvalidConfig) otherwise,
// with "supported aggregation methods for this metric are: ...". A Gauge's
// summary shows min and max too, but a threshold may only use its value.
var Aggregations = map[MetricType][]string{
	Counter: {"count", "rate"},
	Gauge:   {"value"},
	Rate:    {"rate"},
	Trend:   {"avg", "min", "max", "med", "p"},
}

// ValidateThresholds checks every metric exists for the flow and every
// expression parses and fits the metric's type.
func ValidateThresholds(errs *validate.Errors, path string, flow Flow, t Thresholds) {
	for _, metric := range slices.Sorted(maps.Keys(t)) {
		mp := validate.Key(path, metric)
		m := metricName.FindStringSubmatch(metric)
		if m == nil {
			errs.Add(mp, nil, "is not a metric name (optionally with {tag:value})", `use e.g. "http_req_duration" or "http_req_duration{endpoint:chat}"`)
			continue
		}
		typ, ok := flow.Metric(m[1])
		if !ok {
			errs.Add(mp, nil, fmt.Sprintf("is not a metric the %s flow reports", flow), "use one of: "+strings.Join(flow.MetricNames(), ", "))
			continue
		}
		if len(t[metric]) == 0 {
			errs.Add(mp, nil, "has no threshold expressions", `add e.g. "p(95)<2000"`)
		}
		for i, expr := range t[metric] {
			ep := validate.Index(mp, i)
			e := thresholdExpr.FindStringSubmatch(strings.TrimSpace(expr))
			if e == nil {
				errs.Add(ep, expr, "is not a k6 threshold expression", `write "<aggregation> <op> <number>", e.g. "p(95)<2000" or "rate<0.01"`)
				continue
			}
			agg := aggregationKind(e[1])
			if agg == "p" {
				if pct, _ := strconv.ParseFloat(e[2], 64); pct <= 0 || pct >= 100 {
					errs.Add(ep, expr, "percentile must be between 0 and 100 (exclusive)", `use e.g. "p(95)"`)
				}
			}
			if !slices.Contains(Aggregations[typ], agg) {
				errs.Add(ep, expr, fmt.Sprintf("%s is not an aggregation k6 accepts on %s, a %s metric (k6 would exit 104 at start)", agg, m[1], typ),
					"use one of: "+strings.Join(aggregationExamples(Aggregations[typ]), ", "))
			}
		}
	}
}

// ValidateStages checks durations and targets.
func ValidateStages(errs *validate.Errors, path string, stages []Stage) {
	if len(stages) == 0 {
		errs.Add(path, nil, "must have at least one stage", `add e.g. {duration: "1m", target: 10}`)
	}
	for i, st := range stages {
		sp := validate.Index(path, i)
		if st.Duration <= 0 {
			errs.Add(validate.Join(sp, "duration"), st.Duration.String(), "must be positive", `use e.g. "30s" or "2m"`)
		}
		if st.Target < 0 {
			errs.Add(validate.Join(sp, "target"), st.Target, "must not be negative", "")
		}
	}
}

// aggregationExamples writes k6's percentile token "p" as "p(95)".
func aggregationExamples(aggs []string) []string {
	out := slices.Clone(aggs)
	for i, a := range out {
		if a == "p" {
			out[i] = "p(N), e.g. p(95)"
		}
	}
	return out
}

func aggregationKind(agg string) string {
	if strings.HasPrefix(agg, "p(") {
		return "p"
	}
	return agg
}

// SplitsAcrossRunners reports whether a threshold that every runner passes
// on its own share is passed by the whole run, so a Job whose runners all
// pass is a run that passes. It holds where the combined value lies between
// the runners' values: a Trend's min, max, avg and percentiles (at most 5 %
// of each runner's samples above X is at most 5 % of all of them) and a
// Rate metric's rate (a weighted mean). It fails where the runners' values
// add up: a Counter's count and rate, a Gauge's value.
func SplitsAcrossRunners(typ MetricType, agg string) bool {
	switch typ {
	case Trend:
		return true
	case Rate:
		return agg == "rate"
	}
	return false
}

// validateSplit refuses thresholds the runners cannot judge on their shares.
func validateSplit(errs *validate.Errors, path string, flow Flow, t Thresholds, runners int, vusToOneRunner int) {
	if runners < 2 {
		return
	}
	for _, metric := range slices.Sorted(maps.Keys(t)) {
		m := metricName.FindStringSubmatch(metric)
		if m == nil {
			continue
		}
		typ, ok := flow.Metric(m[1])
		if !ok {
			continue
		}
		for i, expr := range t[metric] {
			e := thresholdExpr.FindStringSubmatch(strings.TrimSpace(expr))
			if e == nil || SplitsAcrossRunners(typ, aggregationKind(e[1])) {
				continue
			}
			errs.Add(validate.Index(validate.Key(path, metric), i), expr,
				fmt.Sprintf("a %s %s adds up over runners, so none of the %d runners can judge it on its share", typ, aggregationKind(e[1]), runners),
				fmt.Sprintf(`remove it and judge the combined run with "go run . loadtest report", or set loadtest.vusPerRunner to %d so one runner runs the whole test`, vusToOneRunner))
		}
	}
}

// UpperBound is the bound of the first "p(<percentile>)<N" (or "<=")
// expression on metric, in the metric's unit (milliseconds for k6's
// http_req_duration), and whether there is one. Monitoring alerts on the
// same number the load test gates on.
func (t Thresholds) UpperBound(metric string, percentile float64) (float64, bool) {
	for _, expr := range t[metric] {
		e := thresholdExpr.FindStringSubmatch(strings.TrimSpace(expr))
		if e == nil || aggregationKind(e[1]) != "p" || (e[4] != "<" && e[4] != "<=") {
			continue
		}
		if p, err := strconv.ParseFloat(e[2], 64); err != nil || p != percentile {
			continue
		}
		op := strings.Index(expr, e[4])
		bound, err := strconv.ParseFloat(strings.TrimSpace(expr[op+len(e[4]):]), 64)
		if err == nil {
			return bound, true
		}
	}
	return 0, false
}
