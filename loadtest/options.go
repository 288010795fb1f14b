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
	// SummaryTrendStats include the percentiles the thresholds use.
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
		SummaryTrendStats: []string{"avg", "min", "med", "max", "p(90)", "p(95)", "p(99)"},
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

var (
	thresholdExpr = regexp.MustCompile(`^(avg|min|max|med|count|rate|value|p\((\d+(\.\d+)?)\))\s*(<=|>=|==|===|!=|<|>)\s*-?\d+(\.\d+)?$`)
	metricName    = regexp.MustCompile(`^([a-z_][a-z0-9_]*)(\{[^{}]+\})?$`)
)

// aggregations a threshold may use on each metric type.
var aggregations = map[MetricType][]string{
	Trend:   {"avg", "min", "max", "med", "p"},
	Rate:    {"rate"},
	Counter: {"count", "rate"},
	Gauge:   {"value", "min", "max"},
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
			agg := e[1]
			if strings.HasPrefix(agg, "p(") {
				agg = "p"
				if pct, _ := strconv.ParseFloat(e[2], 64); pct <= 0 || pct >= 100 {
					errs.Add(ep, expr, "percentile must be between 0 and 100 (exclusive)", `use e.g. "p(95)"`)
				}
			}
			if !slices.Contains(aggregations[typ], agg) {
				errs.Add(ep, expr, fmt.Sprintf("%s is not defined for a %s metric", agg, typ), "use one of: "+strings.Join(aggregations[typ], ", "))
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
