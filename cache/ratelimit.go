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

// ErrInvalidWindow is returned by IncrRateLimit for a window shorter than
// a millisecond, the resolution of Redis's PEXPIRE.
var ErrInvalidWindow = errors.New("cache: rate limit window must be at least 1ms")

// ErrInvalidLimit is returned by Limit.Validate, Allow and RateLimit for a
// limit that would not limit: a Rate under 1, or a Period under 1ms (a
// Limit{Rate: 10} without a Period, say).
var ErrInvalidLimit = errors.New("cache: invalid rate limit")

// Validate reports a limit that cannot be enforced, as ErrInvalidLimit.
func (l Limit) Validate() error {
	var problems []string
	if l.Rate < 1 {
		problems = append(problems, fmt.Sprintf("rate %d must be at least 1", l.Rate))
	}
	if l.Period < time.Millisecond {
		problems = append(problems, fmt.Sprintf("period %s must be at least 1ms (PerSecond, PerMinute)", l.Period))
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w: %s", ErrInvalidLimit, strings.Join(problems, "; "))
	}
	return nil
}

// IncrRateLimit counts one hit on key in a fixed window and returns the
// count so far in this window and the time until the window resets. During
// a Redis outage the count is per process (see localLimiter). Redis's
// answer about the key (a value that is not a counter, OOM) is an error
// matching ErrRejected; so is the caller's ended context.
func (c *Cache) IncrRateLimit(ctx context.Context, key string, window time.Duration) (int64, time.Duration, error) {
	count, reset, _, err := c.incr(ctx, key, window)
	return count, reset, err
}

// incr is IncrRateLimit that also reports whether the count is this
// process's own because Redis is unavailable (local).
func (c *Cache) incr(ctx context.Context, key string, window time.Duration) (count int64, reset time.Duration, local bool, err error) {
	if window < time.Millisecond {
		return 0, 0, false, ErrInvalidWindow
	}
	k := c.key("ratelimit:" + key)
	if err := ctx.Err(); err != nil {
		return 0, 0, false, fmt.Errorf("cache: rate limit %q: %w", k, err)
	}
	if c.UsingRedis() {
		start := c.metrics.begin()
		res, err := fixedWindow.Run(ctx, c.client, []string{k}, window.Milliseconds()).Int64Slice()
		c.metrics.observe(opRateLimit, start)
		if err == nil && len(res) == 2 {
			return res[0], time.Duration(res[1]) * time.Millisecond, false, nil
		}
		if err == nil {
			err = fmt.Errorf("cache: rate limit script returned %v", res)
		}
		if !c.failed(ctx, err) {
			return 0, 0, false, c.callError(ctx, "rate limit", k, err)
		}
	}
	count, reset = c.limits.incr(k, window)
	return count, reset, c.client != nil, nil
}

// Result is the outcome of one Allow.
type Result struct {
	Limit     Limit
	Allowed   bool
	Remaining int
	// ResetAfter is the time until the window resets (Retry-After when denied).
	ResetAfter time.Duration
	// Local is true when Redis could not count (an outage) and this
	// process counted alone: with N replicas a client may get N times the
	// limit. Never true for a cache without Redis.
	Local bool
}

// Allow counts one request of key against limit. An invalid limit is
// ErrInvalidLimit; other errors are IncrRateLimit's.
func (c *Cache) Allow(ctx context.Context, key string, limit Limit) (Result, error) {
	if err := limit.Validate(); err != nil {
		return Result{}, err
	}
	count, reset, local, err := c.incr(ctx, key, limit.Period)
	if err != nil {
		return Result{}, err
	}
	return result(limit, count, reset, local), nil
}

// allowLocally counts key in this process only, for when Redis cannot.
func (c *Cache) allowLocally(key string, limit Limit) Result {
	count, reset := c.limits.incr(c.key("ratelimit:"+key), limit.Period)
	return result(limit, count, reset, true)
}

func result(limit Limit, count int64, reset time.Duration, local bool) Result {
	return Result{
		Limit: limit, Allowed: count <= int64(limit.Rate),
		Remaining: max(0, limit.Rate-int(count)), ResetAfter: reset, Local: local,
	}
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

// WhenRedisDown is what RateLimit does with a request Redis cannot count:
// Redis is down or too slow (the cache's circuit is open), or it refused
// the count (a value that is not a counter under the key, OOM).
type WhenRedisDown int

const (
	// CountLocally counts in this process's memory and enforces the limit
	// per process: with N replicas a client may get up to N times its
	// limit until Redis counts again. The default.
	CountLocally WhenRedisDown = iota
	// FailClosed answers 503 Service Unavailable (Retry-After: 1): nothing
	// passes that Redis has not counted. For limits that guard against
	// abuse (login, password reset) more than they shape load.
	FailClosed
	// FailOpen lets the request through uncounted: no limit while Redis
	// cannot count.
	FailOpen
)

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
	// WhenRedisDown decides what happens to requests Redis cannot count.
	// Default CountLocally.
	WhenRedisDown WhenRedisDown
	// OnError is called when Redis refuses to count a request (the request
	// is then handled as WhenRedisDown says). Default: ignore.
	OnError func(*http.Request, error)
}

// RateLimit returns middleware that allows limit per key and answers 429
// Too Many Requests with Retry-After beyond it. Every counted response
// carries X-RateLimit-Limit, X-RateLimit-Remaining and X-RateLimit-Reset
// (seconds). An invalid limit is ErrInvalidLimit.
//
// A request never passes uncounted because of something its client does: a
// request whose context has ended (the client went away, or half-closed
// its connection) is answered 503 without reaching next. Requests Redis
// cannot count follow opts.WhenRedisDown.
func RateLimit(c *Cache, limit Limit, opts MiddlewareOptions) (func(http.Handler) http.Handler, error) {
	if err := limit.Validate(); err != nil {
		return nil, err
	}
	switch opts.WhenRedisDown {
	case CountLocally, FailClosed, FailOpen:
	default:
		return nil, fmt.Errorf("cache: WhenRedisDown %d: want one of CountLocally, FailClosed, FailOpen", opts.WhenRedisDown)
	}
	key := opts.Key
	if key == nil {
		key = func(r *http.Request) string { return ClientIP(r, opts.TrustedProxyHeader) }
	}
	name := opts.Name
	if name == "" {
		name = strconv.Itoa(limit.Rate) + "/" + limit.Period.String()
	}
	namespace := "http:" + name + ":"
	counts := c.metrics.limiter(name)
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			bucket := namespace + key(r)
			res, err := c.Allow(r.Context(), bucket, limit)
			if err != nil {
				if r.Context().Err() != nil {
					counts.refused()
					http.Error(w, "request ended before the rate limit was checked", http.StatusServiceUnavailable)
					return
				}
				if opts.OnError != nil {
					opts.OnError(r, err)
				}
				res = c.allowLocally(bucket, limit)
			}
			if res.Local {
				switch opts.WhenRedisDown {
				case FailClosed:
					counts.refused()
					w.Header().Set("Retry-After", "1")
					http.Error(w, "rate limit unavailable", http.StatusServiceUnavailable)
					return
				case FailOpen:
					counts.passed()
					next.ServeHTTP(w, r)
					return
				}
			}
			reset := strconv.Itoa(int((res.ResetAfter + time.Second - 1) / time.Second))
			h := w.Header()
			h.Set("X-RateLimit-Limit", strconv.Itoa(limit.Rate))
			h.Set("X-RateLimit-Remaining", strconv.Itoa(res.Remaining))
			h.Set("X-RateLimit-Reset", reset)
			counts.counted(res.Allowed)
			if !res.Allowed {
				h.Set("Retry-After", reset)
				http.Error(w, "rate limit exceeded: "+limit.String(), http.StatusTooManyRequests)
				return
			}
			next.ServeHTTP(w, r)
		})
	}, nil
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
