package cache

import (
	"container/list"
	"sync"
	"sync/atomic"
	"time"
)

// lru is the in-memory fallback: an LRU bounded by item count and by bytes,
// whose entries expire.
//
// Every change (set, delete) takes the next version from a clock. A read
// from Redis notes the clock before it asks and may refresh the local copy
// only if no change of that key happened since: a Get racing a Set of the
// same key never writes the older Redis value over the newer copy.
type lru struct {
	mu       sync.Mutex
	size     int   // max items
	maxBytes int64 // max bytes of keys and values
	bytes    int64
	clock    atomic.Uint64 // advanced under mu, read without it
	order    *list.List
	items    map[string]*list.Element
	now      func() time.Time
}

type lruEntry struct {
	key     string
	value   []byte
	expires time.Time
	version uint64
}

func (e *lruEntry) cost() int64 { return int64(len(e.key) + len(e.value)) }

func newLRU(size int, maxBytes int64) *lru {
	return &lru{size: size, maxBytes: maxBytes, order: list.New(), items: make(map[string]*list.Element), now: time.Now}
}

// version is the clock now: pass it to refresh and forget after a read.
func (l *lru) version() uint64 { return l.clock.Load() }

func (l *lru) get(key string) ([]byte, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	el, ok := l.items[key]
	if !ok {
		return nil, false
	}
	e := el.Value.(*lruEntry)
	if !l.now().Before(e.expires) {
		l.remove(el)
		return nil, false
	}
	l.order.MoveToFront(el)
	return e.value, true
}

// set stores value under key as its newest version. A value larger than
// maxBytes is not held at all (an older copy of the key is dropped too, so
// it is never served in place of the new one).
func (l *lru) set(key string, value []byte, ttl time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	version := l.clock.Add(1)
	if el, ok := l.items[key]; ok {
		l.remove(el)
	}
	e := &lruEntry{key: key, value: value, expires: l.now().Add(ttl), version: version}
	if e.cost() > l.maxBytes {
		return
	}
	l.items[key] = l.order.PushFront(e)
	l.bytes += e.cost()
	for l.order.Len() > l.size || l.bytes > l.maxBytes {
		l.remove(l.order.Back())
	}
}

// refresh replaces the value of key with what Redis answered to a read that
// started at version since, when the key is held and has not changed since;
// it never adds a key.
func (l *lru) refresh(key string, value []byte, since uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	el, ok := l.items[key]
	if !ok {
		return
	}
	e := el.Value.(*lruEntry)
	if e.version > since {
		return
	}
	if grow := int64(len(value) - len(e.value)); l.bytes+grow > l.maxBytes {
		l.remove(el) // no room for the new value: a miss, never the old one
		return
	}
	l.bytes += int64(len(value) - len(e.value))
	e.value = value
}

// forget drops key after Redis said it is not there, unless it changed
// since the read started.
func (l *lru) forget(key string, since uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if el, ok := l.items[key]; ok && el.Value.(*lruEntry).version <= since {
		l.remove(el)
	}
}

// delete drops key as a change of its own (a Delete, or a Set that failed).
func (l *lru) delete(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.clock.Add(1)
	if el, ok := l.items[key]; ok {
		l.remove(el)
	}
}

func (l *lru) remove(el *list.Element) {
	e := el.Value.(*lruEntry)
	l.order.Remove(el)
	delete(l.items, e.key)
	l.bytes -= e.cost()
}
