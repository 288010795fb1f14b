package cache

import (
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// The metric names Options.Metrics registers, for dashboards and alerts
// that must not drift from what the library exports (cache/README.md
// documents each one).
const (
	MetricHits                = "cache_hits_total"
	MetricMisses              = "cache_misses_total"
	MetricFallbackActive      = "cache_fallback_active"
	MetricFallbackTransitions = "cache_fallback_transitions_total"
	MetricBreakerOpen         = "cache_breaker_open"
	MetricRedisCallDuration   = "cache_redis_call_duration_seconds"
	MetricRateLimitRequests   = "cache_ratelimit_requests_total"
)

// ErrMetrics is what MetricsErr matches when Options.Metrics could not
// register a collector: another collector of a different shape already
// holds one of the names. The cache then runs without metrics.
var ErrMetrics = errors.New("cache: metrics not registered")

// Label values, fixed so queries can rely on them.
const (
	backendRedis  = "redis"
	backendMemory = "memory"

	reasonUnavailable = "unavailable"
	reasonAuth        = "auth"

	resultAllowed     = "allowed"
	resultLimited     = "limited"
	resultUnavailable = "unavailable"
)

// Redis calls whose latency is observed; the index into metrics.calls.
type redisOp int

const (
	opGet redisOp = iota
	opSet
	opDelete
	opRateLimit
	opPing
	numOps
)

var opNames = [numOps]string{"get", "set", "delete", "ratelimit", "ping"}

// redisCallBuckets span a loopback round trip (~50 µs) to the default
// ReadTimeout (500 ms) and a dial timeout (2 s), where a call gives up.
var redisCallBuckets = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5}

// metrics are the cache's collectors, with every label value resolved
// once, so a call costs no label lookup. A nil *metrics is "metrics off":
// every method returns at once, and begin reads no clock.
type metrics struct {
	hits, misses      [2]prometheus.Counter // backendIndex
	fallbackActive    prometheus.Gauge
	toMemory, toRedis prometheus.Counter
	breakerOpen       [2]prometheus.Gauge // 0 unavailable, 1 auth
	calls             [numOps]prometheus.Observer
	rateLimit         *prometheus.CounterVec
	fallbackStarted   bool // guarded by Cache.mu: this cache's outage is counted in the gauges
	fallbackAuth      bool // the counted outage's reason
	fallbackRetired   bool // Close ran: the gauges no longer count this cache
}

func backendIndex(redis bool) int {
	if redis {
		return 0
	}
	return 1
}

// newMetrics registers the collectors with reg. Caches sharing a registry
// share the collectors (an AlreadyRegisteredError hands back the existing
// one): counters add up, and the gauges count the caches in fallback.
func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	var errs []error
	register := func(c prometheus.Collector) prometheus.Collector {
		err := reg.Register(c)
		if are, ok := errors.AsType[prometheus.AlreadyRegisteredError](err); ok {
			return are.ExistingCollector
		}
		if err != nil {
			errs = append(errs, err)
		}
		return c
	}
	hits := register(prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: MetricHits, Help: "Get calls that found the key, by the backend that served them (redis, or memory: no Redis or an outage).",
	}, []string{"backend"}))
	misses := register(prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: MetricMisses, Help: "Get calls that did not find the key (ErrCacheMiss), by the backend that answered.",
	}, []string{"backend"}))
	active := register(prometheus.NewGauge(prometheus.GaugeOpts{
		Name: MetricFallbackActive, Help: "Caches serving every call from memory because Redis is unreachable, too slow or refuses the password (1 per cache in fallback).",
	}))
	transitions := register(prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: MetricFallbackTransitions, Help: "Switches between Redis and the in-memory fallback, by the side switched to (memory: an outage began; redis: it ended).",
	}, []string{"to"}))
	breaker := register(prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: MetricBreakerOpen, Help: "Caches whose circuit breaker is open, by reason (unavailable: unreachable or too slow; auth: the password is refused, which needs a person).",
	}, []string{"reason"}))
	calls := register(prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: MetricRedisCallDuration, Help: "Latency of calls to Redis, failed ones included, by operation.", Buckets: redisCallBuckets,
	}, []string{"op"}))
	limits := register(prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: MetricRateLimitRequests, Help: "Requests seen by the RateLimit middleware, by limiter name and result (allowed, limited: 429, unavailable: 503).",
	}, []string{"limiter", "result"}))
	if len(errs) > 0 {
		return nil, fmt.Errorf("%w: %w", ErrMetrics, errors.Join(errs...))
	}
	m := &metrics{rateLimit: limits.(*prometheus.CounterVec)}
	for i, b := range []string{backendRedis, backendMemory} {
		m.hits[i] = hits.(*prometheus.CounterVec).WithLabelValues(b)
		m.misses[i] = misses.(*prometheus.CounterVec).WithLabelValues(b)
	}
	m.fallbackActive = active.(prometheus.Gauge)
	m.toMemory = transitions.(*prometheus.CounterVec).WithLabelValues(backendMemory)
	m.toRedis = transitions.(*prometheus.CounterVec).WithLabelValues(backendRedis)
	for i, r := range []string{reasonUnavailable, reasonAuth} {
		m.breakerOpen[i] = breaker.(*prometheus.GaugeVec).WithLabelValues(r)
	}
	for op := range numOps {
		m.calls[op] = calls.(*prometheus.HistogramVec).WithLabelValues(opNames[op])
	}
	return m, nil
}

// begin starts timing a Redis call; the zero time when metrics are off.
func (m *metrics) begin() time.Time {
	if m == nil {
		return time.Time{}
	}
	return time.Now()
}

// observe records a Redis call begun at start.
func (m *metrics) observe(op redisOp, start time.Time) {
	if m == nil {
		return
	}
	m.calls[op].Observe(time.Since(start).Seconds())
}

// lookup counts a Get's hit or miss on the backend that answered.
func (m *metrics) lookup(hit, redis bool) {
	if m == nil {
		return
	}
	if hit {
		m.hits[backendIndex(redis)].Inc()
	} else {
		m.misses[backendIndex(redis)].Inc()
	}
}

func (m *metrics) breakerIndex() int {
	if m.fallbackAuth {
		return 1
	}
	return 0
}

// fallbackBegan counts an outage of this cache. Called under Cache.mu.
func (m *metrics) fallbackBegan(auth bool) {
	if m == nil || m.fallbackStarted || m.fallbackRetired {
		return
	}
	m.fallbackStarted, m.fallbackAuth = true, auth
	m.fallbackActive.Inc()
	m.breakerOpen[m.breakerIndex()].Inc()
	m.toMemory.Inc()
}

// fallbackEnded counts the end of the outage: back on Redis (recovered)
// or the cache closed (not a transition). Called under Cache.mu.
func (m *metrics) fallbackEnded(recovered bool) {
	if m == nil {
		return
	}
	if !recovered {
		m.fallbackRetired = true
	}
	if !m.fallbackStarted {
		return
	}
	m.fallbackStarted = false
	m.fallbackActive.Dec()
	m.breakerOpen[m.breakerIndex()].Dec()
	if recovered {
		m.toRedis.Inc()
	}
}

// limiterMetrics are one RateLimit middleware's counters; nil when
// metrics are off.
type limiterMetrics struct {
	allowed, limited, unavailable prometheus.Counter
}

func (m *metrics) limiter(name string) *limiterMetrics {
	if m == nil {
		return nil
	}
	return &limiterMetrics{
		allowed:     m.rateLimit.WithLabelValues(name, resultAllowed),
		limited:     m.rateLimit.WithLabelValues(name, resultLimited),
		unavailable: m.rateLimit.WithLabelValues(name, resultUnavailable),
	}
}

// counted records a request the limiter let through or refused (429).
func (l *limiterMetrics) counted(allowed bool) {
	switch {
	case l == nil:
	case allowed:
		l.allowed.Inc()
	default:
		l.limited.Inc()
	}
}

// refused records a request answered 503: its client went away, or Redis
// could not count it under FailClosed.
func (l *limiterMetrics) refused() {
	if l != nil {
		l.unavailable.Inc()
	}
}

// passed records a request let through uncounted (FailOpen).
func (l *limiterMetrics) passed() {
	if l != nil {
		l.allowed.Inc()
	}
}
