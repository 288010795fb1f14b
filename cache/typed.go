package cache

import (
	"context"
	"fmt"
	"runtime/debug"
	"time"
)

// The seed's TTLs.
const (
	SessionTTL = time.Hour
	UserTTL    = 30 * time.Minute
	GenericTTL = 5 * time.Minute
)

// Typed is a cache of one value type under one key prefix and TTL.
type Typed[T any] struct {
	cache  *Cache
	prefix string
	ttl    time.Duration
}

// NewTyped returns a typed view of c: keys get prefix, values live for ttl.
func NewTyped[T any](c *Cache, prefix string, ttl time.Duration) Typed[T] {
	return Typed[T]{cache: c, prefix: prefix, ttl: ttl}
}

// Sessions caches session data for an hour under "session:".
func Sessions[T any](c *Cache) Typed[T] { return NewTyped[T](c, "session:", SessionTTL) }

// Users caches user data for 30 minutes under "user:".
func Users[T any](c *Cache) Typed[T] { return NewTyped[T](c, "user:", UserTTL) }

// Generic caches values for 5 minutes under "generic:".
func Generic[T any](c *Cache) Typed[T] { return NewTyped[T](c, "generic:", GenericTTL) }

// Get returns the value of id, or ErrCacheMiss.
func (t Typed[T]) Get(ctx context.Context, id string) (T, error) {
	var v T
	err := t.cache.Get(ctx, t.prefix+id, &v)
	return v, err
}

// Set stores the value of id for the view's TTL.
func (t Typed[T]) Set(ctx context.Context, id string, v T) error {
	return t.cache.Set(ctx, t.prefix+id, v, t.ttl)
}

// Delete removes id.
func (t Typed[T]) Delete(ctx context.Context, id string) error {
	return t.cache.Delete(ctx, t.prefix+id)
}

// Cached returns the cached value of key, or calls load, caches its result
// for ttl and returns it: the seed's cache_response decorator. Concurrent
// misses for one key share a single load. Errors from load are returned and
// not cached. A cached value that no longer decodes into T (its type changed
// in a deploy) counts as a miss and is replaced.
//
// Each caller waits for the shared load only as long as its own ctx lives;
// the load itself runs with ctx's values but without its cancellation, so
// one caller giving up does not fail the others. load should therefore
// bound its own work (a query timeout, say).
func Cached[T any](ctx context.Context, c *Cache, key string, ttl time.Duration, load func(context.Context) (T, error)) (T, error) {
	var v T
	err := c.Get(ctx, key, &v)
	if err == nil {
		return v, nil
	}
	if ctx.Err() != nil {
		return v, err
	}
	ch := c.flight.DoChan(key, func() (_ any, err error) {
		// DoChan would re-panic in its own goroutine, where no recover (such
		// as net/http's) can catch it: hand the panic to the callers instead.
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("cache: Cached %q: load panicked: %v\n%s", key, r, debug.Stack())
			}
		}()
		lctx := context.WithoutCancel(ctx)
		// Another caller may have filled it while this one waited.
		var again T
		// Not counted: this caller's miss was, a moment ago.
		if err := c.get(lctx, key, &again, nil); err == nil {
			return again, nil
		}
		loaded, err := load(lctx)
		if err != nil {
			return loaded, err
		}
		return loaded, c.Set(lctx, key, loaded, ttl)
	})
	select {
	case <-ctx.Done():
		return v, ctx.Err()
	case res := <-ch:
		if res.Err != nil {
			return v, res.Err
		}
		loaded, ok := res.Val.(T)
		if !ok {
			return v, fmt.Errorf("cache: Cached %q: a concurrent call loads %T, not %T", key, res.Val, v)
		}
		return loaded, nil
	}
}
