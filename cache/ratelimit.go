package cache

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Limit is a number of requests per period.
type Limit struct {
	Rate   int
	Period time.Duration
}

// PerSecond allows rate requests a second.
func PerSecond(rate int) Limit { return Limit{Rate: rate, Period: time.Second} }

// PerMinute allows rate requests a minute.
func PerMinute(rate int) Limit { return Limit{Rate: rate, Period: time.Minute} }

// String prints the limit, e.g. "10 req/s" or "100 req/min".
func (l Limit) String() string {
	switch l.Period {
	case time.Second:
		return fmt.Sprintf("%d req/s", l.Rate)
	case time.Minute:
		return fmt.Sprintf("%d req/min", l.Rate)
	case time.Hour:
		return fmt.Sprintf("%d req/h", l.Rate)
	}
	return fmt.Sprintf("%d req/%s", l.Rate, l.Period)
}

// fixedWindow increments a counter and starts its expiry on the first hit of
// a window, atomically; it returns the count and the window's remaining ms.
var fixedWindow = redis.NewScript(`
local count = redis.call("INCR", KEYS[1])
if count == 1 then
  redis.call("PEXPIRE", KEYS[1], ARGV[1])
end
local ttl = redis.call("PTTL", KEYS[1])
if ttl < 0 then
  redis.call("PEXPIRE", KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {count, ttl}
`)

// ErrInvalidWindow is returned by IncrRateLimit (and Allow, RateLimit) for a
// window shorter than a millisecond, the resolution of Redis's PEXPIRE.
var ErrInvalidWindow = errors.New("cache: rate limit window must be at least 1ms")

// IncrRateLimit counts one hit on key in a fixed window and returns the
// count so far in this window and the time until the window resets. During
// a Redis outage the count is per process (see localLimiter).
func (c *Cache) IncrRateLimit(ctx context.Context, key string, window time.Duration) (int64, time.Duration, error) {
	if window < time.Millisecond {
		return 0, 0, ErrInvalidWindow
	}
	k := c.key("ratelimit:" + key)
	if c.UsingRedis() {
		res, err := fixedWindow.Run(ctx, c.client, []string{k}, window.Milliseconds()).Int64Slice()
		if err == nil && len(res) == 2 {
			return res[0], time.Duration(res[1]) * time.Millisecond, nil
		}
		if err == nil {
			err = fmt.Errorf("cache: rate limit script returned %v", res)
		}
		if !c.failed(ctx, err) {
			return 0, 0, fmt.Errorf("cache: rate limit %q: %w", key, err)
		}
	}
	count, reset := c.limits.incr(k, window)
	return count, reset, nil
}

// Result is the outcome of one Allow.
type Result struct {
	Limit     Limit
	Allowed   bool
	Remaining int
	// ResetAfter is the time until the window resets (Retry-After when denied).
	ResetAfter time.Duration
}

// Allow counts one request of key against limit.
func (c *Cache) Allow(ctx context.Context, key string, limit Limit) (Result, error) {
	count, reset, err := c.IncrRateLimit(ctx, key, limit.Period)
	if err != nil {
		return Result{}, err
	}
	return Result{
		Limit: limit, Allowed: count <= int64(limit.Rate),
		Remaining: max(0, limit.Rate-int(count)), ResetAfter: reset,
	}, nil
}

// localLimiter is the fallback during a Redis outage: fixed windows per
// process, so with N replicas a client may get up to N times the limit
// until Redis is back. Expired windows are swept at most once a second.
type localLimiter struct {
	mu        sync.Mutex
	windows   map[string]*window
	nextSweep time.Time
	now       func() time.Time
}

type window struct {
	count int64
	ends  time.Time
}

func newLocalLimiter() *localLimiter {
	return &localLimiter{windows: map[string]*window{}, now: time.Now}
}

func (l *localLimiter) incr(key string, size time.Duration) (int64, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	w, ok := l.windows[key]
	if !ok || !now.Before(w.ends) {
		if !now.Before(l.nextSweep) {
			for k, old := range l.windows {
				if !now.Before(old.ends) {
					delete(l.windows, k)
				}
			}
			l.nextSweep = now.Add(time.Second)
		}
		w = &window{ends: now.Add(size)}
		l.windows[key] = w
	}
	w.count++
	return w.count, w.ends.Sub(now)
}

// MiddlewareOptions configure RateLimit.
type MiddlewareOptions struct {
	// Name keeps this middleware's counters apart from other middlewares'
	// (a strict limit on /login and a loose one on /api count separately).
	// Default: the limit, e.g. "100/1m0s", so middlewares with the same
	// limit share counters; give each its own Name when they must not.
	Name string
	// Key returns the bucket of a request. Default: the client IP.
	Key func(*http.Request) string
	// TrustedProxyHeader, e.g. "X-Forwarded-For", is read for the client IP
	// only when set: behind the ALB, its last address is the one the ALB saw.
	// Never set it when clients can reach the service directly. Default: none
	// (the connection's remote address).
	TrustedProxyHeader string
	// OnError is called when the limiter fails (the request is let through).
	// Default: ignore.
	OnError func(*http.Request, error)
}

// RateLimit returns middleware that allows limit per key and answers 429
// Too Many Requests with Retry-After beyond it. Every response carries
// X-RateLimit-Limit, X-RateLimit-Remaining and X-RateLimit-Reset (seconds).
func RateLimit(c *Cache, limit Limit, opts MiddlewareOptions) func(http.Handler) http.Handler {
	key := opts.Key
	if key == nil {
		key = func(r *http.Request) string { return ClientIP(r, opts.TrustedProxyHeader) }
	}
	name := opts.Name
	if name == "" {
		name = strconv.Itoa(limit.Rate) + "/" + limit.Period.String()
	}
	namespace := "http:" + name + ":"
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			res, err := c.Allow(r.Context(), namespace+key(r), limit)
			if err != nil {
				if opts.OnError != nil {
					opts.OnError(r, err)
				}
				next.ServeHTTP(w, r) // fail open: the limiter is not worth an outage
				return
			}
			reset := strconv.Itoa(int((res.ResetAfter + time.Second - 1) / time.Second))
			h := w.Header()
			h.Set("X-RateLimit-Limit", strconv.Itoa(limit.Rate))
			h.Set("X-RateLimit-Remaining", strconv.Itoa(res.Remaining))
			h.Set("X-RateLimit-Reset", reset)
			if !res.Allowed {
				h.Set("Retry-After", reset)
				http.Error(w, "rate limit exceeded: "+limit.String(), http.StatusTooManyRequests)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// ClientIP is the request's client address: the last entry of the trusted
// proxy header when one is configured and present, else the remote address.
func ClientIP(r *http.Request, trustedProxyHeader string) string {
	if trustedProxyHeader != "" {
		if v := r.Header.Get(trustedProxyHeader); v != "" {
			parts := strings.Split(v, ",")
			if ip := strings.TrimSpace(parts[len(parts)-1]); net.ParseIP(ip) != nil {
				return ip
			}
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
