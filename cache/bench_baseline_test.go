//go:build baseline

package cache_test

import (
	"net/http"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cirkelline/infra/cache"
	"github.com/cirkelline/infra/cache/internal/baseline"
)

// The library against itself before metrics (internal/baseline, written
// from git by bench-baseline.sh, never committed), alternately in one loop
// on one server: "today" is the old library, "off" and "on" this one.

func BenchmarkPairedBaselineGetSet(b *testing.B) {
	srv := startRedis(b)
	today := baseline.New(baseline.Options{Addr: srv.Addr()})
	defer today.Close()
	off := cache.New(cache.Options{Addr: srv.Addr()})
	defer off.Close()
	pairedAs(b, "today", "off", getSet(b, today, "today"), getSet(b, off, "off"))
}

func BenchmarkPairedBaselineMiddleware(b *testing.B) {
	srv := startRedis(b)
	today := baseline.New(baseline.Options{Addr: srv.Addr()})
	defer today.Close()
	off := cache.New(cache.Options{Addr: srv.Addr()})
	defer off.Close()
	mw, err := baseline.RateLimit(today, baseline.PerMinute(1<<30), baseline.MiddlewareOptions{Name: "today",
		Key: func(r *http.Request) string { return r.RemoteAddr }})
	if err != nil {
		b.Fatal(err)
	}
	pairedAs(b, "today", "off", middlewareCall(b, mw), limited(b, off, "off"))
}

// BenchmarkPairedBaselineGetSetOn: the old library against this one with
// metrics on, for the whole cost of turning them on.
func BenchmarkPairedBaselineGetSetOn(b *testing.B) {
	srv := startRedis(b)
	today := baseline.New(baseline.Options{Addr: srv.Addr()})
	defer today.Close()
	on := cache.New(cache.Options{Addr: srv.Addr(), Metrics: prometheus.NewRegistry()})
	defer on.Close()
	pairedAs(b, "today", "on", getSet(b, today, "today"), getSet(b, on, "on"))
}
