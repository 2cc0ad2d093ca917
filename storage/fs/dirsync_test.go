package fs

import (
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
)

// TestDirSyncerCoversEveryCaller checks the group commit's one promise: a
// caller returns only after an fsync that started after its call began —
// and that callers arriving during an fsync share the next one.
func TestDirSyncerCoversEveryCaller(t *testing.T) {
	var (
		seq     atomic.Int64 // bumped by each caller before Sync
		calls   atomic.Int64
		release = make(chan struct{})
		started = make(chan struct{}, 100)
	)
	d := newDirSyncer(syncDir)
	var mu sync.Mutex
	var completed []int64 // for each finished fsync: the seq when it started
	d.sync = func(dir string) error {
		at := seq.Load()
		calls.Add(1)
		started <- struct{}{}
		<-release
		mu.Lock()
		completed = append(completed, at)
		mu.Unlock()
		return nil
	}
	check := func(mine int64) {
		mu.Lock()
		defer mu.Unlock()
		for _, at := range completed {
			if at >= mine {
				return
			}
		}
		t.Errorf("caller %d returned before an fsync that started after it (fsyncs started at %v)", mine, completed)
	}
	var wg sync.WaitGroup
	caller := func() {
		defer wg.Done()
		mine := seq.Add(1)
		if err := d.Sync("/x"); err != nil {
			t.Error(err)
		}
		check(mine)
	}
	wg.Add(1)
	go caller()
	<-started // the first fsync is in flight
	const joiners = 20
	for range joiners {
		wg.Add(1)
		go caller()
	}
	// Let every joiner register before the first fsync ends.
	for {
		d.mu.Lock()
		n := d.dirs["/x"].joined
		d.mu.Unlock()
		if n == joiners {
			break
		}
		runtime.Gosched()
	}
	close(release)
	wg.Wait()
	if n := calls.Load(); n != 2 {
		t.Errorf("%d fsyncs for 1 + %d callers, want 2 (one in flight, one shared)", n, joiners)
	}
	// The last round's goroutine drops the directory's state just after
	// waking its callers; it must not stay behind.
	for i := 0; ; i++ {
		d.mu.Lock()
		n := len(d.dirs)
		d.mu.Unlock()
		if n == 0 {
			break
		}
		if i == 1e6 {
			t.Fatalf("idle syncer keeps state for %d directories", n)
		}
		runtime.Gosched()
	}
}

func TestDirSyncerLoneCallerAndErrors(t *testing.T) {
	boom := errors.New("boom")
	var calls int
	d := newDirSyncer(syncDir)
	d.sync = func(dir string) error { calls++; return boom }
	for i := 1; i <= 3; i++ {
		if err := d.Sync("/y"); !errors.Is(err, boom) {
			t.Fatalf("Sync = %v, want the fsync's error", err)
		}
		if calls != i {
			t.Fatalf("after %d sequential calls %d fsyncs", i, calls)
		}
	}
}
