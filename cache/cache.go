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

	down atomic.Bool // circuit open: Redis is skipped

	// mu guards dirty and closing the circuit. dirty holds the keys set or
	// deleted in memory only while the circuit was open; the probe deletes
	// them from Redis before calls return there, so Redis never serves a
	// value older than one written (or a key deleted) during the outage.
	mu        sync.Mutex
	dirty     map[string]struct{}
	untracked int // changes past maxDirty, reported on recovery
	maxDirty  int

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
// leaves it open.
func NewWithClient(client Client, opts Options) *Cache {
	opts.init()
	return newCache(client, opts)
}

func newCache(client Client, opts Options) *Cache {
	return &Cache{
		opts: opts, client: client, local: newLRU(opts.LocalSize),
		limits: newLocalLimiter(), stop: make(chan struct{}),
		dirty: map[string]struct{}{}, maxDirty: 10 * opts.LocalSize,
	}
}

// Close stops the background probe and closes a client New created.
func (c *Cache) Close() error {
	var err error
	c.closed.Do(func() {
		// Under probeOnce, so a probe starting concurrently either sees
		// stop closed or is counted before Wait.
		c.probeOnce.Lock()
		close(c.stop)
		c.probeOnce.Unlock()
		c.probes.Wait()
		if closer, ok := c.client.(interface{ Close() error }); ok && c.owned {
			err = closer.Close()
		}
	})
	return err
}

// UsingRedis reports whether calls currently go to Redis (false when there
// is no Redis or the circuit is open).
func (c *Cache) UsingRedis() bool { return c.client != nil && !c.down.Load() }

func (c *Cache) key(k string) string { return c.opts.Prefix + k }

func (c *Cache) ttl(ttl time.Duration) time.Duration {
	if ttl <= 0 {
		return c.opts.DefaultTTL
	}
	return ttl
}

// Get decodes the JSON value of key into dst. It returns ErrCacheMiss when
// the key is not cached; Redis failures never reach the caller.
func (c *Cache) Get(ctx context.Context, key string, dst any) error {
	raw, err := c.getRaw(ctx, c.key(key))
	if err != nil {
		return err
	}
	if err := json.Unmarshal(raw, dst); err != nil {
		return fmt.Errorf("cache: decode %q: %w", key, err)
	}
	return nil
}

func (c *Cache) getRaw(ctx context.Context, key string) ([]byte, error) {
	if c.UsingRedis() {
		raw, err := c.client.Get(ctx, key).Bytes()
		switch {
		case err == nil:
			// Keep the fallback's copy (if any) as fresh as Redis, and drop
			// it on a miss, so an outage does not serve a value another
			// replica has since replaced or deleted.
			c.local.refresh(key, raw)
			return raw, nil
		case errors.Is(err, redis.Nil):
			c.local.delete(key)
			return nil, ErrCacheMiss
		case !c.failed(ctx, err):
			return nil, fmt.Errorf("cache: get %q: %w", key, err) // the caller's context ended, or WRONGTYPE
		}
	}
	if raw, ok := c.local.get(key); ok {
		return raw, nil
	}
	return nil, ErrCacheMiss
}

// Set stores value as JSON under key for ttl (DefaultTTL when ttl is 0).
// The value is also kept in memory, so it is still served during an outage.
func (c *Cache) Set(ctx context.Context, key string, value any, ttl time.Duration) error {
	raw, err := json.Marshal(value)
	if err != nil {
		return fmt.Errorf("cache: encode %q: %w", key, err)
	}
	k, ttl := c.key(key), c.ttl(ttl)
	c.local.set(k, raw, ttl)
	return c.write(ctx, k, func(ctx context.Context) error { return c.client.Set(ctx, k, raw, ttl).Err() })
}

// Delete removes key.
func (c *Cache) Delete(ctx context.Context, key string) error {
	k := c.key(key)
	c.local.delete(k)
	return c.write(ctx, k, func(ctx context.Context) error { return c.client.Del(ctx, k).Err() })
}

// write applies a change of key to Redis with op, or, while the circuit is
// open, records key as changed in memory only.
func (c *Cache) write(ctx context.Context, key string, op func(context.Context) error) error {
	if c.client == nil {
		return nil
	}
	for {
		if c.UsingRedis() {
			err := op(ctx)
			if err == nil || !c.failed(ctx, err) {
				return err // nil, or the caller's context ended
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

// failed records a Redis failure and reports whether the call should fall
// back to memory (true), or return err (false): the caller gave up, or the
// key holds a value of another type (WRONGTYPE, written by something else
// under our prefix), an answer about one key rather than an outage.
func (c *Cache) failed(ctx context.Context, err error) bool {
	if ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
		return false
	}
	if redis.HasErrorPrefix(err, "WRONGTYPE") {
		return false
	}
	if c.down.CompareAndSwap(false, true) {
		c.opts.Logger.Warn("cache: Redis unreachable, serving from memory until it answers again",
			"addr", c.opts.Addr, "error", err, "probe_interval", c.opts.ProbeInterval)
		c.startProbe()
	}
	return true
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
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	err := c.client.Ping(ctx).Err()
	cancel()
	if err != nil {
		return false
	}
	invalidated := 0
	for {
		c.mu.Lock()
		if len(c.dirty) == 0 {
			untracked := c.untracked
			c.untracked = 0
			c.down.Store(false)
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
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
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
