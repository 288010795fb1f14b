package cache

import (
	"container/list"
	"sync"
	"time"
)

// lru is the in-memory fallback: a size-bounded LRU whose entries expire.
type lru struct {
	mu    sync.Mutex
	size  int
	order *list.List // front = most recent
	items map[string]*list.Element
	now   func() time.Time
}

type lruEntry struct {
	key     string
	value   []byte
	expires time.Time
}

func newLRU(size int) *lru {
	return &lru{size: size, order: list.New(), items: make(map[string]*list.Element, size), now: time.Now}
}

func (l *lru) get(key string) ([]byte, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	el, ok := l.items[key]
	if !ok {
		return nil, false
	}
	e := el.Value.(*lruEntry)
	if !l.now().Before(e.expires) {
		l.order.Remove(el)
		delete(l.items, key)
		return nil, false
	}
	l.order.MoveToFront(el)
	return e.value, true
}

func (l *lru) set(key string, value []byte, ttl time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	expires := l.now().Add(ttl)
	if el, ok := l.items[key]; ok {
		e := el.Value.(*lruEntry)
		e.value, e.expires = value, expires
		l.order.MoveToFront(el)
		return
	}
	l.items[key] = l.order.PushFront(&lruEntry{key: key, value: value, expires: expires})
	for l.order.Len() > l.size {
		oldest := l.order.Back()
		l.order.Remove(oldest)
		delete(l.items, oldest.Value.(*lruEntry).key)
	}
}

// refresh replaces the value of key when it is held (keeping its expiry);
// it never adds a key.
func (l *lru) refresh(key string, value []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if el, ok := l.items[key]; ok {
		el.Value.(*lruEntry).value = value
	}
}

func (l *lru) delete(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if el, ok := l.items[key]; ok {
		l.order.Remove(el)
		delete(l.items, key)
	}
}
