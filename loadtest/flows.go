package loadtest

import (
	"embed"
	"slices"
	"strconv"
)

// Flow names a request flow: a k6 script that holds only request logic.
type Flow string

// The flows.
const (
	// Cirkelline: health check, login, chat message (BASE_URL, TEST_EMAIL, TEST_PASSWORD).
	Cirkelline Flow = "cirkelline"
	// PartyPic: an organiser creates sessions in setup(); guests register,
	// join and upload photos, with think time.
	PartyPic Flow = "partypic"
)

// Flows lists the flows.
func Flows() []Flow { return []Flow{Cirkelline, PartyPic} }

//go:embed scripts/*.js
var scripts embed.FS

// Script returns the flow's k6 script.
func (f Flow) Script() ([]byte, error) { return scripts.ReadFile("scripts/" + string(f) + ".js") }

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

// CustomMetrics are the metrics a flow's script defines (the seed's table
// for cirkelline).
func (f Flow) CustomMetrics() map[string]MetricType {
	switch f {
	case Cirkelline:
		return map[string]MetricType{
			"health_check_duration": Trend, "auth_duration": Trend, "chat_duration": Trend,
			"errors": Rate, "successful_logins": Counter, "chat_messages": Counter,
		}
	case PartyPic:
		return map[string]MetricType{
			"session_create_duration": Trend, "register_duration": Trend, "upload_duration": Trend,
			"errors": Rate, "registrations": Counter, "photos_uploaded": Counter,
		}
	}
	return nil
}

// Metric returns the type of a metric the flow can report.
func (f Flow) Metric(name string) (MetricType, bool) {
	if t, ok := builtinMetrics[name]; ok {
		return t, true
	}
	t, ok := f.CustomMetrics()[name]
	return t, ok
}

// MetricNames lists every metric the flow can report, sorted.
func (f Flow) MetricNames() []string {
	var names []string
	for n := range builtinMetrics {
		names = append(names, n)
	}
	for n := range f.CustomMetrics() {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// DefaultThresholds are the seed's: every flow gets the HTTP ones, the
// cirkelline flow also its endpoint latencies.
func (f Flow) DefaultThresholds() Thresholds {
	t := Thresholds{
		"http_req_duration": {"p(95)<2000", "p(99)<5000"},
		"http_req_failed":   {"rate<0.01"},
	}
	if f == Cirkelline {
		t["health_check_duration"] = []string{"p(95)<100"}
		t["auth_duration"] = []string{"p(95)<500"}
		t["chat_duration"] = []string{"p(95)<30000"}
	}
	return t
}

// RequestsPerVUSecond is what one VU of the flow sends a second with
// instant responses, from the flow's iteration: cirkelline sends a health
// check and a chat message (after logging in once) and sleeps THINK_SECONDS
// (default 1); PartyPic registers, joins and uploads PHOTOS_PER_GUEST
// photos (default 3), sleeping THINK_SECONDS (default 3) after the join and
// after each upload. env overrides the defaults as it does in the script.
func (f Flow) RequestsPerVUSecond(env map[string]string) float64 {
	number := func(key string, def float64) float64 {
		if v, err := strconv.ParseFloat(env[key], 64); err == nil && v >= 0 {
			return v
		}
		return def
	}
	switch f {
	case Cirkelline:
		return 2 / max(number("THINK_SECONDS", 1), 0.001)
	case PartyPic:
		photos := number("PHOTOS_PER_GUEST", 3)
		return (2 + photos) / max((1+photos)*number("THINK_SECONDS", 3), 0.001)
	}
	return 0
}
