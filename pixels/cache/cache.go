// Package cache is a bounded in-memory LRU with a byte budget, used by
// pixels/web for parsed instances, decoded frames and rendered images.
//
// Keys are content-addressed by the caller (instance SHA-256 + frame +
// rendering parameters), so an entry can never be stale: new content has a
// new key, and old entries simply age out. Do collapses concurrent loads of
// the same key into one (OHIF asks for every frame of a series at once, and
// the frames of one multi-frame instance share one parse).
//
// A Cache is safe for concurrent use.
package cache

import (
	"container/list"
	"sync"
	"sync/atomic"
)

type entry struct {
	key  string
	val  any
	size int64
}

type call struct {
	done    chan struct{}
	waiters int // callers sharing this load (observability, tests)
	val     any
	err     error
}

// Cache is an LRU bounded by the sum of entry sizes.
type Cache struct {
	mu       sync.Mutex
	max      int64
	used     int64
	ll       *list.List
	items    map[string]*list.Element
	inflight map[string]*call

	hits, misses, evictions atomic.Int64
}

// New returns a cache holding at most maxBytes (<= 0: caching disabled;
// Do still collapses concurrent loads).
func New(maxBytes int64) *Cache {
	return &Cache{max: maxBytes, ll: list.New(), items: map[string]*list.Element{}, inflight: map[string]*call{}}
}

// Get returns the value under key and marks it recently used.
func (c *Cache) Get(key string) (any, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[key]; ok {
		c.ll.MoveToFront(el)
		c.hits.Add(1)
		return el.Value.(*entry).val, true
	}
	c.misses.Add(1)
	return nil, false
}

// Contains reports whether key is cached, without counting a hit or miss
// or marking it used (a probe to choose a path, not a use).
func (c *Cache) Contains(key string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.items[key]
	return ok
}

// Add stores val under key with its size, evicting least recently used
// entries to stay within budget. A value larger than a quarter of the budget
// is not stored (it would flush everything else).
func (c *Cache) Add(key string, val any, size int64) {
	if size <= 0 {
		size = 1
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.max <= 0 || size > c.max/4 {
		return
	}
	if el, ok := c.items[key]; ok {
		e := el.Value.(*entry)
		c.used += size - e.size
		e.val, e.size = val, size
		c.ll.MoveToFront(el)
	} else {
		c.items[key] = c.ll.PushFront(&entry{key: key, val: val, size: size})
		c.used += size
	}
	for c.used > c.max {
		el := c.ll.Back()
		e := el.Value.(*entry)
		c.ll.Remove(el)
		delete(c.items, e.key)
		c.used -= e.size
		c.evictions.Add(1)
	}
}

// Do returns the cached value for key, or runs load once for all concurrent
// callers of the same key and caches its result (errors are not cached).
func (c *Cache) Do(key string, load func() (any, int64, error)) (any, error) {
	if v, ok := c.Get(key); ok {
		return v, nil
	}
	c.mu.Lock()
	if cl, ok := c.inflight[key]; ok {
		cl.waiters++
		c.mu.Unlock()
		<-cl.done
		return cl.val, cl.err
	}
	cl := &call{done: make(chan struct{})}
	c.inflight[key] = cl
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.inflight, key)
		c.mu.Unlock()
		close(cl.done)
	}()
	v, size, err := load()
	cl.val, cl.err = v, err
	if err == nil {
		c.Add(key, v, size)
	}
	return v, err
}

// Stats are counters for metrics and tests.
type Stats struct {
	Entries                 int
	Bytes, Max              int64
	Hits, Misses, Evictions int64
}

// Stats returns current counters.
func (c *Cache) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return Stats{Entries: len(c.items), Bytes: c.used, Max: c.max, Hits: c.hits.Load(), Misses: c.misses.Load(), Evictions: c.evictions.Load()}
}
