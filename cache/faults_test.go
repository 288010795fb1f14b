package cache_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cirkelline/infra/cache"
)

// recordingHandler keeps every slog record's level and message.
type recordingHandler struct {
	mu      sync.Mutex
	records []string // "LEVEL message"
}

func (h *recordingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *recordingHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.records = append(h.records, r.Level.String()+" "+r.Message)
	return nil
}
func (h *recordingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *recordingHandler) WithGroup(string) slog.Handler      { return h }
func (h *recordingHandler) matching(s string) (n int, all []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, r := range h.records {
		if strings.Contains(r, s) {
			n++
		}
	}
	return n, append([]string(nil), h.records...)
}

func rawClient(t *testing.T, srv *redisServer) *redis.Client {
	raw := redis.NewClient(&redis.Options{Addr: srv.Addr(), Password: srv.Password, TLSConfig: srv.TLS})
	t.Cleanup(func() { raw.Close() })
	return raw
}

// TestCommandErrorsAreNotOutages: a value that is not a counter under a
// rate-limit key, and writes Redis refuses for memory (maxmemory with
// noeviction), are errors for those calls; every other call stays on Redis
// and nothing is logged.
func TestCommandErrorsAreNotOutages(t *testing.T) {
	ctx := context.Background()
	srv := startRedis(t)
	logs := &recordingHandler{}
	c := cache.New(cache.Options{Addr: srv.Addr(), ProbeInterval: 20 * time.Millisecond, Logger: slog.New(logs)})
	defer c.Close()
	raw := rawClient(t, srv)

	raw.Set(ctx, "cirkelline:ratelimit:not-a-counter", "abc", time.Hour)
	if _, _, err := c.IncrRateLimit(ctx, "not-a-counter", time.Minute); !errors.Is(err, cache.ErrRejected) || !strings.Contains(err.Error(), "not an integer") {
		t.Errorf("INCR on a string: %v, want ErrRejected with Redis's error", err)
	}
	if !c.UsingRedis() {
		t.Fatal("one key that is not a counter took the process off Redis")
	}
	if err := c.Set(ctx, "kept", "v1", time.Minute); err != nil {
		t.Fatal(err)
	}

	// Out of memory: maxmemory below what Redis uses, nothing to evict.
	if err := raw.ConfigSet(ctx, "maxmemory-policy", "noeviction").Err(); err != nil {
		t.Fatal(err)
	}
	if err := raw.ConfigSet(ctx, "maxmemory", "1").Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.Set(ctx, "kept", "v2", time.Minute); !errors.Is(err, cache.ErrRejected) || !redis.IsOOMError(errors.Unwrap(errors.Unwrap(err))) && !strings.Contains(err.Error(), "OOM") {
		t.Errorf("set under OOM: %v, want ErrRejected with the OOM error", err)
	}
	if _, _, err := c.IncrRateLimit(ctx, "ip", time.Minute); !errors.Is(err, cache.ErrRejected) {
		t.Errorf("rate limit under OOM: %v, want ErrRejected", err)
	}
	if !c.UsingRedis() {
		t.Fatal("OOM took the process off Redis")
	}
	// The refused Set must not leave v1 to be read back (DEL is allowed under OOM).
	var v string
	if err := c.Get(ctx, "kept", &v); !errors.Is(err, cache.ErrCacheMiss) {
		t.Errorf("after a refused Set: %q, %v; want a miss, not the value it was meant to replace", v, err)
	}
	time.Sleep(100 * time.Millisecond) // several probe intervals: nothing must flap
	if n, all := logs.matching(""); n != 0 || !c.UsingRedis() {
		t.Errorf("logged %v, using Redis %v; want nothing logged and still on Redis", all, c.UsingRedis())
	}
	if err := raw.ConfigSet(ctx, "maxmemory", "0").Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.Set(ctx, "after", "ok", time.Minute); err != nil {
		t.Errorf("set after OOM: %v", err)
	}
}

// TestRateLimitNeverFailsOpen: nothing a client does lets a request past
// the limit, invalid limits are refused when the middleware is built, and
// what happens while Redis is down is the option's choice.
func TestRateLimitNeverFailsOpen(t *testing.T) {
	for _, invalid := range []cache.Limit{{Rate: 10}, {Rate: 0, Period: time.Minute}, {Rate: -1, Period: time.Second}, {Rate: 5, Period: time.Microsecond}} {
		if _, err := cache.RateLimit(cache.New(cache.Options{}), invalid, cache.MiddlewareOptions{}); !errors.Is(err, cache.ErrInvalidLimit) {
			t.Errorf("RateLimit(%+v): %v, want ErrInvalidLimit", invalid, err)
		}
	}
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			c, _ := b.open(t)
			var served atomic.Int32
			next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { served.Add(1) })
			// The key function waits, for marked requests, until the server
			// has seen the client half-close its connection.
			key := func(r *http.Request) string {
				if r.Header.Get("X-Half-Closed") != "" {
					select {
					case <-r.Context().Done():
					case <-time.After(30 * time.Second):
						t.Error("the server never noticed the half-close")
					}
				}
				return "client"
			}
			srv := httptest.NewServer(mustRateLimit(t, c, cache.PerMinute(1), cache.MiddlewareOptions{Key: key})(next))
			defer srv.Close()
			resp, err := http.Get(srv.URL)
			if err != nil || resp.StatusCode != http.StatusOK {
				t.Fatalf("first request: %v %v", resp, err)
			}
			resp.Body.Close()

			conn, err := net.Dial("tcp", srv.Listener.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			fmt.Fprintf(conn, "GET / HTTP/1.1\r\nHost: x\r\nX-Half-Closed: 1\r\n\r\n")
			conn.(*net.TCPConn).CloseWrite()
			if resp, err := http.ReadResponse(bufio.NewReader(conn), nil); err == nil {
				resp.Body.Close()
			}

			cancelled, cancel := context.WithCancel(context.Background())
			cancel()
			w := httptest.NewRecorder()
			mustRateLimit(t, c, cache.PerMinute(1), cache.MiddlewareOptions{Key: key})(next).ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/", nil).WithContext(cancelled))
			if n := served.Load(); n != 1 {
				t.Errorf("the handler ran %d times, want 1: a half-closed or cancelled request got past a spent limit", n)
			}
		})
	}
}

// TestRateLimitWhenRedisDown: each WhenRedisDown choice, with Redis killed,
// and with a key Redis cannot count (OnError is told, the choice applies).
func TestRateLimitWhenRedisDown(t *testing.T) {
	srv := startRedis(t)
	raw := rawClient(t, srv)
	c := cache.New(cache.Options{Addr: srv.Addr(), ProbeInterval: time.Hour, Logger: slog.New(slog.DiscardHandler)})
	defer c.Close()
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	var onError atomic.Int32
	mw := func(name string, when cache.WhenRedisDown) http.Handler {
		return mustRateLimit(t, c, cache.PerMinute(2), cache.MiddlewareOptions{Name: name, WhenRedisDown: when,
			OnError: func(*http.Request, error) { onError.Add(1) }})(ok)
	}
	codes := func(h http.Handler) []int {
		var got []int
		for range 3 {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/", nil))
			got = append(got, w.Code)
		}
		return got
	}
	want := map[cache.WhenRedisDown][]int{
		cache.CountLocally: {200, 200, 429},
		cache.FailClosed:   {503, 503, 503},
		cache.FailOpen:     {200, 200, 200},
	}
	// A value Redis cannot count under the middleware's key.
	for when, w := range want {
		name := fmt.Sprintf("foreign-%d", when)
		raw.Set(context.Background(), "cirkelline:ratelimit:http:"+name+":192.0.2.1", "abc", time.Hour)
		if got := codes(mw(name, when)); fmt.Sprint(got) != fmt.Sprint(w) {
			t.Errorf("%d with a value Redis cannot count: %v, want %v", when, got, w)
		}
	}
	if onError.Load() != 9 || !c.UsingRedis() {
		t.Errorf("OnError told %d times (want 9), using Redis %v", onError.Load(), c.UsingRedis())
	}
	srv.Stop()
	for when, w := range want {
		if got := codes(mw(fmt.Sprintf("down-%d", when), when)); fmt.Sprint(got) != fmt.Sprint(w) {
			t.Errorf("%d with Redis down: %v, want %v", when, got, w)
		}
	}
}

// TestNoStaleValuesFromMemory: Gets racing Sets of the same key never leave
// the fallback older than the last Set, and a Set that fails (cancelled)
// leaves nothing in memory; checked by killing Redis and reading from
// memory.
func TestNoStaleValuesFromMemory(t *testing.T) {
	ctx := context.Background()
	srv := startRedis(t)
	c := cache.New(cache.Options{Addr: srv.Addr(), ProbeInterval: time.Hour, Logger: slog.New(slog.DiscardHandler)})
	defer c.Close()
	const keys, versions = 40, 25
	var writers, readers sync.WaitGroup
	stop := make(chan struct{})
	for k := range keys {
		key := fmt.Sprintf("race:%d", k)
		for range 2 {
			readers.Add(1)
			go func() {
				defer readers.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					var v int
					_ = c.Get(ctx, key, &v)
				}
			}()
		}
		writers.Add(1)
		go func() {
			defer writers.Done()
			for i := 1; i <= versions; i++ {
				if err := c.Set(ctx, key, i, time.Minute); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	writers.Wait()
	close(stop)
	readers.Wait()

	if err := c.Set(ctx, "cancelled", "v1", time.Minute); err != nil {
		t.Fatal(err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if err := c.Set(cancelled, "cancelled", "v2", time.Minute); !errors.Is(err, context.Canceled) {
		t.Errorf("a cancelled Set: %v, want context.Canceled", err)
	}

	srv.Stop()
	stale := 0
	for k := range keys {
		var v int
		if err := c.Get(ctx, fmt.Sprintf("race:%d", k), &v); err == nil && v != versions {
			stale++
		}
	}
	if stale > 0 {
		t.Errorf("%d of %d keys serve an older value than their last Set from memory", stale, keys)
	}
	var v string
	if err := c.Get(ctx, "cancelled", &v); err == nil && v == "v2" {
		t.Errorf("memory serves %q, the value of a Set that returned an error", v)
	}
}

// TestCallerDeadlineDuringAStall: with Redis frozen (SIGSTOP) and a
// ReadTimeout far beyond the test's patience, a caller's 100 ms deadline
// ends its call with its own error, the circuit stays closed for it, and
// Close does not wait for Redis either.
func TestCallerDeadlineDuringAStall(t *testing.T) {
	srv := startRedis(t)
	c := cache.New(cache.Options{Addr: srv.Addr(), ReadTimeout: 5 * time.Minute, WriteTimeout: 5 * time.Minute,
		ProbeInterval: 50 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
	ctx := context.Background()
	if err := c.Set(ctx, "k", "v", time.Minute); err != nil {
		t.Fatal(err)
	}
	srv.Pause()
	defer srv.Resume()
	within := func(what string, f func()) {
		t.Helper()
		done := make(chan struct{})
		go func() { defer close(done); f() }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Fatalf("%s still waits for the frozen Redis after 30 s", what)
		}
	}
	var err error
	within("a Get with a 100 ms deadline", func() {
		dctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		defer cancel()
		var v string
		err = c.Get(dctx, "k", &v)
	})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("get past the caller's deadline: %v, want context.DeadlineExceeded", err)
	}
	if !c.UsingRedis() {
		t.Error("a caller's deadline opened the circuit")
	}
	within("Close", func() { c.Close() })
}

// TestShortDeadlinesStillDetectAStall: when every caller's deadline is
// shorter than ReadTimeout, a frozen Redis is still found out (by a health
// check on the cache's own timeouts) and calls go to memory.
func TestShortDeadlinesStillDetectAStall(t *testing.T) {
	srv := startRedis(t)
	logs := &recordingHandler{}
	c := cache.New(cache.Options{Addr: srv.Addr(), ReadTimeout: 300 * time.Millisecond, WriteTimeout: 300 * time.Millisecond,
		ProbeInterval: 50 * time.Millisecond, Logger: slog.New(logs)})
	defer c.Close()
	ctx := context.Background()
	if err := c.Set(ctx, "k", "v", time.Minute); err != nil {
		t.Fatal(err)
	}
	srv.Pause()
	get := func() (string, error) {
		dctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		var v string
		err := c.Get(dctx, "k", &v)
		return v, err
	}
	if _, err := get(); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("first call: %v, want the caller's deadline", err)
	}
	eventually(t, 10*time.Second, func() bool { return !c.UsingRedis() })
	if v, err := get(); err != nil || v != "v" {
		t.Errorf("from memory: %q, %v", v, err)
	}
	if !errors.Is(c.Err(), cache.ErrUnavailable) {
		t.Errorf("Err() = %v, want ErrUnavailable", c.Err())
	}
	srv.Resume()
	eventually(t, 10*time.Second, c.UsingRedis)
	if n, all := logs.matching("unreachable"); n != 1 {
		t.Errorf("logs %v, want one outage warning", all)
	}
}

// TestWrongPassword: a refused password is an outage that says
// "authentication failed", once, as an error, however many probes fail;
// calls are served from memory meanwhile, and the cache returns to Redis
// when the password is accepted.
func TestWrongPassword(t *testing.T) {
	srv := startRedis(t)
	srv.Password = "the-right-password-0123"
	raw := rawClient(t, &redisServer{port: srv.port})
	ctx := context.Background()
	if err := raw.ConfigSet(ctx, "requirepass", srv.Password).Err(); err != nil {
		t.Fatal(err)
	}
	logs := &recordingHandler{}
	c := cache.New(cache.Options{Addr: srv.Addr(), Password: "a-wrong-password-4567", ProbeInterval: 20 * time.Millisecond, Logger: slog.New(logs)})
	defer c.Close()
	if err := c.Set(ctx, "k", "v", time.Minute); err != nil {
		t.Fatal(err)
	}
	var v string
	if err := c.Get(ctx, "k", &v); err != nil || v != "v" {
		t.Errorf("from memory: %q, %v", v, err)
	}
	time.Sleep(200 * time.Millisecond) // about ten failed probes
	if n, all := logs.matching("ERROR cache: Redis authentication failed"); n != 1 || len(all) != 1 {
		t.Errorf("logs %v, want exactly one error saying authentication failed", all)
	}
	if !errors.Is(c.Err(), cache.ErrAuth) {
		t.Errorf("Err() = %v, want ErrAuth", c.Err())
	}
	authed := redis.NewClient(&redis.Options{Addr: srv.Addr(), Password: srv.Password})
	defer authed.Close()
	if err := authed.ConfigSet(ctx, "requirepass", "a-wrong-password-4567").Err(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, c.UsingRedis)
}

// TestOptionsHidePassword: Options printed with any verb or logged with
// slog (text or JSON) never show the password.
func TestOptionsHidePassword(t *testing.T) {
	opts := cache.Options{Addr: "redis:6379", Password: "s3cr3t-token"}
	var out bytes.Buffer
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		fmt.Fprintf(&out, verb+"\n", opts)
		fmt.Fprintf(&out, verb+"\n", &opts)
	}
	slog.New(slog.NewTextHandler(&out, nil)).Info("opts", "opts", opts)
	slog.New(slog.NewJSONHandler(&out, nil)).Info("opts", "opts", opts)
	if strings.Contains(out.String(), "s3cr3t") || !strings.Contains(out.String(), "redis:6379") {
		t.Errorf("printed options:\n%s", out.String())
	}
}

// TestFallbackIsBoundedInBytes: 48 values of 1 MiB, written while Redis is
// up, are not all kept in memory: the default bound is 32 MiB.
func TestFallbackIsBoundedInBytes(t *testing.T) {
	ctx := context.Background()
	srv := startRedis(t)
	c := cache.New(cache.Options{Addr: srv.Addr(), ProbeInterval: time.Hour, Logger: slog.New(slog.DiscardHandler)})
	defer c.Close()
	big := strings.Repeat("x", 1<<20)
	for i := range 48 {
		if err := c.Set(ctx, fmt.Sprint("big:", i), big, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	srv.Stop()
	hits := 0
	for i := range 48 {
		var v string
		if c.Get(ctx, fmt.Sprint("big:", i), &v) == nil {
			hits++
		}
	}
	if hits == 0 || hits > 32 {
		t.Errorf("%d values of 1 MiB served from memory, want 1 to 32 (the 32 MiB default bound)", hits)
	}
}

// TestValueLargerThanTheBound: a value larger than LocalMaxBytes lives only
// in Redis, and an older copy is not served in its place during an outage.
func TestValueLargerThanTheBound(t *testing.T) {
	ctx := context.Background()
	srv := startRedis(t)
	c := cache.New(cache.Options{Addr: srv.Addr(), LocalMaxBytes: 1 << 20, ProbeInterval: time.Hour, Logger: slog.New(slog.DiscardHandler)})
	defer c.Close()
	if err := c.Set(ctx, "doc", "small", time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := c.Set(ctx, "doc", strings.Repeat("x", 2<<20), time.Minute); err != nil {
		t.Fatal(err)
	}
	var v string
	if err := c.Get(ctx, "doc", &v); err != nil || len(v) != 2<<20 {
		t.Fatalf("from Redis: %d bytes, %v", len(v), err)
	}
	srv.Stop()
	if err := c.Get(ctx, "doc", &v); !errors.Is(err, cache.ErrCacheMiss) {
		t.Errorf("during the outage: %q..., %v; want a miss", v[:min(len(v), 10)], err)
	}
}

// TestGetRacingSetKeepsTheNewerCopy orders the race with SIGSTOP: a Get's
// GET reaches Redis first, a Set of the same key second, and Redis answers
// both on SIGCONT, the Get with the older value. Memory must keep the Set's
// value (it is served once Redis is killed).
func TestGetRacingSetKeepsTheNewerCopy(t *testing.T) {
	ctx := context.Background()
	srv := startRedis(t)
	c := cache.New(cache.Options{Addr: srv.Addr(), ReadTimeout: time.Minute, WriteTimeout: time.Minute,
		ProbeInterval: time.Hour, Logger: slog.New(slog.DiscardHandler)})
	defer c.Close()
	// Two pooled connections, so the Get and the Set do not dial while Redis is frozen.
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() { defer wg.Done(); _ = c.Set(ctx, "warm", 1, time.Minute) }()
	}
	wg.Wait()
	if err := c.Set(ctx, "k", "old", time.Minute); err != nil {
		t.Fatal(err)
	}
	srv.Pause()
	got := make(chan string, 1)
	go func() { var v string; _ = c.Get(ctx, "k", &v); got <- v }()
	time.Sleep(100 * time.Millisecond) // the GET is sent before the SET
	set := make(chan error, 1)
	go func() { set <- c.Set(ctx, "k", "new", time.Minute) }()
	time.Sleep(100 * time.Millisecond)
	srv.Resume()
	if err := <-set; err != nil {
		t.Fatal(err)
	}
	if v := <-got; v != "old" {
		t.Fatalf("the racing Get read %q: Redis ran the SET first, so the race was not arranged", v)
	}
	srv.Stop()
	var v string
	if err := c.Get(ctx, "k", &v); err != nil || v != "new" {
		t.Errorf("memory after the race: %q, %v; want the last Set's value", v, err)
	}
}
