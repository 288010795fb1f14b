package cache

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/singleflight"
)

// ErrCacheMiss is returned by Get when the key is not cached.
var ErrCacheMiss = errors.New("cache: miss")

// ErrInvalidTTL is returned by Set (and the typed caches, Cached) for a
// negative ttl; 0 means Options.DefaultTTL.
var ErrInvalidTTL = errors.New("cache: ttl must not be negative (0 means the default TTL)")

// ErrRejected is what errors.Is matches when Redis answered a call with an
// error about that command, key or value: a key holding another type
// (WRONGTYPE), a value that is not an integer, a write refused for memory
// (OOM), a value too large, a script error. The call returns it (Redis's
// own error is wrapped too); the other calls keep going to Redis.
var ErrRejected = errors.New("cache: rejected by Redis")

// ErrUnavailable is what Err reports while calls are served from memory
// because Redis is unreachable or too slow.
var ErrUnavailable = errors.New("cache: Redis unavailable")

// ErrAuth is what Err reports while calls are served from memory because
// Redis refuses the credentials (NOAUTH, WRONGPASS).
var ErrAuth = errors.New("cache: Redis authentication failed")

// Client is the part of a go-redis client the cache uses, so a
// *redis.Client, a *redis.ClusterClient or a test double all fit.
type Client interface {
	redis.Scripter
	Get(ctx context.Context, key string) *redis.StringCmd
	Set(ctx context.Context, key string, value any, expiration time.Duration) *redis.StatusCmd
	Del(ctx context.Context, keys ...string) *redis.IntCmd
	Ping(ctx context.Context) *redis.StatusCmd
	Pipelined(ctx context.Context, fn func(redis.Pipeliner) error) ([]redis.Cmder, error)
}

var (
	_ Client = (*redis.Client)(nil)
	_ Client = (*redis.ClusterClient)(nil)
)

// Cache is a Redis cache with an in-memory fallback. It is safe for
// concurrent use; create one per process and Close it on shutdown.
type Cache struct {
	opts   Options
	client Client // nil: memory only
	owned  bool   // client was created by New and is closed by Close
	local  *lru
	limits *localLimiter
	flight singleflight.Group
	// metrics is nil unless Options.Metrics is set; its fallback state is
	// guarded by mu.
	metrics    *metrics
	metricsErr error

	down     atomic.Bool           // circuit open: Redis is skipped
	reason   atomic.Pointer[error] // why it is open (ErrUnavailable or ErrAuth, with the cause)
	authSaid atomic.Bool           // "authentication failed" was logged in this outage
	checking atomic.Bool           // a health check after a caller's timeout is running

	// mu guards dirty and closing the circuit. dirty holds the keys set or
	// deleted in memory only while the circuit was open; the probe deletes
	// them from Redis before calls return there, so Redis never serves a
	// value older than one written (or a key deleted) during the outage.
	mu        sync.Mutex
	dirty     map[string]struct{}
	untracked int // changes past maxDirty, reported on recovery
	maxDirty  int

	// life ends at Close: the probe and health checks run under it, so
	// Close does not wait for a dial or a ping to a stalled Redis.
	life      context.Context
	endLife   context.CancelFunc
	probeOnce sync.Mutex
	stop      chan struct{}
	closed    sync.Once
	probes    sync.WaitGroup
}

// New connects to the Redis of opts.Addr (memory only when it is empty).
// It does not fail when Redis is down: the cache starts on its fallback and
// the probe moves it to Redis when Redis answers.
func New(opts Options) *Cache {
	opts.init()
	var client Client
	if opts.Addr != "" {
		client = redis.NewClient(&redis.Options{
			Addr: opts.Addr, Username: opts.Username, Password: opts.Password, DB: opts.DB,
			TLSConfig: opts.TLSConfig, PoolSize: opts.PoolSize,
			DialTimeout: opts.DialTimeout, ReadTimeout: opts.ReadTimeout, WriteTimeout: opts.WriteTimeout,
			// A caller's deadline bounds its own call: go-redis passes the
			// context to the connection's deadlines only with this on
			// (redis.go, baseClient.context); off, a caller waits ReadTimeout.
			ContextTimeoutEnabled: true,
			// The circuit breaker handles failures; retries would multiply
			// timeouts: the call that meets an unreachable Redis would wait
			// 5 dials (go-redis's default DialerRetries) instead of one.
			MaxRetries: -1, DialerRetries: 1,
		})
	}
	c := newCache(client, opts)
	c.owned = client != nil
	return c
}

// NewWithClient uses an existing client (a cluster client, say); Close
// leaves it open. Turn on the client's ContextTimeoutEnabled, or callers'
// deadlines wait for its ReadTimeout.
func NewWithClient(client Client, opts Options) *Cache {
	opts.init()
	return newCache(client, opts)
}

func newCache(client Client, opts Options) *Cache {
	life, end := context.WithCancel(context.Background())
	c := &Cache{
		opts: opts, client: client, local: newLRU(opts.LocalSize, opts.LocalMaxBytes),
		limits: newLocalLimiter(), stop: make(chan struct{}), life: life, endLife: end,
		dirty: map[string]struct{}{}, maxDirty: 10 * opts.LocalSize,
	}
	if opts.Metrics != nil {
		c.metrics, c.metricsErr = newMetrics(opts.Metrics)
		if c.metricsErr != nil {
			// New never fails (an outage is the fallback's job, and so is
			// a dashboard gap): say it loudly, serve without metrics.
			opts.Logger.Error("cache: Prometheus metrics not registered; serving without them", "error", c.metricsErr)
		}
	}
	return c
}

// MetricsErr reports why Options.Metrics registered nothing (an error
// matching ErrMetrics), or nil.
func (c *Cache) MetricsErr() error { return c.metricsErr }

// Close stops the background probe and closes a client New created. Calls
// after Close are served from memory.
func (c *Cache) Close() error {
	var err error
	c.closed.Do(func() {
		// Under probeOnce, so a probe starting concurrently either sees
		// stop closed or is counted before Wait.
		c.probeOnce.Lock()
		close(c.stop)
		c.probeOnce.Unlock()
		c.endLife() // aborts a probe's dial
		if c.metrics != nil {
			// A closed cache no longer counts as one in fallback.
			c.mu.Lock()
			c.metrics.fallbackEnded(false)
			c.mu.Unlock()
		}
		// Closing the pool closes connections in use too (go-redis
		// internal/pool ConnPool.Close), which ends a probe's read from a
		// stalled Redis at once instead of after its timeout.
		if closer, ok := c.client.(interface{ Close() error }); ok && c.owned {
			err = closer.Close()
		}
		c.probes.Wait()
	})
	return err
}

// UsingRedis reports whether calls currently go to Redis (false when there
// is no Redis or the circuit is open).
func (c *Cache) UsingRedis() bool { return c.client != nil && !c.down.Load() }

// Err reports why calls are served from memory: nil while they go to
// Redis (or there is no Redis), else an error matching ErrUnavailable or
// ErrAuth, with Redis's last error. For a health endpoint.
func (c *Cache) Err() error {
	if !c.down.Load() {
		return nil
	}
	if p := c.reason.Load(); p != nil {
		return *p
	}
	return ErrUnavailable
}

func (c *Cache) key(k string) string { return c.opts.Prefix + k }

func (c *Cache) ttl(ttl time.Duration) time.Duration {
	if ttl == 0 {
		return c.opts.DefaultTTL
	}
	return ttl
}

// Get decodes the JSON value of key into dst. It returns ErrCacheMiss when
// the key is not cached; an outage never reaches the caller (the value
// comes from memory), Redis's answer about this key (ErrRejected) and the
// caller's own cancelled or expired context do.
func (c *Cache) Get(ctx context.Context, key string, dst any) error {
	return c.get(ctx, key, dst, c.metrics)
}

// get is Get, counting its hit or miss in m (nil: not counted, for a
// lookup that repeats one already counted).
func (c *Cache) get(ctx context.Context, key string, dst any, m *metrics) error {
	raw, err := c.getRaw(ctx, c.key(key), m)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(raw, dst); err != nil {
		return fmt.Errorf("cache: decode %q: %w", key, err)
	}
	return nil
}

func (c *Cache) getRaw(ctx context.Context, key string, m *metrics) ([]byte, error) {
	if c.UsingRedis() {
		since := c.local.version()
		start := c.metrics.begin()
		raw, err := c.client.Get(ctx, key).Bytes()
		c.metrics.observe(opGet, start)
		switch {
		case err == nil:
			// Keep the fallback's copy (if any) as fresh as Redis, and drop
			// it on a miss, so an outage does not serve a value another
			// replica has since replaced or deleted; unless this process
			// changed the key meanwhile (its copy is then the newer).
			c.local.refresh(key, raw, since)
			m.lookup(true, true)
			return raw, nil
		case errors.Is(err, redis.Nil):
			c.local.forget(key, since)
			m.lookup(false, true)
			return nil, ErrCacheMiss
		case !c.failed(ctx, err):
			return nil, c.callError(ctx, "get", key, err)
		}
	}
	raw, ok := c.local.get(key)
	m.lookup(ok, false)
	if ok {
		return raw, nil
	}
	return nil, ErrCacheMiss
}

// Set stores value as JSON under key for ttl (DefaultTTL when ttl is 0,
// ErrInvalidTTL when it is negative). The value is also kept in memory, so
// it is still served during an outage. A Set that returns an error leaves
// no copy in memory (and, when Redis refused the value, deletes the key
// from Redis too), so no read serves what was there before it.
func (c *Cache) Set(ctx context.Context, key string, value any, ttl time.Duration) error {
	if ttl < 0 {
		return fmt.Errorf("cache: set %q: %w", key, ErrInvalidTTL)
	}
	raw, err := json.Marshal(value)
	if err != nil {
		return fmt.Errorf("cache: encode %q: %w", key, err)
	}
	k, ttl := c.key(key), c.ttl(ttl)
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("cache: set %q: %w", k, err)
	}
	err = c.write(ctx, "set", k, func(ctx context.Context) error {
		start := c.metrics.begin()
		err := c.client.Set(ctx, k, raw, ttl).Err()
		c.metrics.observe(opSet, start)
		return err
	})
	if err != nil {
		c.local.delete(k)
		if errors.Is(err, ErrRejected) {
			// Under OOM Redis still has the old value; DEL is allowed then
			// (it is not a denyoom command), so drop it rather than leave it.
			_ = c.client.Del(context.WithoutCancel(ctx), k).Err()
		}
		return err
	}
	// After the write: a read that started before it cannot refresh the
	// copy back to Redis's older value (see lru).
	c.local.set(k, raw, ttl)
	return nil
}

// Delete removes key.
func (c *Cache) Delete(ctx context.Context, key string) error {
	k := c.key(key)
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("cache: delete %q: %w", k, err)
	}
	err := c.write(ctx, "delete", k, func(ctx context.Context) error {
		start := c.metrics.begin()
		err := c.client.Del(ctx, k).Err()
		c.metrics.observe(opDelete, start)
		return err
	})
	c.local.delete(k)
	return err
}

// write applies a change of key to Redis with op, or, while the circuit is
// open, records key as changed in memory only.
func (c *Cache) write(ctx context.Context, name, key string, op func(context.Context) error) error {
	if c.client == nil {
		return nil
	}
	for {
		if c.UsingRedis() {
			err := op(ctx)
			if err == nil {
				return nil
			}
			if !c.failed(ctx, err) {
				return c.callError(ctx, name, key, err)
			}
		}
		if c.changedWhileDown(key) {
			return nil
		}
		// The circuit closed between the check and the record: use Redis.
	}
}

// changedWhileDown records key for deletion from Redis on recovery. It
// reports false when the circuit is closed (the change must go to Redis).
func (c *Cache) changedWhileDown(key string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.down.Load() {
		return false
	}
	if _, ok := c.dirty[key]; !ok {
		if len(c.dirty) < c.maxDirty {
			c.dirty[key] = struct{}{}
		} else {
			c.untracked++
		}
	}
	return true
}

// failure is what a Redis error means for the circuit.
type failure int

const (
	outage     failure = iota // unreachable, too slow, or unable to serve anyone
	authFailed                // the credentials are refused: an outage that needs a person
	answer                    // Redis's answer about this command, key or value
	callerDone                // the caller's context was cancelled or its deadline passed
)

// classify reads err from a call made with ctx.
func classify(ctx context.Context, err error) failure {
	// A reply from Redis (redis.Error: proto.RedisError and go-redis's typed
	// replies, error.go) is an answer unless it says the server cannot
	// serve: the errors go-redis itself retries as transient server states
	// (shouldRetry in error.go: LOADING, READONLY, MASTERDOWN, CLUSTERDOWN,
	// max clients), a script running too long (BUSY) or a failed RDB save
	// refusing writes (MISCONF).
	var reply redis.Error
	if errors.As(err, &reply) {
		switch {
		case redis.IsAuthError(err): // NOAUTH, WRONGPASS (error.go, IsAuthError)
			return authFailed
		case redis.IsLoadingError(err), redis.IsReadOnlyError(err), redis.IsMasterDownError(err),
			redis.IsClusterDownError(err), redis.IsMaxClientsError(err),
			redis.HasErrorPrefix(err, "BUSY "), redis.HasErrorPrefix(err, "MISCONF "):
			return outage
		}
		return answer
	}
	// With ContextTimeoutEnabled a caller's deadline surfaces as a network
	// timeout, not context.DeadlineExceeded: whether it had passed tells
	// the caller's deadline from Redis's own slowness (ReadTimeout).
	if ctx.Err() != nil {
		return callerDone
	}
	if d, ok := ctx.Deadline(); ok && !time.Now().Before(d) {
		return callerDone
	}
	return outage
}

// failed records a Redis failure and reports whether the call should fall
// back to memory (true), or return err (false): Redis answered about this
// call, or the caller gave up.
func (c *Cache) failed(ctx context.Context, err error) bool {
	switch classify(ctx, err) {
	case answer:
		return false
	case callerDone:
		// The caller's deadline may hide a stalled Redis: check it on
		// Redis's own timeouts, in the background, once at a time.
		c.checkHealth()
		return false
	case authFailed:
		c.open(err, true)
	default:
		c.open(err, false)
	}
	return true
}

// callError is the error a call returns when failed said false.
func (c *Cache) callError(ctx context.Context, op, key string, err error) error {
	if classify(ctx, err) == callerDone {
		cause := ctx.Err()
		if cause == nil {
			cause = context.DeadlineExceeded
		}
		if errors.Is(err, cause) {
			return fmt.Errorf("cache: %s %q: %w", op, key, err)
		}
		return fmt.Errorf("cache: %s %q: %w (%w)", op, key, cause, err)
	}
	return fmt.Errorf("cache: %s %q: %w: %w", op, key, ErrRejected, err)
}

// open opens the circuit (once per outage) and starts the probe.
func (c *Cache) open(err error, auth bool) {
	reason := fmt.Errorf("%w: %w", ErrUnavailable, err)
	if auth {
		reason = fmt.Errorf("%w: %w", ErrAuth, err)
	}
	if !c.down.CompareAndSwap(false, true) {
		return
	}
	c.reason.Store(&reason)
	select {
	case <-c.stop:
		return // closing: the pool's "client is closed" is no outage to report
	default:
	}
	if c.metrics != nil {
		c.mu.Lock()
		c.metrics.fallbackBegan(auth)
		c.mu.Unlock()
	}
	if auth {
		c.sayAuthFailed(err)
	} else {
		c.opts.Logger.Warn("cache: Redis unreachable, serving from memory until it answers again",
			"addr", c.opts.Addr, "error", err, "probe_interval", c.opts.ProbeInterval)
	}
	c.startProbe()
}

// sayAuthFailed logs a refused password once per outage, as an error: it
// does not heal by waiting, a person has to fix the token.
func (c *Cache) sayAuthFailed(err error) {
	if c.authSaid.CompareAndSwap(false, true) {
		c.opts.Logger.Error("cache: Redis authentication failed: the password (AUTH token) or user in REDIS_URL is refused; serving from memory until it is accepted",
			"addr", c.opts.Addr, "error", err, "probe_interval", c.opts.ProbeInterval)
	}
}

// checkHealth pings Redis with the cache's own timeouts after a caller's
// deadline ended a call: when Redis is the slow one, the circuit opens.
func (c *Cache) checkHealth() {
	if !c.checking.CompareAndSwap(false, true) {
		return
	}
	c.probeOnce.Lock()
	defer c.probeOnce.Unlock()
	select {
	case <-c.stop:
		c.checking.Store(false)
		return
	default:
	}
	c.probes.Add(1)
	go func() {
		defer c.probes.Done()
		defer c.checking.Store(false)
		ctx, cancel := context.WithTimeout(c.life, c.opts.DialTimeout+c.opts.ReadTimeout)
		defer cancel()
		start := c.metrics.begin()
		err := c.client.Ping(ctx).Err()
		c.metrics.observe(opPing, start)
		if err != nil && c.life.Err() == nil {
			c.failed(context.Background(), err)
		}
	}()
}

// startProbe pings Redis every ProbeInterval until it answers and the keys
// changed during the outage are deleted from it, then closes the circuit.
func (c *Cache) startProbe() {
	c.probeOnce.Lock()
	defer c.probeOnce.Unlock()
	select {
	case <-c.stop:
		return
	default:
	}
	c.probes.Add(1)
	go func() {
		defer c.probes.Done()
		tick := time.NewTicker(c.opts.ProbeInterval)
		defer tick.Stop()
		for {
			select {
			case <-c.stop:
				return
			case <-tick.C:
				if c.recover() {
					return
				}
			}
		}
	}()
}

// recover pings Redis, deletes the keys changed in memory during the outage
// from it, and closes the circuit. It reports false (try again at the next
// probe) when Redis fails on the way.
func (c *Cache) recover() bool {
	timeout := c.opts.DialTimeout + c.opts.ReadTimeout
	ctx, cancel := context.WithTimeout(c.life, timeout)
	start := c.metrics.begin()
	err := c.client.Ping(ctx).Err()
	c.metrics.observe(opPing, start)
	cancel()
	if err != nil {
		if classify(context.Background(), err) == authFailed {
			c.sayAuthFailed(err) // Redis came back with another password
		}
		return false
	}
	invalidated := 0
	for {
		c.mu.Lock()
		if len(c.dirty) == 0 {
			untracked := c.untracked
			c.untracked = 0
			c.down.Store(false)
			c.authSaid.Store(false)
			c.metrics.fallbackEnded(true)
			c.mu.Unlock()
			if untracked > 0 {
				c.opts.Logger.Warn("cache: Redis reachable again, back from memory; some keys changed during the outage were not tracked and may be stale in Redis until their TTL",
					"addr", c.opts.Addr, "invalidated", invalidated, "untracked", untracked)
			} else {
				c.opts.Logger.Warn("cache: Redis reachable again, back from memory",
					"addr", c.opts.Addr, "invalidated", invalidated)
			}
			return true
		}
		batch := make([]string, 0, 100)
		for k := range c.dirty {
			if len(batch) == cap(batch) {
				break
			}
			batch = append(batch, k)
		}
		c.mu.Unlock()
		// One DEL per key in a pipeline: a cluster client splits it by slot.
		ctx, cancel := context.WithTimeout(c.life, timeout)
		_, err := c.client.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, k := range batch {
				p.Del(ctx, k)
			}
			return nil
		})
		cancel()
		if err != nil {
			return false
		}
		// A key changed again meanwhile is still absent from Redis: done.
		c.mu.Lock()
		for _, k := range batch {
			delete(c.dirty, k)
		}
		c.mu.Unlock()
		invalidated += len(batch)
	}
}
