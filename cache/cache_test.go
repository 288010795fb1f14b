package cache_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cirkelline/infra/cache"
)

// backend is one way to run the cache; the behaviour suite runs on each.
type backend struct {
	name string
	// open returns a cache and, for Redis backends, a raw client to inspect it.
	open func(t *testing.T) (*cache.Cache, *redis.Client)
}

func backends() []backend {
	redisBackend := func(tlsAuth bool) func(t *testing.T) (*cache.Cache, *redis.Client) {
		return func(t *testing.T) (*cache.Cache, *redis.Client) {
			var srv *redisServer
			if tlsAuth {
				srv = startTLSRedis(t, "elasticache-style-token-0123")
			} else {
				srv = startRedis(t)
			}
			opts := cache.Options{Addr: srv.Addr(), Password: srv.Password, TLSConfig: srv.TLS}
			c := cache.New(opts)
			t.Cleanup(func() { c.Close() })
			raw := redis.NewClient(&redis.Options{Addr: srv.Addr(), Password: srv.Password, TLSConfig: srv.TLS})
			t.Cleanup(func() { raw.Close() })
			return c, raw
		}
	}
	return []backend{
		{"memory", func(t *testing.T) (*cache.Cache, *redis.Client) {
			c := cache.New(cache.Options{})
			t.Cleanup(func() { c.Close() })
			return c, nil
		}},
		{"redis", redisBackend(false)},
		{"redis-tls-auth", redisBackend(true)},
	}
}

type profile struct {
	Name  string   `json:"name"`
	Roles []string `json:"roles"`
}

func TestBehaviour(t *testing.T) {
	ctx := context.Background()
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			t.Run("set get delete", func(t *testing.T) {
				c, raw := b.open(t)
				want := profile{Name: "Ada", Roles: []string{"admin"}}
				if err := c.Set(ctx, "p:1", want, 0); err != nil {
					t.Fatal(err)
				}
				var got profile
				if err := c.Get(ctx, "p:1", &got); err != nil || got.Name != "Ada" || got.Roles[0] != "admin" {
					t.Fatalf("get = %+v, %v", got, err)
				}
				if raw != nil {
					if v, err := raw.Get(ctx, "cirkelline:p:1").Result(); err != nil || v != `{"name":"Ada","roles":["admin"]}` {
						t.Errorf("raw value under the prefixed key = %q, %v", v, err)
					}
					if ttl := raw.TTL(ctx, "cirkelline:p:1").Val(); ttl <= 4*time.Minute || ttl > 5*time.Minute {
						t.Errorf("default TTL %s, want 5 minutes", ttl)
					}
				}
				if err := c.Delete(ctx, "p:1"); err != nil {
					t.Fatal(err)
				}
				if err := c.Get(ctx, "p:1", &got); !errors.Is(err, cache.ErrCacheMiss) {
					t.Errorf("after delete: %v, want ErrCacheMiss", err)
				}
			})
			t.Run("negative TTL is an error, not the default", func(t *testing.T) {
				c, raw := b.open(t)
				if err := c.Set(ctx, "neg", "v", -time.Second); !errors.Is(err, cache.ErrInvalidTTL) {
					t.Errorf("set with ttl -1s: %v, want ErrInvalidTTL", err)
				}
				var v string
				if err := c.Get(ctx, "neg", &v); !errors.Is(err, cache.ErrCacheMiss) {
					t.Errorf("after a refused Set: %q, %v; want a miss", v, err)
				}
				if raw != nil && raw.Exists(ctx, "cirkelline:neg").Val() != 0 {
					t.Error("a Set with a negative TTL reached Redis")
				}
			})
			t.Run("miss and expiry", func(t *testing.T) {
				c, _ := b.open(t)
				var v string
				if err := c.Get(ctx, "nope", &v); !errors.Is(err, cache.ErrCacheMiss) {
					t.Errorf("want ErrCacheMiss, got %v", err)
				}
				if err := c.Set(ctx, "short", "x", 100*time.Millisecond); err != nil {
					t.Fatal(err)
				}
				eventually(t, 3*time.Second, func() bool { return errors.Is(c.Get(ctx, "short", &v), cache.ErrCacheMiss) })
			})
			t.Run("typed caches use the seed's TTLs", func(t *testing.T) {
				c, raw := b.open(t)
				sessions, users := cache.Sessions[profile](c), cache.Users[profile](c)
				if err := sessions.Set(ctx, "s1", profile{Name: "s"}); err != nil {
					t.Fatal(err)
				}
				if err := users.Set(ctx, "u1", profile{Name: "u"}); err != nil {
					t.Fatal(err)
				}
				if got, err := sessions.Get(ctx, "s1"); err != nil || got.Name != "s" {
					t.Errorf("session = %+v, %v", got, err)
				}
				if _, err := users.Get(ctx, "s1"); !errors.Is(err, cache.ErrCacheMiss) {
					t.Errorf("typed caches must not share keys: %v", err)
				}
				if raw != nil {
					for key, want := range map[string]time.Duration{"cirkelline:session:s1": time.Hour, "cirkelline:user:u1": 30 * time.Minute} {
						if ttl := raw.TTL(ctx, key).Val(); ttl <= want-time.Minute || ttl > want {
							t.Errorf("%s TTL %s, want %s", key, ttl, want)
						}
					}
				}
			})
			t.Run("cached loads once per burst", func(t *testing.T) {
				c, _ := b.open(t)
				var loads atomic.Int32
				release := make(chan struct{})
				load := func(context.Context) (profile, error) {
					loads.Add(1)
					<-release
					return profile{Name: "loaded"}, nil
				}
				var wg sync.WaitGroup
				results := make(chan string, 50)
				for range 50 {
					wg.Add(1)
					go func() {
						defer wg.Done()
						p, err := cache.Cached(ctx, c, "expensive", time.Minute, load)
						if err != nil {
							t.Error(err)
						}
						results <- p.Name
					}()
				}
				time.Sleep(50 * time.Millisecond) // let the burst pile up on the one load
				close(release)
				wg.Wait()
				close(results)
				for r := range results {
					if r != "loaded" {
						t.Errorf("got %q", r)
					}
				}
				if n := loads.Load(); n != 1 {
					t.Errorf("load ran %d times for one burst, want 1", n)
				}
				if _, err := cache.Cached(ctx, c, "expensive", time.Minute, load); err != nil || loads.Load() != 1 {
					t.Errorf("a cached value must not load again (loads %d, %v)", loads.Load(), err)
				}
			})
			t.Run("cached does not cache errors", func(t *testing.T) {
				c, _ := b.open(t)
				fail := errors.New("db down")
				calls := 0
				load := func(context.Context) (int, error) {
					calls++
					if calls == 1 {
						return 0, fail
					}
					return 42, nil
				}
				if _, err := cache.Cached(ctx, c, "flaky", time.Minute, load); !errors.Is(err, fail) {
					t.Errorf("want the load error, got %v", err)
				}
				if v, err := cache.Cached(ctx, c, "flaky", time.Minute, load); err != nil || v != 42 {
					t.Errorf("second call = %d, %v", v, err)
				}
			})
			t.Run("cached replaces a value that no longer decodes", func(t *testing.T) {
				c, _ := b.open(t)
				if err := c.Set(ctx, "shape", "an old string shape", time.Minute); err != nil {
					t.Fatal(err)
				}
				v, err := cache.Cached(ctx, c, "shape", time.Minute, func(context.Context) (profile, error) { return profile{Name: "new"}, nil })
				if err != nil || v.Name != "new" {
					t.Errorf("got %+v, %v; an undecodable value must count as a miss", v, err)
				}
			})
			t.Run("cached: one caller giving up does not fail the others", func(t *testing.T) {
				c, _ := b.open(t)
				started, release := make(chan struct{}), make(chan struct{})
				load := func(ctx context.Context) (int, error) {
					close(started)
					<-release
					return 7, ctx.Err()
				}
				impatient, cancel := context.WithCancel(ctx)
				first := make(chan error, 1)
				go func() { _, err := cache.Cached(impatient, c, "shared", time.Minute, load); first <- err }()
				<-started
				second := make(chan int, 1)
				go func() { v, _ := cache.Cached(ctx, c, "shared", time.Minute, load); second <- v }()
				cancel()
				select {
				case err := <-first:
					if !errors.Is(err, context.Canceled) {
						t.Errorf("the canceled caller: %v", err)
					}
				case <-time.After(10 * time.Second):
					t.Error("the canceled caller still waits for the load")
				}
				close(release)
				if v := <-second; v != 7 {
					t.Errorf("the patient caller got %d, want 7", v)
				}
			})
			t.Run("cached turns a panicking load into an error", func(t *testing.T) {
				c, _ := b.open(t)
				_, err := cache.Cached(ctx, c, "boom", time.Minute, func(context.Context) (int, error) { panic("bad load") })
				if err == nil || !strings.Contains(err.Error(), "bad load") {
					t.Errorf("want the panic as an error, got %v", err)
				}
			})
			t.Run("a key of another type is an error for that key, not an outage", func(t *testing.T) {
				c, raw := b.open(t)
				if raw == nil {
					t.Skip("only Redis holds values of other types")
				}
				raw.HSet(ctx, "cirkelline:foreign", "f", "v")
				raw.HSet(ctx, "cirkelline:ratelimit:foreign", "f", "v")
				var v string
				if err := c.Get(ctx, "foreign", &v); err == nil || errors.Is(err, cache.ErrCacheMiss) || !strings.Contains(err.Error(), "WRONGTYPE") {
					t.Errorf("get of a hash: %v, want the WRONGTYPE error", err)
				}
				if _, _, err := c.IncrRateLimit(ctx, "foreign", time.Minute); err == nil || !strings.Contains(err.Error(), "WRONGTYPE") {
					t.Errorf("rate limit on a hash: %v, want the WRONGTYPE error", err)
				}
				if !c.UsingRedis() {
					t.Error("one foreign key must not open the circuit")
				}
				if got, err := cache.Cached(ctx, c, "foreign", time.Minute, func(context.Context) (string, error) { return "ours", nil }); err != nil || got != "ours" {
					t.Errorf("Cached over a foreign key = %q, %v; want it loaded and replaced", got, err)
				}
			})
			t.Run("fixed window rate limit", func(t *testing.T) {
				c, _ := b.open(t)
				for i := int64(1); i <= 3; i++ {
					n, reset, err := c.IncrRateLimit(ctx, "user:1", 300*time.Millisecond)
					if err != nil || n != i || reset <= 0 || reset > 300*time.Millisecond {
						t.Fatalf("hit %d: count %d reset %s err %v", i, n, reset, err)
					}
				}
				if _, _, err := c.IncrRateLimit(ctx, "user:3", time.Microsecond); !errors.Is(err, cache.ErrInvalidWindow) {
					t.Errorf("a sub-millisecond window: %v, want ErrInvalidWindow", err)
				}
				res, err := c.Allow(ctx, "user:2", cache.PerSecond(1))
				if err != nil || !res.Allowed || res.Remaining != 0 {
					t.Errorf("first = %+v, %v", res, err)
				}
				if res, _ = c.Allow(ctx, "user:2", cache.PerSecond(1)); res.Allowed {
					t.Errorf("second within the window must be denied: %+v", res)
				}
				eventually(t, 3*time.Second, func() bool {
					n, _, err := c.IncrRateLimit(ctx, "user:1", 300*time.Millisecond)
					return err == nil && n == 1
				})
			})
		})
	}
}

func TestMemoryFallbackIsBounded(t *testing.T) {
	ctx := context.Background()
	c := cache.New(cache.Options{LocalSize: 2})
	defer c.Close()
	for _, k := range []string{"a", "b", "c"} {
		if err := c.Set(ctx, k, k, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	var v string
	if err := c.Get(ctx, "a", &v); !errors.Is(err, cache.ErrCacheMiss) {
		t.Errorf("the least recently used item must be evicted, got %q %v", v, err)
	}
	if err := c.Get(ctx, "c", &v); err != nil || v != "c" {
		t.Errorf("newest item: %q %v", v, err)
	}
}

// countingHandler counts slog records by level.
type countingHandler struct {
	mu       sync.Mutex
	warnings []string
}

func (h *countingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *countingHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if r.Level == slog.LevelWarn {
		h.warnings = append(h.warnings, r.Message)
	}
	return nil
}
func (h *countingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *countingHandler) WithGroup(string) slog.Handler      { return h }
func (h *countingHandler) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.warnings)
}

// TestOutageAndRecovery stops Redis in the middle of a run: no call fails,
// values are served from memory, one warning is logged; when Redis is back
// the cache returns to it within the probe interval.
func TestOutageAndRecovery(t *testing.T) {
	ctx := context.Background()
	srv := startRedis(t)
	logs := &countingHandler{}
	c := cache.New(cache.Options{Addr: srv.Addr(), ProbeInterval: 100 * time.Millisecond, DialTimeout: 200 * time.Millisecond, Logger: slog.New(logs)})
	defer c.Close()
	if err := c.Set(ctx, "before", "kept", time.Minute); err != nil {
		t.Fatal(err)
	}
	if !c.UsingRedis() {
		t.Fatal("should start on Redis")
	}

	srv.Stop()
	for i := range 200 {
		var v string
		if err := c.Get(ctx, "before", &v); err != nil || v != "kept" {
			t.Fatalf("call %d during the outage: %q, %v; values must keep being served", i, v, err)
		}
		if err := c.Set(ctx, "during", i, time.Minute); err != nil {
			t.Fatalf("set during the outage: %v", err)
		}
		if _, _, err := c.IncrRateLimit(ctx, "ip", time.Minute); err != nil {
			t.Fatalf("rate limit during the outage: %v", err)
		}
	}
	var during int
	if err := c.Get(ctx, "during", &during); err != nil || during != 199 {
		t.Errorf("during = %d, %v", during, err)
	}
	if n := logs.count(); n != 1 || c.UsingRedis() {
		t.Errorf("%d warnings (want exactly 1 for the outage), using Redis %v", n, c.UsingRedis())
	}

	srv.Start()
	eventually(t, 5*time.Second, c.UsingRedis)
	if n := logs.count(); n != 2 {
		t.Errorf("%d warnings, want 2: the outage and the recovery", n)
	}
	raw := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	defer raw.Close()
	if err := c.Set(ctx, "after", "back", time.Minute); err != nil {
		t.Fatal(err)
	}
	if v, err := raw.Get(ctx, "cirkelline:after").Result(); err != nil || v != `"back"` {
		t.Errorf("writes must reach Redis again: %q %v", v, err)
	}
}

// TestRecoversAfterALongOutage: after PoolSize failed dials go-redis stops
// dialing from calls and redials in the background once a second; the
// probe must still bring the cache back. PoolSize 2 makes the outage "long"
// after a few probes.
func TestRecoversAfterALongOutage(t *testing.T) {
	ctx := context.Background()
	srv := startRedis(t)
	logs := &countingHandler{}
	c := cache.New(cache.Options{Addr: srv.Addr(), PoolSize: 2, ProbeInterval: 50 * time.Millisecond,
		DialTimeout: 200 * time.Millisecond, Logger: slog.New(logs)})
	defer c.Close()
	if err := c.Set(ctx, "k", 1, time.Minute); err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	if err := c.Set(ctx, "k", 2, time.Minute); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond) // about ten failed probes, past PoolSize dial errors
	if c.UsingRedis() {
		t.Fatal("Redis is down")
	}
	srv.Start()
	eventually(t, 10*time.Second, c.UsingRedis)
	if n := logs.count(); n != 2 {
		t.Errorf("%d warnings, want 2", n)
	}
}

// TestChangesDuringAnOutageAreNotUndone hangs Redis (SIGSTOP keeps its
// data, as a network partition or a failover would): keys set or deleted in
// memory during the hang are deleted from Redis before calls return there,
// so a session revoked during an outage does not come back afterwards. And
// the fallback serves what Redis last said, not an older copy.
func TestChangesDuringAnOutageAreNotUndone(t *testing.T) {
	ctx := context.Background()
	srv := startRedis(t)
	logs := &countingHandler{}
	c := cache.New(cache.Options{Addr: srv.Addr(), ProbeInterval: 100 * time.Millisecond,
		DialTimeout: 200 * time.Millisecond, ReadTimeout: 200 * time.Millisecond, WriteTimeout: 200 * time.Millisecond, Logger: slog.New(logs)})
	defer c.Close()
	raw := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	defer raw.Close()
	sessions := cache.Sessions[string](c)
	for _, id := range []string{"revoked", "renamed", "replaced-elsewhere", "deleted-elsewhere"} {
		if err := sessions.Set(ctx, id, "v1"); err != nil {
			t.Fatal(err)
		}
	}
	// Another replica changes two keys; this one reads them.
	raw.Set(ctx, "cirkelline:session:replaced-elsewhere", `"v2"`, time.Hour)
	raw.Del(ctx, "cirkelline:session:deleted-elsewhere")
	if v, err := sessions.Get(ctx, "replaced-elsewhere"); err != nil || v != "v2" {
		t.Fatalf("replaced elsewhere: %q %v", v, err)
	}
	if _, err := sessions.Get(ctx, "deleted-elsewhere"); !errors.Is(err, cache.ErrCacheMiss) {
		t.Fatalf("deleted elsewhere: %v", err)
	}

	srv.Pause()
	if err := sessions.Delete(ctx, "revoked"); err != nil {
		t.Fatalf("delete during the hang: %v", err)
	}
	if err := sessions.Set(ctx, "renamed", "v3"); err != nil {
		t.Fatal(err)
	}
	if c.UsingRedis() {
		t.Fatal("the circuit should be open")
	}
	for id, want := range map[string]string{"revoked": "", "renamed": "v3", "replaced-elsewhere": "v2", "deleted-elsewhere": "", "untouched": ""} {
		v, err := sessions.Get(ctx, id)
		if (want == "" && !errors.Is(err, cache.ErrCacheMiss)) || (want != "" && (err != nil || v != want)) {
			t.Errorf("during the hang %s = %q, %v; want %q", id, v, err, want)
		}
	}

	srv.Resume()
	eventually(t, 5*time.Second, c.UsingRedis)
	if _, err := sessions.Get(ctx, "revoked"); !errors.Is(err, cache.ErrCacheMiss) {
		t.Errorf("a session deleted during the outage came back: %v", err)
	}
	if v, err := sessions.Get(ctx, "renamed"); !errors.Is(err, cache.ErrCacheMiss) {
		t.Errorf("renamed = %q, %v: Redis must not serve the value from before the outage", v, err)
	}
	if n := raw.Exists(ctx, "cirkelline:session:revoked", "cirkelline:session:renamed").Val(); n != 0 {
		t.Errorf("%d keys changed during the outage are still in Redis", n)
	}
	if v, err := sessions.Get(ctx, "replaced-elsewhere"); err != nil || v != "v2" {
		t.Errorf("an unchanged key must stay in Redis: %q %v", v, err)
	}
	if n := logs.count(); n != 2 {
		t.Errorf("%d warnings, want 2 (outage, recovery)", n)
	}
}

func TestStartsWhileRedisIsDown(t *testing.T) {
	var buf bytes.Buffer
	c := cache.New(cache.Options{Addr: "127.0.0.1:1", DialTimeout: 100 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(&buf, nil))})
	defer c.Close()
	ctx := context.Background()
	if err := c.Set(ctx, "k", 1, 0); err != nil {
		t.Fatal(err)
	}
	var v int
	if err := c.Get(ctx, "k", &v); err != nil || v != 1 {
		t.Errorf("get = %d, %v", v, err)
	}
	if !strings.Contains(buf.String(), "Redis unreachable") {
		t.Errorf("want the outage warning, log: %s", buf.String())
	}
}

func TestCanceledContextIsNotAnOutage(t *testing.T) {
	srv := startRedis(t)
	c := cache.New(cache.Options{Addr: srv.Addr()})
	defer c.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var v string
	if err := c.Get(ctx, "k", &v); !errors.Is(err, context.Canceled) {
		t.Errorf("want context.Canceled, got %v", err)
	}
	if !c.UsingRedis() {
		t.Error("a caller's canceled context must not open the circuit")
	}
}

func eventually(t *testing.T, within time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %s", within)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestOutageUnderLoad kills Redis while workers are busy with every kind of
// call, then restarts it (empty) on the same port: no call returns an error,
// a value set before the outage keeps being served until the restart, no read ever returns a stale
// value (right after a Set, a Get returns that value or, across the return
// to Redis, a miss), and each transition is logged exactly once.
func TestOutageUnderLoad(t *testing.T) {
	ctx := context.Background()
	srv := startRedis(t)
	logs := &countingHandler{}
	c := cache.New(cache.Options{Addr: srv.Addr(), ProbeInterval: 100 * time.Millisecond, DialTimeout: 200 * time.Millisecond,
		ReadTimeout: 200 * time.Millisecond, WriteTimeout: 200 * time.Millisecond, Logger: slog.New(logs)})
	defer c.Close()
	if err := c.Set(ctx, "before", "kept", time.Hour); err != nil {
		t.Fatal(err)
	}

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var calls, misses, restarted atomic.Int64
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			key := "worker:" + strconv.Itoa(w)
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if err := c.Set(ctx, key, i, time.Minute); err != nil {
					t.Errorf("set: %v", err)
					return
				}
				var got int
				switch err := c.Get(ctx, key, &got); {
				case errors.Is(err, cache.ErrCacheMiss):
					misses.Add(1) // written to memory just before the return to Redis
				case err != nil || got != i:
					t.Errorf("get %s = %d, %v; want %d", key, got, err, i)
					return
				}
				// Until the restart (a new, empty Redis), "before" is served
				// from Redis or, during the outage, from memory.
				var before string
				if err := c.Get(ctx, "before", &before); restarted.Load() == 0 && (err != nil || before != "kept") {
					t.Errorf("a value set before the outage: %q, %v", before, err)
					return
				}
				if _, _, err := c.IncrRateLimit(ctx, key, time.Minute); err != nil {
					t.Errorf("rate limit: %v", err)
					return
				}
				if v, err := cache.Cached(ctx, c, "shared", time.Minute, func(context.Context) (string, error) { return "loaded", nil }); err != nil || v != "loaded" {
					t.Errorf("cached = %q, %v", v, err)
					return
				}
				calls.Add(1)
			}
		}()
	}
	// progress waits until the workers have made n more rounds.
	progress := func(n int64) {
		t.Helper()
		target := calls.Load() + n
		eventually(t, 10*time.Second, func() bool { return calls.Load() >= target || t.Failed() })
	}

	progress(200)
	srv.Stop()
	eventually(t, 5*time.Second, func() bool { return !c.UsingRedis() })
	progress(2000)
	if n := logs.count(); n != 1 {
		t.Errorf("%d warnings during the outage, want exactly 1", n)
	}

	restarted.Store(1)
	srv.Start()
	eventually(t, 10*time.Second, c.UsingRedis)
	progress(200)
	close(stop)
	wg.Wait()
	if n := logs.count(); n != 2 {
		t.Errorf("%d warnings, want 2 (outage, recovery): %v", n, logs.warnings)
	}
	t.Logf("%d rounds, %d misses at the return to Redis", calls.Load(), misses.Load())
}

// TestCloseWhileCallsFail closes the cache while calls meet an unreachable
// Redis and start the probe: no panic, no race, and calls after Close are
// served from memory.
func TestCloseWhileCallsFail(t *testing.T) {
	ctx := context.Background()
	for range 20 {
		c := cache.New(cache.Options{Addr: "127.0.0.1:1", DialTimeout: 50 * time.Millisecond, ProbeInterval: time.Millisecond,
			Logger: slog.New(slog.DiscardHandler)})
		var wg sync.WaitGroup
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := c.Set(ctx, "k", 1, time.Minute); err != nil {
					t.Error(err)
				}
			}()
		}
		if err := c.Close(); err != nil {
			t.Error(err)
		}
		wg.Wait()
		if err := c.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
		var v int
		if err := c.Get(ctx, "k", &v); err != nil || v != 1 {
			t.Errorf("get after Close = %d, %v", v, err)
		}
	}
}
