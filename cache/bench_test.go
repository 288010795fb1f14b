package cache_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cirkelline/infra/cache"
)

// Baselines in the same run: raw go-redis on the same server.
// go test -run '^$' -bench . -benchtime 20000x . (in cache/)

func BenchmarkGetSet(b *testing.B) {
	srv := startRedis(b)
	ctx := context.Background()
	value := profile{Name: "Ada", Roles: []string{"admin", "editor"}}
	b.Run("raw-go-redis", func(b *testing.B) {
		client := redis.NewClient(&redis.Options{Addr: srv.Addr(), PoolSize: 50})
		defer client.Close()
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			key := fmt.Sprintf("cirkelline:bench:%d", i%1000)
			// The same work the library does: JSON both ways.
			raw, _ := jsonMarshal(value)
			if err := client.Set(ctx, key, raw, time.Minute).Err(); err != nil {
				b.Fatal(err)
			}
			got, err := client.Get(ctx, key).Bytes()
			if err != nil {
				b.Fatal(err)
			}
			var p profile
			if err := jsonUnmarshal(got, &p); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("library", func(b *testing.B) {
		c := cache.New(cache.Options{Addr: srv.Addr()})
		defer c.Close()
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			key := fmt.Sprintf("bench:%d", i%1000)
			if err := c.Set(ctx, key, value, time.Minute); err != nil {
				b.Fatal(err)
			}
			var p profile
			if err := c.Get(ctx, key, &p); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkOutage measures a Get+Set pair while Redis is down, reporting
// the p99 latency: the circuit breaker must keep it far below a dial timeout.
func BenchmarkOutage(b *testing.B) {
	srv := startRedis(b)
	c := cache.New(cache.Options{Addr: srv.Addr(), DialTimeout: time.Second, ProbeInterval: time.Hour, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	defer c.Close()
	ctx := context.Background()
	srv.Stop()
	_ = c.Set(ctx, "warm", 1, time.Minute) // trips the breaker
	lat := make([]time.Duration, 0, b.N)
	for i := 0; b.Loop(); i++ {
		start := time.Now()
		_ = c.Set(ctx, "k", i, time.Minute)
		var v int
		_ = c.Get(ctx, "k", &v)
		lat = append(lat, time.Since(start))
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds())/1e3, "p99-µs")
}

func BenchmarkRateLimit(b *testing.B) {
	srv := startRedis(b)
	ctx := context.Background()
	b.Run("raw-incr-expire-pipeline", func(b *testing.B) {
		client := redis.NewClient(&redis.Options{Addr: srv.Addr()})
		defer client.Close()
		for i := 0; b.Loop(); i++ {
			key := fmt.Sprintf("cirkelline:ratelimit:ip%d", i%100)
			pipe := client.Pipeline()
			incr := pipe.Incr(ctx, key)
			pipe.ExpireNX(ctx, key, time.Minute)
			if _, err := pipe.Exec(ctx); err != nil || incr.Val() == 0 {
				b.Fatal(err)
			}
		}
	})
	b.Run("library", func(b *testing.B) {
		c := cache.New(cache.Options{Addr: srv.Addr()})
		defer c.Close()
		for i := 0; b.Loop(); i++ {
			if _, _, err := c.IncrRateLimit(ctx, fmt.Sprintf("ip%d", i%100), time.Minute); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func jsonMarshal(v any) ([]byte, error)   { return json.Marshal(v) }
func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

// paired times two implementations of one operation alternately, in the
// same loop (the order flips every iteration), so a noisy machine slows
// both alike; it reports each one's mean and their ratio (lib/raw).
func paired(b *testing.B, raw, lib func(i int)) { pairedAs(b, "raw", "lib", raw, lib) }

// pairedAs is paired with the two sides' names in the reported units
// (<base>-ns/op, <other>-ns/op and <other>/<base>).
func pairedAs(b *testing.B, baseName, otherName string, raw, lib func(i int)) {
	var rawT, libT time.Duration
	n := 0
	for i := 0; b.Loop(); i++ {
		first, second, ft, st := raw, lib, &rawT, &libT
		if i%2 == 1 {
			first, second, ft, st = lib, raw, &libT, &rawT
		}
		start := time.Now()
		first(i)
		mid := time.Now()
		second(i)
		*ft += mid.Sub(start)
		*st += time.Since(mid)
		n++
	}
	b.ReportMetric(float64(rawT.Nanoseconds())/float64(n), baseName+"-ns/op")
	b.ReportMetric(float64(libT.Nanoseconds())/float64(n), otherName+"-ns/op")
	b.ReportMetric(float64(libT)/float64(rawT), otherName+"/"+baseName)
}

// BenchmarkPairedGetSet: library Set+Get against raw go-redis doing the
// same JSON work, alternately on the same server.
func BenchmarkPairedGetSet(b *testing.B) {
	srv := startRedis(b)
	ctx := context.Background()
	value := profile{Name: "Ada", Roles: []string{"admin", "editor"}}
	client := redis.NewClient(&redis.Options{Addr: srv.Addr(), PoolSize: 50})
	defer client.Close()
	c := cache.New(cache.Options{Addr: srv.Addr()})
	defer c.Close()
	paired(b, func(i int) {
		key := fmt.Sprintf("cirkelline:raw:%d", i%1000)
		raw, _ := jsonMarshal(value)
		if err := client.Set(ctx, key, raw, time.Minute).Err(); err != nil {
			b.Fatal(err)
		}
		got, err := client.Get(ctx, key).Bytes()
		if err != nil {
			b.Fatal(err)
		}
		var p profile
		if err := jsonUnmarshal(got, &p); err != nil {
			b.Fatal(err)
		}
	}, func(i int) {
		key := fmt.Sprintf("lib:%d", i%1000)
		if err := c.Set(ctx, key, value, time.Minute); err != nil {
			b.Fatal(err)
		}
		var p profile
		if err := c.Get(ctx, key, &p); err != nil {
			b.Fatal(err)
		}
	})
}

// BenchmarkPairedRateLimit: IncrRateLimit (one script call) against a plain
// INCR + EXPIRE NX pipeline, alternately on the same server.
func BenchmarkPairedRateLimit(b *testing.B) {
	srv := startRedis(b)
	ctx := context.Background()
	client := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	defer client.Close()
	c := cache.New(cache.Options{Addr: srv.Addr()})
	defer c.Close()
	paired(b, func(i int) {
		key := fmt.Sprintf("cirkelline:raw-ratelimit:ip%d", i%100)
		pipe := client.Pipeline()
		incr := pipe.Incr(ctx, key)
		pipe.ExpireNX(ctx, key, time.Minute)
		if _, err := pipe.Exec(ctx); err != nil || incr.Val() == 0 {
			b.Fatal(err)
		}
	}, func(i int) {
		if _, _, err := c.IncrRateLimit(ctx, fmt.Sprintf("ip%d", i%100), time.Minute); err != nil {
			b.Fatal(err)
		}
	})
}
