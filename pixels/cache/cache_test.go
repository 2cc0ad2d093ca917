package cache

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
)

func TestBudgetAndLRU(t *testing.T) {
	c := New(100)
	for i := 0; i < 4; i++ {
		c.Add(fmt.Sprint(i), i, 25)
	}
	c.Get("0") // 0 is now most recent; 1 is the eviction candidate
	c.Add("4", 4, 25)
	if _, ok := c.Get("1"); ok {
		t.Error("least recently used entry survived")
	}
	for _, k := range []string{"0", "2", "3", "4"} {
		if _, ok := c.Get(k); !ok {
			t.Errorf("entry %s evicted", k)
		}
	}
	if s := c.Stats(); s.Bytes != 100 || s.Entries != 4 || s.Evictions != 1 {
		t.Errorf("stats %+v", s)
	}
	c.Add("big", 0, 26) // over a quarter of the budget: not stored
	if _, ok := c.Get("big"); ok {
		t.Error("oversized entry stored")
	}
	c.Add("2", "two", 10) // replace shrinks usage
	if s := c.Stats(); s.Bytes != 85 {
		t.Errorf("bytes after replace %d", s.Bytes)
	}
}

func TestDoCollapsesAndDoesNotCacheErrors(t *testing.T) {
	c := New(1 << 20)
	var loads atomic.Int32
	release := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, err := c.Do("k", func() (any, int64, error) {
				loads.Add(1)
				<-release
				return "v", 1, nil
			})
			if err != nil || v != "v" {
				t.Errorf("Do = %v, %v", v, err)
			}
		}()
	}
	for c.waiting("k") < 7 { // one loader, seven waiting on it
		runtime.Gosched()
	}
	close(release)
	wg.Wait()
	if n := loads.Load(); n != 1 {
		t.Errorf("loads %d", n)
	}
	boom := errors.New("boom")
	if _, err := c.Do("e", func() (any, int64, error) { return nil, 0, boom }); !errors.Is(err, boom) {
		t.Fatal(err)
	}
	if _, err := c.Do("e", func() (any, int64, error) { return "ok", 1, nil }); err != nil {
		t.Error("error was cached")
	}
}

func (c *Cache) waiting(key string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cl, ok := c.inflight[key]; ok {
		return cl.waiters
	}
	return 0
}

// TestContains: a probe neither counts as a hit or miss nor saves an entry
// from eviction.
func TestContains(t *testing.T) {
	c := New(100)
	c.Add("a", 1, 25)
	c.Add("b", 2, 25)
	if !c.Contains("a") || c.Contains("z") {
		t.Fatal("Contains wrong")
	}
	if s := c.Stats(); s.Hits != 0 || s.Misses != 0 {
		t.Errorf("probes counted: %+v", s)
	}
	c.Add("c", 3, 25)
	c.Add("d", 4, 25)
	c.Add("e", 5, 25) // evicts the least recently used: a, despite the probe
	if c.Contains("a") || !c.Contains("b") {
		t.Error("a probe changed the eviction order")
	}
}
