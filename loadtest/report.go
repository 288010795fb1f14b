package loadtest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// SummaryMarker starts the one stdout line in which a flow's handleSummary
// prints the runner's end-of-test summary as JSON, so the report finds it
// among k6's banner and logs. It is scripts/summary.js's SUMMARY_MARKER
// (TestSummaryMarkerIsTheScripts).
const SummaryMarker = "@@k6-summary@@ "

// ErrNoSummary: a runner's log holds no summary line (it has not finished,
// or it crashed before handleSummary).
var ErrNoSummary = errors.New("loadtest: no summary line in the runner's log")

// RunnerSummary is one runner's summary line.
type RunnerSummary struct {
	Flow    string `json:"flow"`
	Runner  int    `json:"runner"`
	Segment string `json:"segment"`
	// Tags are the tags k6 put on every sample of this runner, as its
	// k6 reported them (k6/execution test.options.tags); nil from a
	// script that did not report them.
	Tags    map[string]string `json:"tags,omitempty"`
	Summary Summary           `json:"summary"`
}

// Summary is the part of k6's handleSummary data the report reads (k6
// v1.3.0 internal/js/summary.go summarizeMetricsToObject).
type Summary struct {
	State struct {
		TestRunDurationMs float64 `json:"testRunDurationMs"`
	} `json:"state"`
	Metrics map[string]SummaryMetric `json:"metrics"`
}

// SummaryMetric is one metric of a summary: its type and its values (a
// Trend's summaryTrendStats, a Counter's count and rate, a Rate's passes,
// fails and rate, a Gauge's value, min and max), and each threshold's
// verdict on this runner.
type SummaryMetric struct {
	Type       MetricType         `json:"type"`
	Contains   string             `json:"contains"`
	Values     map[string]float64 `json:"values"`
	Thresholds map[string]struct {
		OK bool `json:"ok"`
	} `json:"thresholds,omitempty"`
}

// ParseRunnerLog finds the summary line in a runner's log (the last, should
// k6 ever print more than one).
func ParseRunnerLog(log []byte) (RunnerSummary, error) {
	var line []byte
	sc := bufio.NewScanner(bytes.NewReader(log))
	sc.Buffer(make([]byte, 0, 64*1024), 64*1024*1024)
	for sc.Scan() {
		if i := bytes.Index(sc.Bytes(), []byte(SummaryMarker)); i >= 0 {
			line = slices.Clone(sc.Bytes()[i+len(SummaryMarker):])
		}
	}
	if err := sc.Err(); err != nil {
		return RunnerSummary{}, fmt.Errorf("loadtest: read runner log: %w", err)
	}
	if line == nil {
		return RunnerSummary{}, ErrNoSummary
	}
	var s RunnerSummary
	if err := json.Unmarshal(line, &s); err != nil {
		return RunnerSummary{}, fmt.Errorf("loadtest: summary line: %w", err)
	}
	return s, nil
}

// Estimate is a combined value: exact, or known to lie in [Low, High] with
// Value the runners' count-weighted mean.
type Estimate struct {
	Value, Low, High float64
	Exact            bool
}

func exact(v float64) Estimate { return Estimate{Value: v, Low: v, High: v, Exact: true} }

// CombinedMetric is a metric over all runners.
type CombinedMetric struct {
	Type   MetricType
	Time   bool // values are milliseconds
	Values map[string]Estimate
}

// Verdict is a threshold judged on the combined run.
type Verdict struct {
	Metric, Expr string
	// Result is "pass", "fail" or "undecided" (the runners' summaries bound
	// the combined value on both sides of the threshold).
	Result string
	// FailedOn lists the runners whose own k6 judged it failed.
	FailedOn []int
}

// Combined is the run's one result.
type Combined struct {
	Expected int
	Runners  []int
	// Missing are the runner indexes without a summary.
	Missing []int
	// Unexpected are summaries from runner indexes the run does not have
	// (the stack's load test changed since the run) or a second summary of
	// the same runner: the report cannot stand for this run.
	Unexpected []int
	Duration   time.Duration
	Metrics    map[string]CombinedMetric
	Verdicts   []Verdict
	// Tags are the tags each runner's k6 reported, by runner.
	Tags map[int]map[string]string
}

// Combine merges the runners' summaries and judges thresholds on the
// whole run. Counts, Rate metrics, Trend min, max, avg and count are
// exact; a Trend's median and percentiles cannot be merged from summaries:
// the run's value lies between the runners' lowest and highest, which is
// what the report shows (Prometheus remote write keeps the raw series for
// exact figures). Gauges add up: vus is the sum of the runners' values.
func Combine(runs []RunnerSummary, expected int, thresholds Thresholds) Combined {
	c := Combined{Expected: expected, Metrics: map[string]CombinedMetric{}}
	seen := map[int]bool{}
	for _, r := range runs {
		if seen[r.Runner] || r.Runner < 0 || r.Runner >= expected {
			c.Unexpected = append(c.Unexpected, r.Runner)
		}
		seen[r.Runner] = true
		c.Runners = append(c.Runners, r.Runner)
		if r.Tags != nil {
			if c.Tags == nil {
				c.Tags = map[int]map[string]string{}
			}
			c.Tags[r.Runner] = r.Tags
		}
		c.Duration = max(c.Duration, time.Duration(r.Summary.State.TestRunDurationMs*float64(time.Millisecond)))
	}
	slices.Sort(c.Runners)
	for i := range expected {
		if !seen[i] {
			c.Missing = append(c.Missing, i)
		}
	}
	names := map[string]bool{}
	for _, r := range runs {
		for n := range r.Summary.Metrics {
			names[n] = true
		}
	}
	for name := range names {
		var parts []SummaryMetric
		for _, r := range runs {
			if m, ok := r.Summary.Metrics[name]; ok {
				parts = append(parts, m)
			}
		}
		c.Metrics[name] = combineMetric(parts, c.Duration)
	}
	for _, metric := range slices.Sorted(maps.Keys(thresholds)) {
		for _, expr := range thresholds[metric] {
			v := Verdict{Metric: metric, Expr: expr, Result: judge(c.Metrics[metric], expr)}
			for _, r := range runs {
				if t, ok := r.Summary.Metrics[metric].Thresholds[expr]; ok && !t.OK {
					v.FailedOn = append(v.FailedOn, r.Runner)
				}
			}
			slices.Sort(v.FailedOn)
			c.Verdicts = append(c.Verdicts, v)
		}
	}
	return c
}

// TagsReport says which tags every sample carries: the run's tags (Tags)
// and runner=<index>, checked against what each runner's k6 reported. A
// runner whose k6 reported other tags gets a line of its own.
func (c Combined) TagsReport(tags map[string]string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "tags on every sample: %s", TagsLine(tags, c.Expected))
	var wrong []string
	confirmed := 0
	for _, r := range c.Runners {
		got, ok := c.Tags[r]
		if !ok {
			continue
		}
		want := maps.Clone(tags)
		want[RunnerTag] = strconv.Itoa(r)
		if maps.Equal(got, want) {
			confirmed++
			continue
		}
		var diff []string
		for _, k := range slices.Sorted(maps.Keys(want)) {
			if v, ok := got[k]; !ok {
				diff = append(diff, "no "+k)
			} else if v != want[k] {
				diff = append(diff, fmt.Sprintf("%s=%s, not %s", k, v, want[k]))
			}
		}
		for _, k := range slices.Sorted(maps.Keys(got)) {
			if _, ok := want[k]; !ok {
				diff = append(diff, "also "+k+"="+got[k])
			}
		}
		wrong = append(wrong, fmt.Sprintf("runner %d's k6 tagged its samples differently: %s", r, strings.Join(diff, ", ")))
	}
	fmt.Fprintf(&b, " (confirmed by %d of %d runners' k6)\n", confirmed, len(c.Runners))
	for _, w := range wrong {
		b.WriteString(w + "\n")
	}
	return b.String()
}

func combineMetric(parts []SummaryMetric, d time.Duration) CombinedMetric {
	m := CombinedMetric{Type: parts[0].Type, Time: parts[0].Contains == "time", Values: map[string]Estimate{}}
	sum := func(k string) float64 {
		var s float64
		for _, p := range parts {
			s += p.Values[k]
		}
		return s
	}
	switch m.Type {
	case Counter:
		m.Values["count"] = exact(sum("count"))
		if d > 0 {
			m.Values["rate"] = exact(sum("count") / d.Seconds())
		}
	case Rate:
		passes, fails := sum("passes"), sum("fails")
		m.Values["passes"], m.Values["fails"] = exact(passes), exact(fails)
		if passes+fails > 0 {
			m.Values["rate"] = exact(passes / (passes + fails))
		}
	case Gauge:
		// Each runner holds its share: the run's last value is their sum;
		// its peak lies between the highest runner's peak and the sum of
		// them (equal when the runners peak together, as started together).
		m.Values["value"] = exact(sum("value"))
		_, highest := bounds(parts, "max")
		m.Values["max"] = Estimate{Value: sum("max"), Low: highest, High: sum("max"), Exact: len(parts) == 1}
	case Trend:
		count := sum("count")
		for k := range parts[0].Values {
			lo, hi := bounds(parts, k)
			switch {
			case k == "count":
				m.Values[k] = exact(count)
			case k == "min":
				m.Values[k] = exact(lo)
			case k == "max":
				m.Values[k] = exact(hi)
			case count > 0:
				// avg is exact as the count-weighted mean; med and p(N)
				// are only bounded by the runners' values.
				var weighted float64
				for _, p := range parts {
					weighted += p.Values[k] * p.Values["count"]
				}
				m.Values[k] = Estimate{Value: weighted / count, Low: lo, High: hi, Exact: k == "avg" || len(parts) == 1 || lo == hi}
			default:
				m.Values[k] = Estimate{Value: (lo + hi) / 2, Low: lo, High: hi, Exact: len(parts) == 1 || lo == hi}
			}
		}
	}
	return m
}

func bounds(parts []SummaryMetric, k string) (float64, float64) {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, p := range parts {
		lo, hi = min(lo, p.Values[k]), max(hi, p.Values[k])
	}
	return lo, hi
}

// judge evaluates "agg op number" on a combined metric.
func judge(m CombinedMetric, expr string) string {
	e := thresholdExpr.FindStringSubmatch(strings.TrimSpace(expr))
	if e == nil || m.Values == nil {
		return "undecided"
	}
	est, ok := m.Values[e[1]]
	if !ok {
		return "undecided"
	}
	op := e[4]
	limit, _ := strconv.ParseFloat(strings.TrimSpace(expr[strings.LastIndex(expr, op)+len(op):]), 64)
	holds := func(v float64) bool {
		switch op {
		case "<":
			return v < limit
		case "<=":
			return v <= limit
		case ">":
			return v > limit
		case ">=":
			return v >= limit
		case "==", "===":
			return v == limit
		default: // !=
			return v != limit
		}
	}
	switch {
	case est.Exact:
		return passFail(holds(est.Value))
	case holds(est.Low) && holds(est.High) && op != "==" && op != "===" && op != "!=":
		return "pass" // monotone in the value: both ends hold, so does every value between
	case !holds(est.Low) && !holds(est.High) && op != "==" && op != "===" && op != "!=":
		return "fail"
	}
	return "undecided"
}

func passFail(ok bool) string {
	if ok {
		return "pass"
	}
	return "fail"
}

// Verdict is the run's: MISMATCH when summaries come from runners the run
// does not have, INCOMPLETE when runners are missing (nothing can be
// judged on part of a run), FAIL when a threshold fails on the combined
// run, UNDECIDED when a threshold cannot be judged from summaries, else PASS.
func (c Combined) Verdict() string {
	if len(c.Unexpected) > 0 {
		return "MISMATCH"
	}
	if len(c.Missing) > 0 {
		return "INCOMPLETE"
	}
	result := "PASS"
	for _, v := range c.Verdicts {
		if v.Result == "fail" {
			return "FAIL"
		}
		if v.Result == "undecided" {
			result = "UNDECIDED"
		}
	}
	return result
}

// Table prints the combined result.
func (c Combined) Table() string {
	var b strings.Builder
	fmt.Fprintf(&b, "runners: %d of %d reported", len(c.Runners), c.Expected)
	if len(c.Missing) > 0 {
		fmt.Fprintf(&b, " (missing: %v)", c.Missing)
	}
	if len(c.Unexpected) > 0 {
		fmt.Fprintf(&b, " (unexpected: %v: has the stack's load test changed since this run?)", c.Unexpected)
	}
	fmt.Fprintf(&b, "; test run %s\n", c.Duration.Round(time.Second))
	if reqs, ok := c.Metrics["http_reqs"]; ok {
		fmt.Fprintf(&b, "requests: %.0f, %.1f req/s", reqs.Values["count"].Value, reqs.Values["rate"].Value)
		if failed, ok := c.Metrics["http_req_failed"]; ok {
			fmt.Fprintf(&b, ", %.2f %% failed", failed.Values["rate"].Value*100)
		}
		b.WriteString("\n")
	}
	b.WriteString("\n")
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "METRIC\tSTAT\tRUN\tRUNNERS' RANGE")
	for _, name := range slices.Sorted(maps.Keys(c.Metrics)) {
		m := c.Metrics[name]
		for _, k := range statOrder(m.Values) {
			v := m.Values[k]
			isTime := m.Time && k != "count"
			rng := ""
			if !v.Exact {
				rng = fmt.Sprintf("%s – %s (not exact)", format(v.Low, isTime), format(v.High, isTime))
			}
			value := format(v.Value, isTime)
			if !v.Exact {
				value = "~" + value
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", name, k, value, rng)
		}
	}
	tw.Flush()
	if len(c.Verdicts) > 0 {
		b.WriteString("\n")
		tw = tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "THRESHOLD\tRUN\tFAILED ON RUNNERS")
		for _, v := range c.Verdicts {
			failed := ""
			if len(v.FailedOn) > 0 {
				failed = fmt.Sprint(v.FailedOn)
			}
			fmt.Fprintf(tw, "%s %s\t%s\t%s\n", v.Metric, v.Expr, v.Result, failed)
		}
		tw.Flush()
	}
	fmt.Fprintf(&b, "\nverdict: %s\n", c.Verdict())
	if c.Verdict() == "UNDECIDED" {
		b.WriteString("(a percentile's combined value lies between the runners' values, on both sides of a threshold: read it from Prometheus (loadtest.prometheusRemoteWriteUrl) for the exact figure)\n")
	}
	lines := strings.Split(b.String(), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " ")
	}
	return strings.Join(lines, "\n")
}

func statOrder(values map[string]Estimate) []string {
	rank := func(k string) string {
		for i, s := range append(slices.Clone(SummaryTrendStats), "passes", "fails", "rate", "value") {
			if s == k {
				return fmt.Sprintf("%02d", i)
			}
		}
		return "99" + k
	}
	keys := slices.Collect(maps.Keys(values))
	slices.SortFunc(keys, func(a, b string) int { return strings.Compare(rank(a), rank(b)) })
	return keys
}

func format(v float64, ms bool) string {
	if ms {
		d := time.Duration(v * float64(time.Millisecond))
		switch {
		case d >= time.Second:
			return d.Round(10 * time.Millisecond).String()
		case d >= time.Millisecond:
			return d.Round(100 * time.Microsecond).String()
		}
		return d.Round(time.Microsecond).String()
	}
	if v == math.Trunc(v) && math.Abs(v) < 1e15 {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'f', 4, 64)
}
