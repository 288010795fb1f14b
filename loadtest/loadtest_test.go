package loadtest_test

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cirkelline/infra/internal/validate"
	"github.com/cirkelline/infra/loadtest"
)

var update = flag.Bool("update", false, "rewrite testdata/options")

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
				path := filepath.Join("testdata", "options", name)
				if *update {
					if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(path, got, 0o644); err != nil {
						t.Fatal(err)
					}
				}
				want, err := os.ReadFile(path)
				if err != nil {
					t.Fatalf("no golden file (go test ./loadtest -update): %v", err)
				}
				if !bytes.Equal(got, want) {
					t.Errorf("options differ from %s:\n%s", path, got)
				}
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
		{"aggregation of the wrong type", func(c *loadtest.Config) { c.Thresholds = loadtest.Thresholds{"http_req_failed": {"p(95)<0.01"}} }, []string{`p is not defined for a rate metric`, "use one of: rate"}},
		{"percentile out of range", func(c *loadtest.Config) { c.Thresholds = loadtest.Thresholds{"http_req_duration": {"p(100)<1"}} }, []string{`percentile must be between 0 and 100`}},
		{"vus per runner 0", func(c *loadtest.Config) { c.VUsPerRunner = 0 }, []string{`loadtest.vusPerRunner (0): must be at least 1`}},
		{"unknown shape", func(c *loadtest.Config) { c.Shape = "soak" }, []string{`loadtest.shape ("soak"): is not a known shape`, "million-users", "peak-event"}},
		{"unknown flow", func(c *loadtest.Config) { c.Flow = "shop" }, []string{`loadtest.flow ("shop"): is not a known flow; fix: use one of: cirkelline, partypic`}},
		{"bad capacity", func(c *loadtest.Config) { c.Capacity.ConcurrencyShare = 2 }, []string{`loadtest.capacity.concurrencyShare (2): must be a fraction`}},
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
}

func TestCapacityIsTheSeedsArithmetic(t *testing.T) {
	c := loadtest.DefaultCapacity()
	if c.Concurrent() != 10000 || int(c.PeakRPS()) != 333 || c.PodsNeeded() != 14 {
		t.Errorf("concurrent %.0f, peak %.1f, pods %d; seed: 10,000, 333 req/s, 10–15 pods", c.Concurrent(), c.PeakRPS(), c.PodsNeeded())
	}
	var errs validate.Errors
	c.Check(&errs, "loadtest.capacity", "cirkelline-backend", "services[0].hpa.maxReplicas", 5)
	if err := errs.Err(); err == nil || !strings.Contains(err.Error(), "needs 14 pods of cirkelline-backend at 25 req/s each, but services[0].hpa.maxReplicas is 5") {
		t.Errorf("check: %v", err)
	}
	errs = validate.Errors{}
	c.Check(&errs, "loadtest.capacity", "cirkelline-backend", "services[0].hpa.maxReplicas", 50)
	if errs.Len() != 0 {
		t.Errorf("50 pods carry the peak: %v", errs.Err())
	}
}

func TestRunnerScriptPicksItsSegment(t *testing.T) {
	script := loadtest.RunnerScript("/scripts/cirkelline.js", "/scripts/options.json", []string{"-o", "experimental-prometheus-rw"})
	for _, want := range []string{`shift "${JOB_COMPLETION_INDEX:-0}"`, `export K6_EXECUTION_SEGMENT="$1"`, `exec k6 run --config '/scripts/options.json' '-o' 'experimental-prometheus-rw' '/scripts/cirkelline.js'`} {
		if !strings.Contains(script, want) {
			t.Errorf("script lacks %q:\n%s", want, script)
		}
	}
}

func TestExport(t *testing.T) {
	dir := t.TempDir()
	c := loadtest.DefaultConfig()
	c.Shape, c.Flow = loadtest.PeakEvent, loadtest.PartyPic
	files, err := loadtest.Export(dir, c, nil)
	if err != nil || len(files) != 2 {
		t.Fatalf("%v %v", files, err)
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
