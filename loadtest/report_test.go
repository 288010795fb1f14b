package loadtest_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/cirkelline/infra/loadtest"
)

// runnerLog is a runner pod's log as k6 writes it: banner, progress and
// logs around the one summary line.
func runnerLog(t *testing.T, runner int, reqs, failed float64, p95 float64, thresholdOK bool) []byte {
	t.Helper()
	summary := map[string]any{
		"flow": "cirkelline", "runner": runner, "segment": "x",
		"summary": map[string]any{
			"state": map[string]any{"testRunDurationMs": 60000},
			"metrics": map[string]any{
				"http_reqs":       map[string]any{"type": "counter", "contains": "default", "values": map[string]float64{"count": reqs, "rate": reqs / 60}},
				"http_req_failed": map[string]any{"type": "rate", "contains": "default", "values": map[string]float64{"passes": failed, "fails": reqs - failed, "rate": failed / reqs}},
				"http_req_duration": map[string]any{"type": "trend", "contains": "time",
					"values":     map[string]float64{"avg": p95 / 2, "min": 1, "med": p95 / 2, "max": p95 * 2, "p(90)": p95 * 0.9, "p(95)": p95, "p(99)": p95 * 1.5, "count": reqs},
					"thresholds": map[string]any{"p(95)<2000": map[string]bool{"ok": thresholdOK}}},
				"vus": map[string]any{"type": "gauge", "contains": "default", "values": map[string]float64{"value": 0, "min": 0, "max": 250}},
			},
		},
	}
	line, err := json.Marshal(summary)
	if err != nil {
		t.Fatal(err)
	}
	return []byte("\n          /\\      Grafana   /‾‾/\n     execution: local\n" +
		`time="2026-11-26T10:00:00Z" level=info msg="runner 1: segment 1/2:1 of 0,1/2,1"` + "\n" +
		loadtest.SummaryMarker + string(line) + "\n" +
		"running (01m00.0s), 000/250 VUs, 1200 complete and 0 interrupted iterations\n")
}

func parse(t *testing.T, log []byte) loadtest.RunnerSummary {
	t.Helper()
	s, err := loadtest.ParseRunnerLog(log)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestCombine(t *testing.T) {
	thresholds := loadtest.Thresholds{"http_req_duration": {"p(95)<2000", "avg<1000", "max<=1000"}, "http_req_failed": {"rate<0.01"}, "http_reqs": {"count>1500"}}
	tests := []struct {
		name     string
		runs     [][]byte
		expected int
		verdicts map[string]string
		verdict  string
		check    func(*testing.T, loadtest.Combined)
	}{
		{"two runners, every threshold decided", [][]byte{runnerLog(t, 0, 1000, 5, 300, true), runnerLog(t, 1, 1000, 5, 500, true)}, 2,
			map[string]string{"p(95)<2000": "pass", "avg<1000": "pass", "max<=1000": "pass", "rate<0.01": "pass", "count>1500": "pass"}, "PASS",
			func(t *testing.T, c loadtest.Combined) {
				reqs := c.Metrics["http_reqs"].Values
				if reqs["count"] != (loadtest.Estimate{Value: 2000, Low: 2000, High: 2000, Exact: true}) || reqs["rate"].Value != 2000.0/60 {
					t.Errorf("requests %+v", reqs)
				}
				if got := c.Metrics["http_req_failed"].Values["rate"]; got.Value != 0.005 || !got.Exact {
					t.Errorf("failed rate %+v", got)
				}
				d := c.Metrics["http_req_duration"].Values
				if d["p(95)"] != (loadtest.Estimate{Value: 400, Low: 300, High: 500}) {
					t.Errorf("p(95) %+v: the run's lies between the runners'", d["p(95)"])
				}
				if d["avg"] != (loadtest.Estimate{Value: 200, Low: 200, High: 200, Exact: true}) && d["avg"].Value != 200 {
					t.Errorf("avg %+v", d["avg"])
				}
				if d["max"].Value != 1000 || !d["max"].Exact || d["min"].Value != 1 {
					t.Errorf("max %+v min %+v", d["max"], d["min"])
				}
				if v := c.Metrics["vus"].Values["max"]; v.Value != 500 || v.Low != 250 || v.Exact {
					t.Errorf("vus max %+v", v)
				}
			}},
		{"percentile on both sides of the threshold", [][]byte{runnerLog(t, 0, 1000, 0, 1500, true), runnerLog(t, 1, 1000, 0, 2500, false)}, 2,
			map[string]string{"p(95)<2000": "undecided", "max<=1000": "fail"}, "FAIL",
			func(t *testing.T, c loadtest.Combined) {
				for _, v := range c.Verdicts {
					if v.Expr == "p(95)<2000" && !reflect.DeepEqual(v.FailedOn, []int{1}) {
						t.Errorf("runner 1's k6 failed p(95)<2000: %v", v.FailedOn)
					}
				}
			}},
		{"every runner above the threshold", [][]byte{runnerLog(t, 0, 500, 50, 2100, false), runnerLog(t, 1, 500, 0, 2500, false)}, 2,
			map[string]string{"p(95)<2000": "fail", "rate<0.01": "fail", "count>1500": "fail"}, "FAIL", nil},
		{"a runner missing", [][]byte{runnerLog(t, 1, 1000, 0, 100, true)}, 3,
			map[string]string{"p(95)<2000": "pass"}, "INCOMPLETE",
			func(t *testing.T, c loadtest.Combined) {
				if !reflect.DeepEqual(c.Missing, []int{0, 2}) || !strings.Contains(c.Table(), "runners: 1 of 3 reported (missing: [0 2])") {
					t.Errorf("missing %v\n%s", c.Missing, c.Table())
				}
			}},
		{"a runner the run does not have", [][]byte{runnerLog(t, 0, 1000, 0, 100, true), runnerLog(t, 1, 1000, 0, 100, true)}, 1,
			nil, "MISMATCH",
			func(t *testing.T, c loadtest.Combined) {
				if !reflect.DeepEqual(c.Unexpected, []int{1}) || !strings.Contains(c.Table(), "has the stack's load test changed since this run?") {
					t.Errorf("unexpected %v\n%s", c.Unexpected, c.Table())
				}
			}},
		{"the same runner twice", [][]byte{runnerLog(t, 0, 1000, 0, 100, true), runnerLog(t, 0, 1000, 0, 100, true)}, 2,
			nil, "MISMATCH", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var runs []loadtest.RunnerSummary
			for _, l := range tt.runs {
				runs = append(runs, parse(t, l))
			}
			c := loadtest.Combine(runs, tt.expected, thresholds)
			for _, v := range c.Verdicts {
				if want, ok := tt.verdicts[v.Expr]; ok && v.Result != want {
					t.Errorf("%s %s: %s, want %s", v.Metric, v.Expr, v.Result, want)
				}
			}
			if c.Verdict() != tt.verdict {
				t.Errorf("verdict %s, want %s\n%s", c.Verdict(), tt.verdict, c.Table())
			}
			if tt.check != nil {
				tt.check(t, c)
			}
		})
	}
}

func TestParseRunnerLogWithoutSummary(t *testing.T) {
	if _, err := loadtest.ParseRunnerLog([]byte("k6 banner\nlevel=error msg=\"setup failed\"\n")); !errors.Is(err, loadtest.ErrNoSummary) {
		t.Errorf("want ErrNoSummary, got %v", err)
	}
}

func ExampleCombined_Table() {
	line := func(runner int, p95 float64) []byte {
		b, _ := json.Marshal(map[string]any{"runner": runner, "summary": map[string]any{
			"state": map[string]any{"testRunDurationMs": 120000},
			"metrics": map[string]any{
				"http_reqs":         map[string]any{"type": "counter", "values": map[string]float64{"count": 12000, "rate": 100}},
				"http_req_failed":   map[string]any{"type": "rate", "values": map[string]float64{"passes": 12, "fails": 11988, "rate": 0.001}},
				"http_req_duration": map[string]any{"type": "trend", "contains": "time", "values": map[string]float64{"avg": 80, "min": 2, "max": 900, "p(95)": p95, "count": 12000}},
			}}})
		return append([]byte(loadtest.SummaryMarker), b...)
	}
	var runs []loadtest.RunnerSummary
	for i, p95 := range []float64{180, 240} {
		s, _ := loadtest.ParseRunnerLog(line(i, p95))
		runs = append(runs, s)
	}
	c := loadtest.Combine(runs, 2, loadtest.Thresholds{"http_req_duration": {"p(95)<2000"}, "http_req_failed": {"rate<0.01"}})
	fmt.Print(c.Table())
	// Output:
	// runners: 2 of 2 reported; test run 2m0s
	// requests: 24000, 200.0 req/s, 0.10 % failed
	//
	// METRIC             STAT    RUN     RUNNERS' RANGE
	// http_req_duration  avg     80ms
	// http_req_duration  min     2ms
	// http_req_duration  max     900ms
	// http_req_duration  p(95)   ~210ms  180ms – 240ms (not exact)
	// http_req_duration  count   24000
	// http_req_failed    passes  24
	// http_req_failed    fails   23976
	// http_req_failed    rate    0.0010
	// http_reqs          count   24000
	// http_reqs          rate    200
	//
	// THRESHOLD                     RUN   FAILED ON RUNNERS
	// http_req_duration p(95)<2000  pass
	// http_req_failed rate<0.01     pass
	//
	// verdict: PASS
}

// summaryMarkerRE matches the JS side's one definition of the marker in
// scripts/summary.js, the module every flow's handleSummary comes from.
var summaryMarkerRE = regexp.MustCompile(`(?m)^export const SUMMARY_MARKER = '([^']*)';$`)

// TestSummaryMarkerIsTheScripts: the report finds the runners' summary
// lines by the marker the scripts write, so the Go constant is the JS one.
func TestSummaryMarkerIsTheScripts(t *testing.T) {
	body, err := os.ReadFile(filepath.Join("scripts", "summary.js"))
	if err != nil {
		t.Fatal(err)
	}
	m := summaryMarkerRE.FindAllSubmatch(body, -1)
	if len(m) != 1 {
		t.Fatalf("scripts/summary.js defines SUMMARY_MARKER %d times, want once as `export const SUMMARY_MARKER = '...';`", len(m))
	}
	if got := string(m[0][1]); got != loadtest.SummaryMarker {
		t.Errorf("scripts/summary.js's SUMMARY_MARKER is %q, loadtest.SummaryMarker %q", got, loadtest.SummaryMarker)
	}
}
