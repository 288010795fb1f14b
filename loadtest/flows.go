package loadtest

import (
	"embed"
	"maps"
	"math"
	"slices"
	"strconv"
)

// Flow names a request flow: its k6 script, scripts/<flow>.js, which holds
// only request logic, and its entry in flows, which holds what the Go side
// knows of it. Adding a flow is one entry and one script.
type Flow string

// The flows.
const (
	Cirkelline Flow = "cirkelline"
	PartyPic   Flow = "partypic"
)

// FlowSpec is what the Go side knows of a flow's script. The Node contract
// tests hold the script to it through testdata/flows.json (FlowContract).
type FlowSpec struct {
	// Metrics are the custom metrics the script declares at init, by name.
	Metrics map[string]MetricType
	// Thresholds are the flow's default thresholds on top of every flow's
	// HTTP ones (DefaultThresholds).
	Thresholds Thresholds
	// ThinkSeconds is THINK_SECONDS, how long each think() sleeps when not
	// paced (scripts/pacing.js).
	ThinkSeconds float64
	// Settings are the flow's other numbers Iteration reads, by env name.
	// Like THINK_SECONDS, the Go side passes each to every runner (FlowEnv)
	// and the script requires it: the script keeps no default of its own,
	// so the request model and the script cannot disagree.
	Settings map[string]float64
	// Iteration is one unpaced iteration of the script's default function
	// with the run's settings (THINK_SECONDS and Settings, as loadtest.env
	// overrides them).
	Iteration func(settings map[string]float64) Iteration
	// Setup is true when the script exports setup(), which the starter
	// runs once, on runner 0.
	Setup bool
	// SecretEnv is the flow's default loadtest.secretEnv: runner env
	// variable → secret config key.
	SecretEnv map[string]string
	// Measured is the run of one real k6 runner the flow's runner model is
	// fitted to (sizing.go).
	Measured Measured
}

// Iteration is what one iteration of a flow sends, unpaced.
type Iteration struct {
	// Requests it sends; Thinks the think() calls it makes, each sleeping
	// THINK_SECONDS.
	Requests, Thinks float64
}

// EnvThinkSeconds is the think time's env name (scripts/pacing.js).
const EnvThinkSeconds = "THINK_SECONDS"

// flows is the registry of flows.
var flows = map[Flow]FlowSpec{
	Cirkelline: {
		Metrics: map[string]MetricType{
			"health_check_duration": Trend, "auth_duration": Trend, "chat_duration": Trend,
			"errors": Rate, "successful_logins": Counter, "chat_messages": Counter,
		},
		// The seed's endpoint latencies.
		Thresholds: Thresholds{
			"health_check_duration": {"p(95)<100"}, "auth_duration": {"p(95)<500"}, "chat_duration": {"p(95)<30000"},
		},
		ThinkSeconds: 1,
		// A health check and a chat message (the login happens once per
		// VU), then one think().
		Iteration: func(map[string]float64) Iteration { return Iteration{Requests: 2, Thinks: 1} },
		SecretEnv: map[string]string{"TEST_EMAIL": "loadtestEmail", "TEST_PASSWORD": "loadtestPassword"},
		Measured:  MeasuredCirkelline,
	},
	PartyPic: {
		Metrics: map[string]MetricType{
			"session_create_duration": Trend, "register_duration": Trend, "upload_duration": Trend,
			"errors": Rate, "registrations": Counter, "photos_uploaded": Counter,
		},
		ThinkSeconds: 3,
		Settings:     map[string]float64{"PHOTOS_PER_GUEST": 3},
		// Register, join and upload each photo; think() after the join and
		// after each upload.
		Iteration: func(s map[string]float64) Iteration {
			photos := s["PHOTOS_PER_GUEST"]
			return Iteration{Requests: 2 + photos, Thinks: 1 + photos}
		},
		Setup:    true, // the organiser creates the sessions guests join
		Measured: MeasuredPartyPic,
	},
}

// Flows lists the flows, sorted.
func Flows() []Flow { return slices.Sorted(maps.Keys(flows)) }

// Spec is the flow's registry entry; the zero FlowSpec for an unknown flow
// (Config.Validate refuses one).
func (f Flow) Spec() FlowSpec { return flows[f] }

//go:embed scripts/*.js
var scripts embed.FS

// Script returns the flow's k6 script.
func (f Flow) Script() ([]byte, error) { return scripts.ReadFile("scripts/" + f.FileName()) }

// FileName is the script's file name in the Job's ConfigMap and in exports.
func (f Flow) FileName() string { return string(f) + ".js" }

// MetricType is a k6 metric type.
type MetricType string

// k6's metric types.
const (
	Trend   MetricType = "trend"
	Rate    MetricType = "rate"
	Counter MetricType = "counter"
	Gauge   MetricType = "gauge"
)

// builtinMetrics are k6's own metrics.
var builtinMetrics = map[string]MetricType{
	"http_req_duration": Trend, "http_req_waiting": Trend, "http_req_connecting": Trend, "http_req_tls_handshaking": Trend,
	"http_req_sending": Trend, "http_req_receiving": Trend, "http_req_blocked": Trend, "iteration_duration": Trend, "group_duration": Trend,
	"http_req_failed": Rate, "checks": Rate,
	"http_reqs": Counter, "iterations": Counter, "data_sent": Counter, "data_received": Counter, "dropped_iterations": Counter,
	"vus": Gauge, "vus_max": Gauge,
}

// Metric returns the type of a metric the flow can report.
func (f Flow) Metric(name string) (MetricType, bool) {
	if t, ok := builtinMetrics[name]; ok {
		return t, true
	}
	t, ok := f.Spec().Metrics[name]
	return t, ok
}

// MetricNames lists every metric the flow can report, sorted.
func (f Flow) MetricNames() []string {
	return slices.Sorted(func(yield func(string) bool) {
		for _, m := range []map[string]MetricType{builtinMetrics, f.Spec().Metrics} {
			for n := range m {
				if !yield(n) {
					return
				}
			}
		}
	})
}

// DefaultThresholds are the seed's: every flow gets the HTTP ones, and
// then its own (FlowSpec.Thresholds).
func (f Flow) DefaultThresholds() Thresholds {
	t := Thresholds{
		"http_req_duration": {"p(95)<2000", "p(99)<5000"},
		"http_req_failed":   {"rate<0.01"},
	}
	for m, exprs := range f.Spec().Thresholds {
		t[m] = slices.Clone(exprs)
	}
	return t
}

// Settings are the flow's numbers as a run gets them: THINK_SECONDS and
// the flow's Settings, each as env overrides it (loadtest.env; a value that
// is not a number >= 0 is refused by Config.Validate and left out here).
func (f Flow) Settings(env map[string]string) map[string]float64 {
	spec := f.Spec()
	s := map[string]float64{EnvThinkSeconds: spec.ThinkSeconds}
	maps.Copy(s, spec.Settings)
	for k := range s {
		if v, ok := settingValue(env[k]); ok {
			s[k] = v
		}
	}
	return s
}

// settingValue parses a setting as the scripts do (scripts/pacing.js,
// setting): a finite number >= 0.
func settingValue(v string) (float64, bool) {
	n, err := strconv.ParseFloat(v, 64)
	return n, err == nil && !math.IsInf(n, 0) && n >= 0
}

// RequestsPerVUSecond is what one VU of the flow sends a second with
// instant responses, unpaced: the iteration's requests over its think
// time, with env's overrides of the flow's settings; 0 for an unknown flow
// (defaults are computed before Config.Validate refuses it).
func (f Flow) RequestsPerVUSecond(env map[string]string) float64 {
	spec := f.Spec()
	if spec.Iteration == nil {
		return 0
	}
	s := f.Settings(env)
	it := spec.Iteration(s)
	return it.Requests / max(it.Thinks*s[EnvThinkSeconds], 0.001)
}
