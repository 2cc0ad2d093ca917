package bolt

import (
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"go.etcd.io/bbolt"
)

// Concurrent writers share commits, every write lands, and a failing write
// fails alone (its batch is retried one transaction each).
func TestGroupCommit(t *testing.T) {
	c, err := Open(filepath.Join(t.TempDir(), "c.bolt"), Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	before := c.group.batches.Load()
	const writers, each = 8, 40
	bad := errors.New("bad write")
	var wg sync.WaitGroup
	errs := make([]error, writers*each)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				n := w*each + i
				errs[n] = c.write(func(tx *bbolt.Tx) error {
					if n%37 == 0 {
						return bad
					}
					return tx.Bucket(bPend).Put([]byte(fmt.Sprintf("k%04d", n)), nil)
				}, nil)
			}
		}()
	}
	wg.Wait()
	keys, err := c.Pending()
	if err != nil {
		t.Fatal(err)
	}
	want := 0
	for n, e := range errs {
		switch {
		case n%37 == 0 && !errors.Is(e, bad):
			t.Fatalf("write %d: err %v, want the bad write's error", n, e)
		case n%37 != 0 && e != nil:
			t.Fatalf("write %d failed with its batch: %v", n, e)
		case n%37 != 0:
			want++
		}
	}
	if len(keys) != want {
		t.Fatalf("%d keys stored, want %d", len(keys), want)
	}
	// Commits were shared: far fewer write transactions than writes
	// (a lone writer would need one per write plus the retries).
	commits := c.group.batches.Load() - before
	t.Logf("%d writes in %d batches", writers*each, commits)
	if commits >= int64(writers*each) {
		t.Fatalf("%d batches for %d concurrent writes: no group commit", commits, writers*each)
	}
}
