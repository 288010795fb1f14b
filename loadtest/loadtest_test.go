package loadtest_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cirkelline/infra/internal/golden"
	"github.com/cirkelline/infra/internal/validate"
	"github.com/cirkelline/infra/loadtest"
)

// TestShapesMatchTheSeeds: VU ranges and durations of the seeds' tables.
func TestShapesMatchTheSeeds(t *testing.T) {
	tests := []struct {
		shape             loadtest.ShapeName
		minVUs, maxVUs    int
		duration          time.Duration
		durationTolerance time.Duration
	}{
		{loadtest.Smoke, 1, 1, time.Minute, 0},
		{loadtest.Load, 50, 100, 16 * time.Minute, 0},
		{loadtest.Stress, 100, 300, 26 * time.Minute, 0},
		{loadtest.Spike, 100, 500, 8 * time.Minute, 30 * time.Second}, // "~8m"
		{loadtest.MillionUsers, 1000, 10000, 45 * time.Minute, 0},
		{loadtest.NormalEvent, 5, 20, 10 * time.Minute, 0},
		{loadtest.PeakEvent, 50, 400, 10 * time.Minute, 0},
	}
	if len(tests) != len(loadtest.Shapes) {
		t.Fatalf("%d shapes, %d checked", len(loadtest.Shapes), len(tests))
	}
	for _, tt := range tests {
		s := loadtest.Shapes[tt.shape]
		if s.MinPeakVUs() != tt.minVUs || s.MaxVUs() != tt.maxVUs {
			t.Errorf("%s: VUs %d–%d, seed says %d–%d", tt.shape, s.MinPeakVUs(), s.MaxVUs(), tt.minVUs, tt.maxVUs)
		}
		if d := s.TotalDuration() - tt.duration; d < -tt.durationTolerance || d > tt.durationTolerance {
			t.Errorf("%s: %s, seed says %s", tt.shape, s.TotalDuration(), tt.duration)
		}
	}
	// PartyPic's tables, stage by stage.
	want := map[loadtest.ShapeName]string{
		loadtest.NormalEvent: "1m→5 2m→15 3m→20 2m→10 2m→0",
		loadtest.PeakEvent:   "30s→50 1m→150 2m→300 3m→400 2m→200 1m→50 30s→0",
	}
	for name, stages := range want {
		var got []string
		for _, st := range loadtest.Shapes[name].Stages {
			got = append(got, fmt.Sprintf("%s→%d", st.Duration, st.Target))
		}
		if strings.Join(got, " ") != stages {
			t.Errorf("%s stages %s, seed table %s", name, strings.Join(got, " "), stages)
		}
	}
}

// TestOptionsGolden: the generated options.json of every shape and flow.
func TestOptionsGolden(t *testing.T) {
	for _, shape := range loadtest.ShapeNames() {
		for _, flow := range loadtest.Flows() {
			name := fmt.Sprintf("%s-%s.json", shape, flow)
			t.Run(name, func(t *testing.T) {
				cfg := loadtest.DefaultConfig()
				cfg.Shape, cfg.Flow = shape, flow
				s, th := cfg.Resolved()
				got, err := loadtest.BuildOptions(s, th, map[string]string{"stack": "test"}).JSON()
				if err != nil {
					t.Fatal(err)
				}
				golden.Check(t, filepath.Join("testdata", "options", name), got)
			})
		}
	}
}

func TestDefaultThresholdsAreTheSeeds(t *testing.T) {
	got := loadtest.Cirkelline.DefaultThresholds()
	want := map[string]string{
		"http_req_duration": "p(95)<2000 p(99)<5000", "http_req_failed": "rate<0.01",
		"health_check_duration": "p(95)<100", "auth_duration": "p(95)<500", "chat_duration": "p(95)<30000",
	}
	if len(got) != len(want) {
		t.Errorf("thresholds %v", got)
	}
	for m, w := range want {
		if strings.Join(got[m], " ") != w {
			t.Errorf("%s = %v, want %s", m, got[m], w)
		}
	}
	var errs validate.Errors
	for _, f := range loadtest.Flows() {
		loadtest.ValidateThresholds(&errs, "loadtest.thresholds", f, f.DefaultThresholds())
	}
	if errs.Len() > 0 {
		t.Errorf("default thresholds must validate: %v", errs.Err())
	}
}

// TestSegmentsCoverExactlyOnce: for any parallelism the segments tile 0..1,
// and every stage's VUs add up over the runners.
func TestSegmentsCoverExactlyOnce(t *testing.T) {
	for n := 1; n <= 64; n++ {
		segs := loadtest.Segments(n)
		at := new(big.Rat)
		for i, s := range segs {
			if s.Index != i || s.From.Cmp(at) != 0 || s.To.Cmp(s.From) <= 0 {
				t.Fatalf("n=%d: segment %d is %s after %s", n, i, s, at.RatString())
			}
			at = s.To
		}
		if at.Cmp(big.NewRat(1, 1)) != 0 {
			t.Fatalf("n=%d: segments end at %s, not 1", n, at.RatString())
		}
		seq := loadtest.Sequence(segs)
		if !strings.HasPrefix(seq, "0,") && n > 1 || !strings.HasSuffix(seq, ",1") {
			t.Errorf("n=%d: sequence %s", n, seq)
		}
		for _, shape := range loadtest.Shapes {
			for _, st := range append([]loadtest.Stage{{Target: shape.StartVUs}}, shape.Stages...) {
				sum := 0
				for _, s := range segs {
					sum += loadtest.ScaleVUs(st.Target, s)
				}
				if sum != st.Target {
					t.Fatalf("n=%d %s: runners run %d VUs of a %d target", n, shape.Name, sum, st.Target)
				}
			}
		}
	}
}

func TestParallelism(t *testing.T) {
	for _, tt := range []struct {
		shape loadtest.ShapeName
		per   int
		want  int
	}{
		{loadtest.Smoke, 500, 1}, {loadtest.Load, 500, 1}, {loadtest.Spike, 500, 1},
		{loadtest.Spike, 200, 3}, {loadtest.MillionUsers, 500, 20}, {loadtest.MillionUsers, 3000, 4},
	} {
		if got := loadtest.Parallelism(loadtest.Shapes[tt.shape], tt.per); got != tt.want {
			t.Errorf("%s at %d VUs per runner: %d runners, want %d", tt.shape, tt.per, got, tt.want)
		}
	}
}

func TestConfigValidation(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*loadtest.Config)
		want   []string
	}{
		{"negative stage duration", func(c *loadtest.Config) {
			c.Stages = []loadtest.Stage{{Duration: loadtest.Duration(time.Minute), Target: 5}, {Duration: -loadtest.Duration(time.Second), Target: 5}}
		}, []string{`loadtest.stages[1].duration ("-1s"): must be positive`}},
		{"negative target", func(c *loadtest.Config) {
			c.Stages = []loadtest.Stage{{Duration: loadtest.Duration(time.Minute), Target: -1}}
		}, []string{`loadtest.stages[0].target (-1)`}},
		{"unknown metric", func(c *loadtest.Config) { c.Thresholds = loadtest.Thresholds{"chat_latency": {"p(95)<100"}} }, []string{`loadtest.thresholds.chat_latency: is not a metric the cirkelline flow reports`, "chat_duration"}},
		{"metric of the other flow", func(c *loadtest.Config) {
			c.Flow = loadtest.PartyPic
			c.Thresholds = loadtest.Thresholds{"chat_duration": {"p(95)<100"}}
		}, []string{`loadtest.thresholds.chat_duration: is not a metric the partypic flow reports`}},
		{"malformed expression", func(c *loadtest.Config) { c.Thresholds = loadtest.Thresholds{"http_req_duration": {"p95 < 2s"}} }, []string{`loadtest.thresholds.http_req_duration[0] ("p95 < 2s"): is not a k6 threshold expression`}},
		{"aggregation of the wrong type", func(c *loadtest.Config) { c.Thresholds = loadtest.Thresholds{"http_req_failed": {"p(95)<0.01"}} }, []string{
			`loadtest.thresholds.http_req_failed[0] ("p(95)<0.01"): p is not an aggregation k6 accepts on http_req_failed, a rate metric (k6 would exit 104 at start); fix: use one of: rate`}},
		// issue 21: k6 exited 104 at start, "supported aggregation methods
		// for this metric are: value".
		{"gauge max", func(c *loadtest.Config) { c.Thresholds = loadtest.Thresholds{"vus": {"max<=10"}} }, []string{
			`loadtest.thresholds.vus[0] ("max<=10"): max is not an aggregation k6 accepts on vus, a gauge metric (k6 would exit 104 at start); fix: use one of: value`}},
		{"trend rate", func(c *loadtest.Config) { c.Thresholds = loadtest.Thresholds{"chat_duration": {"rate<1"}} }, []string{
			`loadtest.thresholds.chat_duration[0] ("rate<1"): rate is not an aggregation k6 accepts on chat_duration, a trend metric`, "use one of: avg, min, max, med, p(N), e.g. p(95)"}},
		{"percentile out of range", func(c *loadtest.Config) { c.Thresholds = loadtest.Thresholds{"http_req_duration": {"p(100)<1"}} }, []string{`percentile must be between 0 and 100`}},
		{"vus per runner negative", func(c *loadtest.Config) { c.VUsPerRunner = -1 }, []string{`loadtest.vusPerRunner (-1): must not be negative; fix: remove it for the runner model's default`}},
		{"unknown shape", func(c *loadtest.Config) { c.Shape = "soak" }, []string{`loadtest.shape ("soak"): is not a known shape`, "million-users", "peak-event"}},
		{"unknown flow", func(c *loadtest.Config) { c.Flow = "shop" }, []string{`loadtest.flow ("shop"): is not a known flow; fix: use one of: cirkelline, partypic`}},
		{"bad capacity", func(c *loadtest.Config) { c.Capacity.ConcurrencyShare = 2 }, []string{`loadtest.capacity.concurrencyShare (2): must be a fraction`}},
		{"count threshold over 20 runners", func(c *loadtest.Config) {
			c.Shape, c.VUsPerRunner = loadtest.MillionUsers, 500
			c.Thresholds = loadtest.Thresholds{"http_reqs": {"count>100000"}, "vus": {"value<20000"}}
		}, []string{
			`loadtest.thresholds.http_reqs[0] ("count>100000"): a counter count adds up over runners, so none of the 20 runners can judge it on its share`,
			`set loadtest.vusPerRunner to 10000 so one runner runs the whole test`,
			`loadtest.thresholds.vus[0] ("value<20000"): a gauge value adds up over runners`,
		}},
		{"counter rate over 3 runners", func(c *loadtest.Config) {
			c.Shape, c.VUsPerRunner = loadtest.Spike, 200
			c.Thresholds = loadtest.Thresholds{"chat_messages": {"rate>10"}}
		}, []string{`loadtest.thresholds.chat_messages[0] ("rate>10"): a counter rate adds up over runners, so none of the 3 runners`}},
		{"program-set env", func(c *loadtest.Config) {
			c.Env = map[string]string{"K6_VUS": "10", "BASE_URL": "http://x", "REQUEST_INTERVAL_SECONDS": "1", "1BAD": "x"}
		}, []string{
			`loadtest.env.K6_VUS ("10"): is set by the program (and k6 reads any K6_* variable as an option`,
			`loadtest.env.BASE_URL ("http://x"): is set by the program`,
			`loadtest.env.REQUEST_INTERVAL_SECONDS ("1"): is set by the program`,
			`loadtest.env.1BAD ("1BAD"): is not a valid environment variable name`,
		}},
		{"a flow setting that is not a number >= 0", func(c *loadtest.Config) {
			c.Flow = loadtest.PartyPic
			c.Env = map[string]string{"THINK_SECONDS": "3s", "PHOTOS_PER_GUEST": "-1", "SESSIONS": "any"}
		}, []string{
			`loadtest.env.PHOTOS_PER_GUEST ("-1"): is a setting of the partypic flow, which must be a number >= 0; fix: set a number, e.g. "3", or remove it for the flow's default 3`,
			`loadtest.env.THINK_SECONDS ("3s"): is a setting of the partypic flow, which must be a number >= 0; fix: set a number, e.g. "3", or remove it for the flow's default 3`,
		}},
		{"reserved and unusable tags", func(c *loadtest.Config) {
			c.Tags = map[string]string{"stack": "x", "team name": "y"}
		}, []string{`loadtest.tags.stack ("x"): is set by the program on every run`, `loadtest.tags.team name ("y"): is not a usable tag name`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := loadtest.DefaultConfig()
			tt.mutate(&c)
			err := c.Validate("loadtest")
			if err == nil || !errors.Is(err, validate.ErrInvalid) {
				t.Fatalf("want a validation error, got %v", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
	if err := loadtest.DefaultConfig().Validate("loadtest"); err != nil {
		t.Errorf("defaults must validate: %v", err)
	}
	// A count threshold is fine where one runner runs the whole test.
	c := loadtest.DefaultConfig()
	c.Thresholds = loadtest.Thresholds{"http_reqs": {"count>10"}}
	if err := c.Validate("loadtest"); err != nil {
		t.Errorf("one runner judges counts: %v", err)
	}
}

// k6Striping ports k6 v1.3.0's striping (lib/execution_segment.go,
// NewExecutionSegmentSequenceWrapper and ScaleInt64) for a sequence of n
// equal segments, to cross-check ScaleVUs against k6's own algorithm.
func k6Striping(n int, target int64) []int64 {
	lcd := int64(n)
	offsets := make([][]int64, n)
	prev := make([]int64, n)
	chosen := make([]int64, n)
	for i := range int64(lcd) {
		for seg := range n {
			num, denom := chosen[seg]*lcd, int64(1) // every segment's normalised numerator is 1
			if i > num/denom || (i == num/denom && num%denom == 0) {
				chosen[seg]++
				offsets[seg] = append(offsets[seg], i-prev[seg])
				prev[seg] = i
				if int64(len(offsets[seg])) == denom {
					offsets[seg] = append(offsets[seg], offsets[seg][0]+lcd-i)
				}
				break
			}
		}
	}
	out := make([]int64, n)
	for seg := range n {
		start, offs := offsets[seg][0], offsets[seg][1:]
		result := (target / lcd) * int64(len(offs))
		for gi, i := 0, start; i < target%lcd; gi, i = gi+1, i+offs[gi] {
			result++
		}
		out[seg] = result
	}
	return out
}

func TestScaleVUsIsK6sStriping(t *testing.T) {
	for _, n := range []int{1, 2, 3, 7, 20, 64} {
		segs := loadtest.Segments(n)
		for _, target := range []int{0, 1, 2, 5, 19, 20, 21, 50, 99, 333, 500, 1000, 5000, 10000} {
			want := k6Striping(n, int64(target))
			for i, s := range segs {
				if got := loadtest.ScaleVUs(target, s); int64(got) != want[i] {
					t.Errorf("n=%d target=%d runner %d: %d VUs, k6 gives %d", n, target, i, got, want[i])
				}
			}
		}
	}
}

// TestLoadMatchesTheCapacityModel: million-users is paced so its peak sends
// the model's request rate; unpaced shapes report the flow's think-time rate.
func TestLoadMatchesTheCapacityModel(t *testing.T) {
	c := loadtest.DefaultConfig()
	c.Shape = loadtest.MillionUsers
	l := c.Load()
	if !l.Paced || l.PeakVUs != 10000 || math.Abs(l.RequestsPerSecond-l.ModelRPS)/l.ModelRPS > 0.05 || int(l.ModelRPS) != 333 {
		t.Errorf("million-users load %+v, want 10000 VUs at the model's 333 req/s", l)
	}
	if env := loadtest.FlowEnv(c); env["REQUEST_INTERVAL_SECONDS"] != "30" {
		t.Errorf("million-users env %v, want REQUEST_INTERVAL_SECONDS=30", env)
	}
	c.Capacity.RequestIntervalSeconds = 12.5
	if env := loadtest.FlowEnv(c); env["REQUEST_INTERVAL_SECONDS"] != "12.5" || c.Load().RequestsPerSecond != 800 {
		t.Errorf("the pacing follows capacity.requestIntervalSeconds: %v %+v", env, c.Load())
	}
	if got := c.Load().String(); got != "10000 VUs, one request each every 12 s = 800 req/s (capacity model: 800 req/s)" {
		t.Errorf("load line %q", got)
	}
	c = loadtest.DefaultConfig()
	c.Shape = loadtest.Spike
	if l := c.Load(); l.Paced || l.RequestsPerSecond != 1000 || !maps.Equal(loadtest.FlowEnv(c), map[string]string{"THINK_SECONDS": "1"}) {
		t.Errorf("spike: 500 VUs of the cirkelline flow (2 requests, 1 s think time, passed to the script) = 1000 req/s, got %+v, env %v", l, loadtest.FlowEnv(c))
	}
	c.Flow, c.Shape, c.Env = loadtest.PartyPic, loadtest.PeakEvent, map[string]string{"PHOTOS_PER_GUEST": "1", "THINK_SECONDS": "2"}
	if l := c.Load(); l.RequestsPerSecond != 300 { // 400 VUs × 3 requests / (2 sleeps × 2 s)
		t.Errorf("peak-event with 1 photo and 2 s think time: %+v", l)
	}
}

func TestTagsAreOneForJobAndExport(t *testing.T) {
	c := loadtest.DefaultConfig()
	c.Tags = map[string]string{"team": "growth", "stack": "overridden"}
	got := loadtest.Tags(c, loadtest.RunInfo{Stack: "staging", RunID: "7", Environment: "staging"})
	want := map[string]string{"team": "growth", "stack": "staging", "run": "7", "environment": "staging"}
	if !maps.Equal(got, want) {
		t.Errorf("tags %v, want %v", got, want)
	}
	if c.Tags["stack"] != "overridden" {
		t.Error("Tags must not change the config's map")
	}
	dir := t.TempDir()
	if _, err := loadtest.Export(dir, c, loadtest.RunInfo{Stack: "staging", RunID: "7", Environment: "staging"}); err != nil {
		t.Fatal(err)
	}
	var opts loadtest.Options
	b, _ := os.ReadFile(filepath.Join(dir, loadtest.OptionsFile))
	if err := json.Unmarshal(b, &opts); err != nil || !maps.Equal(opts.Tags, want) {
		t.Errorf("exported tags %v (%v), want %v", opts.Tags, err, want)
	}
}

func TestCapacityIsTheSeedsArithmetic(t *testing.T) {
	c := loadtest.DefaultCapacity()
	if c.Concurrent() != 10000 || int(c.PeakRPS()) != 333 || c.PodsNeeded() != 14 {
		t.Errorf("concurrent %.0f, peak %.1f, pods %d; seed: 10,000, 333 req/s, 10–15 pods", c.Concurrent(), c.PeakRPS(), c.PodsNeeded())
	}
	million := loadtest.Shapes[loadtest.MillionUsers]
	var errs validate.Errors
	v, _ := c.Judge(million, "cirkelline-backend", 5)
	c.Check(&errs, "loadtest.capacity", "services[0].hpa.maxReplicas", v)
	if err := errs.Err(); err == nil || !strings.Contains(err.Error(), "the million-users shape's peak of 333 req/s (10000 concurrent users, one request every 30 s) needs 14 pods of cirkelline-backend at 25 req/s each, but services[0].hpa.maxReplicas is 5") {
		t.Errorf("check: %v", err)
	}
	errs = validate.Errors{}
	v, _ = c.Judge(million, "cirkelline-backend", 50)
	c.Check(&errs, "loadtest.capacity", "services[0].hpa.maxReplicas", v)
	if errs.Len() != 0 {
		t.Errorf("50 pods carry the peak: %v", errs.Err())
	}
}

// TestCapacityVerdictPerShape: the capacity check judges only the shape
// paced to the model, and its verdict names that shape; every other shape
// gets no verdict (issue 21: render printed "NOT ENOUGH" for all of them).
func TestCapacityVerdictPerShape(t *testing.T) {
	c := loadtest.DefaultCapacity()
	for _, name := range loadtest.ShapeNames() {
		v, judged := c.Judge(loadtest.Shapes[name], "cirkelline-backend", 5)
		want := loadtest.CapacityVerdict{}
		if name == loadtest.MillionUsers {
			want = loadtest.CapacityVerdict{Shape: loadtest.MillionUsers, Service: "cirkelline-backend", MaxReplicas: 5, PodsNeeded: 14}
		}
		if judged != (name == loadtest.MillionUsers) || v != want {
			t.Errorf("%s: judged %v, verdict %+v; want judged only for million-users, verdict %+v", name, judged, v, want)
		}
		if judged && v.String() != "NOT ENOUGH for million-users (14 pods needed)" {
			t.Errorf("%s: verdict %q must name the shape it judged", name, v)
		}
	}
}

func TestExport(t *testing.T) {
	dir := t.TempDir()
	c := loadtest.DefaultConfig()
	c.Shape, c.Flow = loadtest.PeakEvent, loadtest.PartyPic
	files, err := loadtest.Export(dir, c, loadtest.RunInfo{Stack: "test", RunID: "1"})
	want := []string{filepath.Join(dir, "options.json"), filepath.Join(dir, "partypic.js"), filepath.Join(dir, "pacing.js"), filepath.Join(dir, "summary.js")}
	if err != nil || !slices.Equal(files, want) {
		t.Fatalf("wrote %q (%v), want %q", files, err, want)
	}
	opts, _ := os.ReadFile(filepath.Join(dir, "options.json"))
	script, _ := os.ReadFile(filepath.Join(dir, "partypic.js"))
	if !bytes.Contains(opts, []byte(`"peak-event"`)) || !bytes.Contains(script, []byte("export function setup()")) {
		t.Errorf("export wrote the wrong files")
	}
	if bytes.Contains(script, []byte("export const options")) {
		t.Error("scripts must not carry their own options")
	}
}

// relativeImportRE matches `import ... from './x.js';`, the shape of the
// shipped scripts' imports of their modules (the first capture: x.js).
var relativeImportRE = regexp.MustCompile(`(?m)^import\s[^;]*?\sfrom\s+'\./([^']+)';`)

// TestExportCarriesEveryRelativeImport: `k6 run DIR/<flow>.js` resolves
// './x.js' to DIR/x.js, so every relative import of every exported script
// is a file of the export, with the embedded content.
func TestExportCarriesEveryRelativeImport(t *testing.T) {
	for _, flow := range loadtest.Flows() {
		dir := t.TempDir()
		c := loadtest.DefaultConfig()
		c.Flow = flow
		if _, err := loadtest.Export(dir, c, loadtest.RunInfo{Stack: "test", RunID: "1"}); err != nil {
			t.Fatal(err)
		}
		scripts, _ := filepath.Glob(filepath.Join(dir, "*.js"))
		var imported []string
		for _, s := range scripts {
			body, err := os.ReadFile(s)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range relativeImportRE.FindAllStringSubmatch(string(body), -1) {
				imported = append(imported, m[1])
				if _, err := os.Stat(filepath.Join(dir, m[1])); err != nil {
					t.Errorf("%s: %s imports ./%s, which the export lacks: %v", flow, filepath.Base(s), m[1], err)
				}
			}
		}
		if !slices.Contains(imported, "pacing.js") || !slices.Contains(imported, "summary.js") {
			t.Errorf("%s: the exported scripts import %q, want ./pacing.js and ./summary.js among them", flow, imported)
		}
	}
}

// k6Aggregations is k6 v1.3.0's metrics/metric_type.go
// supportedAggregationMethods, transcribed: the threshold aggregation
// methods k6 accepts per metric type (every other one exits 104 at start).
var k6Aggregations = map[loadtest.MetricType][]string{
	loadtest.Counter: {"count", "rate"},
	loadtest.Gauge:   {"value"},
	loadtest.Rate:    {"rate"},
	loadtest.Trend:   {"avg", "min", "max", "med", "p"},
}

// k6BuiltinMetrics is k6 v1.3.0's metrics/builtin.go
// RegisterBuiltinMetrics, transcribed, without the WebSocket and gRPC
// metrics the flows never emit.
var k6BuiltinMetrics = map[string]loadtest.MetricType{
	"vus": loadtest.Gauge, "vus_max": loadtest.Gauge,
	"iterations": loadtest.Counter, "iteration_duration": loadtest.Trend, "dropped_iterations": loadtest.Counter,
	"checks": loadtest.Rate, "group_duration": loadtest.Trend,
	"http_reqs": loadtest.Counter, "http_req_failed": loadtest.Rate, "http_req_duration": loadtest.Trend,
	"http_req_blocked": loadtest.Trend, "http_req_connecting": loadtest.Trend, "http_req_tls_handshaking": loadtest.Trend,
	"http_req_sending": loadtest.Trend, "http_req_waiting": loadtest.Trend, "http_req_receiving": loadtest.Trend,
	"data_sent": loadtest.Counter, "data_received": loadtest.Counter,
}

// TestThresholdAggregationsAreK6s: every aggregation on every built-in
// metric is accepted exactly when k6 accepts it (issue 21: "vus:
// [max<=10]" passed the checks and k6 exited 104).
func TestThresholdAggregationsAreK6s(t *testing.T) {
	if !reflect.DeepEqual(k6Aggregations, loadtest.Aggregations) {
		t.Errorf("aggregations differ from k6's:\n k6: %v\nours: %v", k6Aggregations, loadtest.Aggregations)
	}
	for _, flow := range loadtest.Flows() {
		for name, want := range k6BuiltinMetrics {
			if got, ok := flow.Metric(name); !ok || got != want {
				t.Errorf("%s flow: built-in %s is %q (known %v), k6 registers it as %s", flow, name, got, ok, want)
			}
		}
	}
	for name, typ := range k6BuiltinMetrics {
		for _, agg := range []string{"count", "rate", "value", "avg", "min", "max", "med", "p(95)"} {
			c := loadtest.DefaultConfig()
			c.Thresholds = loadtest.Thresholds{name: {agg + "<1"}}
			err := c.Validate("loadtest")
			kind := agg
			if strings.HasPrefix(agg, "p(") {
				kind = "p"
			}
			k6Accepts := slices.Contains(k6Aggregations[typ], kind)
			refused := err != nil && strings.Contains(err.Error(), "is not an aggregation k6 accepts")
			if k6Accepts == refused {
				t.Errorf("%s (%s) %q: k6 accepts it: %v; we refuse it: %v (%v)", name, typ, agg, k6Accepts, refused, err)
			}
		}
	}
}

func TestTagsLine(t *testing.T) {
	tags := map[string]string{"stack": "staging", "run": "7", "environment": "staging", "team": "growth"}
	for n, want := range map[int]string{
		1:  "environment=staging run=7 stack=staging team=growth runner=0",
		20: "environment=staging run=7 stack=staging team=growth runner=0..19",
	} {
		if got := loadtest.TagsLine(tags, n); got != want {
			t.Errorf("%d runners: %q, want %q", n, got, want)
		}
	}
}

// k6Status is k6 v1.3.0's api/v1 status document (status_jsonapi.go
// StatusJSONAPI around status.go Status), field for field, so json.Marshal
// writes what handleGetStatus writes.
type k6Status struct {
	Data struct {
		Type       string `json:"type"`
		ID         string `json:"id"`
		Attributes struct {
			Status  uint32 `json:"status"`
			Paused  bool   `json:"paused"`
			VUs     int64  `json:"vus"`
			VUsMax  int64  `json:"vus-max"`
			Stopped bool   `json:"stopped"`
			Running bool   `json:"running"`
			Tainted bool   `json:"tainted"`
		} `json:"attributes"`
	} `json:"data"`
}

// TestRunnerReadyCommand runs the runners' readiness probe under /bin/sh
// with wget against a stand-in k6 REST API: not ready while k6 initialises
// its VUs (although /v1/status answers 200), ready once it reports
// PausedBeforeRun and while the test runs, not ready once it has ended.
func TestRunnerReadyCommand(t *testing.T) {
	if _, err := exec.LookPath("wget"); err != nil {
		t.Fatalf("the probe needs wget (busybox's in the k6 image): %v", err)
	}
	var status atomic.Uint32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/status" {
			http.NotFound(w, r)
			return
		}
		var doc k6Status
		doc.Data.Type, doc.Data.ID = "status", "default"
		doc.Data.Attributes.Status = status.Load()
		doc.Data.Attributes.Paused = status.Load() <= loadtest.PausedBeforeRun
		doc.Data.Attributes.VUsMax = 10
		b, _ := json.Marshal(doc)
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		_, _ = w.Write(b)
	}))
	defer srv.Close()
	cmd := loadtest.RunnerReadyCommand()
	script := cmd[len(cmd)-1]
	local := strings.Replace(script, fmt.Sprintf("127.0.0.1:%d", loadtest.APIPort), strings.TrimPrefix(srv.URL, "http://"), 1)
	if local == script {
		t.Fatalf("the probe does not ask 127.0.0.1:%d: %s", loadtest.APIPort, script)
	}
	// lib/execution.go: Created 0 … InitDone 3, PausedBeforeRun 4 … Teardown 8, Ended 9, Interrupted 10.
	for s := uint32(0); s <= 10; s++ {
		status.Store(s)
		err := exec.Command(cmd[0], append(slices.Clone(cmd[1:len(cmd)-1]), local)...).Run()
		want := s >= loadtest.PausedBeforeRun && s <= 8
		if (err == nil) != want {
			t.Errorf("execution status %d: ready %v (%v), want %v", s, err == nil, err, want)
		}
	}
	srv.Close()
	if err := exec.Command(cmd[0], append(slices.Clone(cmd[1:len(cmd)-1]), local)...).Run(); err == nil {
		t.Error("ready although the REST API is gone")
	}
}
