package cache_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/cirkelline/infra/cache"
)

// instrumentedService is a service as the library's users build one: a
// cache with metrics on its own registry, an /api endpoint behind a loose
// rate limit that reads and fills the cache, a strict /login limit that
// fails closed, and /metrics.
func instrumentedService(t *testing.T, c *cache.Cache, reg *prometheus.Registry) *httptest.Server {
	t.Helper()
	api := mustRateLimit(t, c, cache.PerMinute(100), cache.MiddlewareOptions{Name: "api"})
	login := mustRateLimit(t, c, cache.PerMinute(2), cache.MiddlewareOptions{Name: "login", WhenRedisDown: cache.FailClosed})
	mux := http.NewServeMux()
	mux.Handle("/api/profile", api(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.URL.Query().Get("id")
		var p profile
		err := c.Get(r.Context(), "profile:"+id, &p)
		if errors.Is(err, cache.ErrCacheMiss) {
			p = profile{Name: "user " + id}
			err = c.Set(r.Context(), "profile:"+id, p, time.Minute)
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprint(w, p.Name)
	})))
	mux.Handle("/login", login(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})))
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.HTTPErrorOnError}))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// scrape reads /metrics as Prometheus would and flattens the cache's
// series to "name{label="value",...}" → value; a histogram gives its
// _count. The probe's pings are left out: how many run depends on timing.
func scrape(t *testing.T, srv *httptest.Server) (names []string, series map[string]float64) {
	t.Helper()
	resp, err := srv.Client().Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %s", resp.Status)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	series = map[string]float64{}
	for name, f := range families {
		if !strings.HasPrefix(name, "cache_") {
			continue
		}
		names = append(names, name)
		for _, m := range f.GetMetric() {
			labels := make([]string, 0, len(m.GetLabel()))
			skip := false
			for _, l := range m.GetLabel() {
				labels = append(labels, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
				skip = skip || (l.GetName() == "op" && l.GetValue() == "ping")
			}
			if skip {
				continue
			}
			key := name + "{" + strings.Join(labels, ",") + "}"
			switch f.GetType() {
			case dto.MetricType_COUNTER:
				series[key] = m.GetCounter().GetValue()
			case dto.MetricType_GAUGE:
				series[key] = m.GetGauge().GetValue()
			case dto.MetricType_HISTOGRAM:
				series[name+"_count{"+strings.Join(labels, ",")+"}"] = float64(m.GetHistogram().GetSampleCount())
			default:
				t.Errorf("%s: unexpected type %s", name, f.GetType())
			}
		}
	}
	sort.Strings(names)
	return names, series
}

func request(t *testing.T, srv *httptest.Server, method, path string) int {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func diffSeries(t *testing.T, when string, got, want map[string]float64) {
	t.Helper()
	if maps.Equal(got, want) {
		return
	}
	keys := slices.Sorted(maps.Keys(got))
	for k := range want {
		if _, ok := got[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		g, gok := got[k]
		w, wok := want[k]
		switch {
		case !wok:
			fmt.Fprintf(&b, "  unexpected %s = %g\n", k, g)
		case !gok:
			fmt.Fprintf(&b, "  missing    %s (want %g)\n", k, w)
		case g != w:
			fmt.Fprintf(&b, "  %s = %g, want %g\n", k, g, w)
		}
	}
	t.Errorf("%s: series differ:\n%s", when, b.String())
}

// documentedMetrics are the metric names in the README's metrics table:
// the rows whose first cell is a backticked cache_ name.
func documentedMetrics(t *testing.T) []string {
	t.Helper()
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range regexp.MustCompile("(?m)^\\| `(cache_[a-z_]+)`").FindAllStringSubmatch(string(readme), -1) {
		names = append(names, m[1])
	}
	sort.Strings(names)
	return slices.Compact(names)
}

// TestMetricsScrape runs a service instrumented with the library against a
// real Redis, through an outage and back, scraping /metrics as Prometheus
// does: every documented metric is there, nothing undocumented is, and
// each series counts what happened.
func TestMetricsScrape(t *testing.T) {
	redisSrv := startRedis(t)
	reg := prometheus.NewRegistry()
	c := cache.New(cache.Options{Addr: redisSrv.Addr(), Metrics: reg, ProbeInterval: 50 * time.Millisecond,
		DialTimeout: 200 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	t.Cleanup(func() { c.Close() })
	if err := c.MetricsErr(); err != nil {
		t.Fatal(err)
	}
	srv := instrumentedService(t, c, reg)

	for i, want := range []int{200, 200} { // a miss filled from "the database", then a hit
		if code := request(t, srv, http.MethodGet, "/api/profile?id=1"); code != want {
			t.Fatalf("api request %d: %d", i+1, code)
		}
	}
	for i, want := range []int{200, 200, 429} {
		if code := request(t, srv, http.MethodPost, "/login"); code != want {
			t.Fatalf("login %d: %d, want %d", i+1, code, want)
		}
	}
	// Every label value is resolved when the cache (or a middleware) is
	// built, so each series exists at 0 before its first event and rate()
	// has a baseline.
	onRedis := map[string]float64{
		`cache_hits_total{backend="memory"}`:                                   0,
		`cache_misses_total{backend="memory"}`:                                 0,
		`cache_fallback_transitions_total{to="memory"}`:                        0,
		`cache_fallback_transitions_total{to="redis"}`:                         0,
		`cache_breaker_open{reason="unavailable"}`:                             0,
		`cache_breaker_open{reason="auth"}`:                                    0,
		`cache_redis_call_duration_seconds_count{op="delete"}`:                 0,
		`cache_hits_total{backend="redis"}`:                                    1,
		`cache_misses_total{backend="redis"}`:                                  1,
		`cache_fallback_active{}`:                                              0,
		`cache_redis_call_duration_seconds_count{op="get"}`:                    2,
		`cache_redis_call_duration_seconds_count{op="set"}`:                    1,
		`cache_redis_call_duration_seconds_count{op="ratelimit"}`:              5,
		`cache_ratelimit_requests_total{limiter="api",result="allowed"}`:       2,
		`cache_ratelimit_requests_total{limiter="login",result="allowed"}`:     2,
		`cache_ratelimit_requests_total{limiter="login",result="limited"}`:     1,
		`cache_ratelimit_requests_total{limiter="api",result="limited"}`:       0,
		`cache_ratelimit_requests_total{limiter="api",result="unavailable"}`:   0,
		`cache_ratelimit_requests_total{limiter="login",result="unavailable"}`: 0,
	}
	_, got := scrape(t, srv)
	diffSeries(t, "on Redis", got, onRedis)

	// The outage: the api limiter's count meets the dead server and opens
	// the circuit, the read is served from memory, login fails closed.
	redisSrv.Stop()
	if code := request(t, srv, http.MethodGet, "/api/profile?id=1"); code != 200 {
		t.Fatalf("api during the outage: %d", code)
	}
	if code := request(t, srv, http.MethodPost, "/login"); code != http.StatusServiceUnavailable {
		t.Fatalf("login during the outage: %d, want 503 (FailClosed)", code)
	}
	inOutage := maps.Clone(onRedis)
	maps.Copy(inOutage, map[string]float64{
		`cache_hits_total{backend="memory"}`:                                   1,
		`cache_fallback_active{}`:                                              1,
		`cache_fallback_transitions_total{to="memory"}`:                        1,
		`cache_breaker_open{reason="unavailable"}`:                             1,
		`cache_redis_call_duration_seconds_count{op="ratelimit"}`:              6,
		`cache_ratelimit_requests_total{limiter="api",result="allowed"}`:       3,
		`cache_ratelimit_requests_total{limiter="login",result="unavailable"}`: 1,
	})
	_, got = scrape(t, srv)
	diffSeries(t, "during the outage", got, inOutage)

	redisSrv.Start()
	eventually(t, 10*time.Second, c.UsingRedis)
	recovered := maps.Clone(inOutage)
	maps.Copy(recovered, map[string]float64{
		`cache_fallback_active{}`:                      0,
		`cache_breaker_open{reason="unavailable"}`:     0,
		`cache_fallback_transitions_total{to="redis"}`: 1,
	})
	names, got := scrape(t, srv)
	diffSeries(t, "after the recovery", got, recovered)

	documented := documentedMetrics(t)
	if !slices.Equal(names, documented) {
		t.Errorf("scraped metrics %v, README documents %v", names, documented)
	}
	exported := []string{cache.MetricHits, cache.MetricMisses, cache.MetricFallbackActive, cache.MetricFallbackTransitions,
		cache.MetricBreakerOpen, cache.MetricRedisCallDuration, cache.MetricRateLimitRequests}
	sort.Strings(exported)
	if !slices.Equal(exported, documented) {
		t.Errorf("the Metric* constants %v, README documents %v", exported, documented)
	}
}

// gathered is the value of one series of reg (a counter or gauge).
func gathered(t *testing.T, reg *prometheus.Registry, name string, labels ...string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	metric:
		for _, m := range f.GetMetric() {
			for i, l := range m.GetLabel() {
				if 2*i+1 >= len(labels) || l.GetName() != labels[2*i] || l.GetValue() != labels[2*i+1] {
					continue metric
				}
			}
			if m.GetGauge() != nil {
				return m.GetGauge().GetValue()
			}
			return m.GetCounter().GetValue()
		}
	}
	t.Fatalf("no series %s %v", name, labels)
	return 0
}

// TestMetricsWrongPassword: a refused password opens the breaker for
// reason "auth", which needs a person, not a wait.
func TestMetricsWrongPassword(t *testing.T) {
	srv := startRedis(t)
	ctx := context.Background()
	if err := rawClient(t, srv).ConfigSet(ctx, "requirepass", "the-right-password-0123").Err(); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	c := cache.New(cache.Options{Addr: srv.Addr(), Password: "a-wrong-password-4567", Metrics: reg,
		ProbeInterval: time.Hour, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	defer c.Close()
	if err := c.Set(ctx, "k", "v", time.Minute); err != nil {
		t.Fatal(err)
	}
	if got := gathered(t, reg, cache.MetricBreakerOpen, "reason", "auth"); got != 1 {
		t.Errorf("breaker open for auth = %g, want 1", got)
	}
	if got := gathered(t, reg, cache.MetricBreakerOpen, "reason", "unavailable"); got != 0 {
		t.Errorf("breaker open for unavailable = %g, want 0", got)
	}
	if got := gathered(t, reg, cache.MetricFallbackActive); got != 1 {
		t.Errorf("fallback active = %g, want 1", got)
	}
	// A closed cache no longer counts as one in fallback.
	c.Close()
	if got := gathered(t, reg, cache.MetricFallbackActive); got != 0 {
		t.Errorf("fallback active after Close = %g, want 0", got)
	}
	if got := gathered(t, reg, cache.MetricFallbackTransitions, "to", "redis"); got != 0 {
		t.Errorf("Close is no return to Redis: %g transitions", got)
	}
}

// TestMetricsSharedRegistry: two caches on one registry share the
// series (no registration error); the fallback gauge counts the caches
// in fallback.
func TestMetricsSharedRegistry(t *testing.T) {
	ctx := context.Background()
	reg := prometheus.NewRegistry()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	up := startRedis(t)
	a := cache.New(cache.Options{Addr: up.Addr(), Metrics: reg, ProbeInterval: time.Hour, Logger: quiet})
	defer a.Close()
	b := cache.New(cache.Options{Addr: "127.0.0.1:1", DialTimeout: 100 * time.Millisecond, Metrics: reg, ProbeInterval: time.Hour, Logger: quiet})
	defer b.Close()
	for _, c := range []*cache.Cache{a, b} {
		if err := c.MetricsErr(); err != nil {
			t.Fatal(err)
		}
		var v string
		if err := c.Get(ctx, "absent", &v); !errors.Is(err, cache.ErrCacheMiss) {
			t.Fatal(err)
		}
	}
	if got := gathered(t, reg, cache.MetricMisses, "backend", "redis"); got != 1 {
		t.Errorf("misses on redis = %g, want 1 (cache a)", got)
	}
	if got := gathered(t, reg, cache.MetricMisses, "backend", "memory"); got != 1 {
		t.Errorf("misses on memory = %g, want 1 (cache b, Redis unreachable)", got)
	}
	if got := gathered(t, reg, cache.MetricFallbackActive); got != 1 {
		t.Errorf("fallback active = %g, want 1 (only b)", got)
	}
}

// TestMetricsNameTaken: a foreign collector under one of the names is a
// registration error the cache reports, and the cache still serves.
func TestMetricsNameTaken(t *testing.T) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewGauge(prometheus.GaugeOpts{Name: cache.MetricHits, Help: "someone else's"}))
	logs := &recordingHandler{}
	c := cache.New(cache.Options{Metrics: reg, Logger: slog.New(logs)})
	defer c.Close()
	if err := c.MetricsErr(); !errors.Is(err, cache.ErrMetrics) {
		t.Errorf("MetricsErr() = %v, want ErrMetrics", err)
	}
	if n, all := logs.matching("ERROR cache: Prometheus metrics not registered"); n != 1 {
		t.Errorf("logs %v, want one error", all)
	}
	ctx := context.Background()
	var v string
	if err := c.Set(ctx, "k", "v", 0); err != nil {
		t.Fatal(err)
	}
	if err := c.Get(ctx, "k", &v); err != nil || v != "v" {
		t.Errorf("Get = %q, %v", v, err)
	}
}

// TestCachedCountsOneMissPerCaller: Cached looks the key up again inside
// its single flight; that second look is not a second miss.
func TestCachedCountsOneMissPerCaller(t *testing.T) {
	reg := prometheus.NewRegistry()
	c := cache.New(cache.Options{Metrics: reg})
	defer c.Close()
	ctx := context.Background()
	for range 3 {
		if _, err := cache.Cached(ctx, c, "report", time.Minute, func(context.Context) (string, error) { return "r", nil }); err != nil {
			t.Fatal(err)
		}
	}
	hits, misses := gathered(t, reg, cache.MetricHits, "backend", "memory"), gathered(t, reg, cache.MetricMisses, "backend", "memory")
	if hits != 2 || misses != 1 {
		t.Errorf("hits %g, misses %g; want 2 and 1", hits, misses)
	}
}
