package cache_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cirkelline/infra/cache"
)

// What metrics cost, alternately in one loop on one server (paired):
// go test -run '^$' -bench PairedMetrics -benchtime 20000x -count 3 ./   (in cache/)
// bench-baseline.sh compares metrics off with the library before metrics.

// BenchmarkPairedMetricsGetSet: Set+Get with metrics off against the same
// with metrics on (reported as on/off).
func BenchmarkPairedMetricsGetSet(b *testing.B) {
	srv := startRedis(b)
	off := cache.New(cache.Options{Addr: srv.Addr()})
	defer off.Close()
	on := cache.New(cache.Options{Addr: srv.Addr(), Metrics: prometheus.NewRegistry()})
	defer on.Close()
	pairedAs(b, "off", "on", getSet(b, off, "off"), getSet(b, on, "on"))
}

// BenchmarkPairedMetricsMiddleware: one request through the rate-limit
// middleware (a count in Redis), metrics off against on.
func BenchmarkPairedMetricsMiddleware(b *testing.B) {
	srv := startRedis(b)
	off := cache.New(cache.Options{Addr: srv.Addr()})
	defer off.Close()
	on := cache.New(cache.Options{Addr: srv.Addr(), Metrics: prometheus.NewRegistry()})
	defer on.Close()
	pairedAs(b, "off", "on", limited(b, off, "off"), limited(b, on, "on"))
}

// getSet is one Set and one Get of a profile under the side's own keys.
func getSet(b *testing.B, c interface {
	Set(context.Context, string, any, time.Duration) error
	Get(context.Context, string, any) error
}, side string) func(int) {
	ctx := context.Background()
	value := profile{Name: "Ada", Roles: []string{"admin", "editor"}}
	return func(i int) {
		key := fmt.Sprintf("%s:%d", side, i%1000)
		if err := c.Set(ctx, key, value, time.Minute); err != nil {
			b.Fatal(err)
		}
		var p profile
		if err := c.Get(ctx, key, &p); err != nil {
			b.Fatal(err)
		}
	}
}

// limited is one request through a middleware with a limit it never
// reaches, keyed per side and spread over 100 clients.
func limited(b *testing.B, c *cache.Cache, side string) func(int) {
	mw, err := cache.RateLimit(c, cache.PerMinute(1<<30), cache.MiddlewareOptions{Name: side,
		Key: func(r *http.Request) string { return r.RemoteAddr }})
	if err != nil {
		b.Fatal(err)
	}
	return middlewareCall(b, mw)
}

// middlewareCall serves one request through mw per call.
func middlewareCall(b *testing.B, mw func(http.Handler) http.Handler) func(int) {
	h := mw(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	reqs := make([]*http.Request, 100)
	for i := range reqs {
		reqs[i] = httptest.NewRequest(http.MethodGet, "/api", nil)
		reqs[i].RemoteAddr = fmt.Sprintf("10.0.0.%d:5555", i)
	}
	return func(i int) {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, reqs[i%len(reqs)])
		if w.Code != http.StatusOK {
			b.Fatalf("status %d", w.Code)
		}
	}
}
