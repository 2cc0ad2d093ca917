package bolt_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/huren-health/huren/catalog"
	"github.com/huren-health/huren/catalog/bolt"
	"github.com/huren-health/huren/catalog/catalogtest"
)

func open(t testing.TB, path string) *bolt.Catalog {
	t.Helper()
	c, err := bolt.Open(path, bolt.Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestContract(t *testing.T) {
	catalogtest.Run(t, func(t *testing.T) catalog.Catalog {
		return open(t, filepath.Join(t.TempDir(), "catalog.bolt"))
	})
}

// TestContractLoader runs the suite through the batching Loader (rebuilds).
func TestContractLoader(t *testing.T) {
	catalogtest.Run(t, func(t *testing.T) catalog.Catalog {
		return open(t, filepath.Join(t.TempDir(), "catalog.bolt")).Loader()
	})
}

// TestReopen: what was Put survives Close/Open; NeedsRebuild follows
// MarkComplete and Reset.
func TestReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "catalog.bolt")
	c, err := bolt.Open(path, bolt.Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if need, err := c.NeedsRebuild(); err != nil || !need {
		t.Fatalf("new file: NeedsRebuild = %v, %v; want true", need, err)
	}
	for _, r := range catalogtest.Fixture() {
		if err := c.Put(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.MarkComplete(); err != nil {
		t.Fatal(err)
	}
	before, err := c.Search(ctx, catalog.Query{Level: catalog.InstanceLevel})
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	c = open(t, path)
	if need, err := c.NeedsRebuild(); err != nil || need {
		t.Fatalf("reopened: NeedsRebuild = %v, %v; want false", need, err)
	}
	after, err := c.Search(ctx, catalog.Query{Level: catalog.InstanceLevel})
	if err != nil {
		t.Fatal(err)
	}
	if len(before) == 0 || !reflect.DeepEqual(before, after) {
		t.Fatalf("after reopen %d results, before %d (or they differ)", len(after), len(before))
	}
	if err := c.Reset(ctx); err != nil {
		t.Fatal(err)
	}
	if need, _ := c.NeedsRebuild(); !need {
		t.Fatal("after Reset: NeedsRebuild = false")
	}
}

// TestFormatMarker: a file written by another layout is emptied at open
// and reported as needing a rebuild.
func TestFormatMarker(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "catalog.bolt")
	c, err := bolt.Open(path, bolt.Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Put(ctx, catalogtest.Fixture()[0]); err != nil {
		t.Fatal(err)
	}
	c.MarkComplete()
	c.Close()
	db, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bbolt.Tx) error {
		return tx.Bucket([]byte("meta")).Put([]byte("format"), []byte("huren-catalog-bolt/0"))
	}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	c = open(t, path)
	if need, _ := c.NeedsRebuild(); !need {
		t.Fatal("old format: NeedsRebuild = false")
	}
	if _, err := c.Instance(ctx, catalogtest.Fixture()[0].InstanceUID); !errors.Is(err, catalog.ErrNotFound) {
		t.Fatalf("old format's record still there: %v", err)
	}
}

// TestJournal: a Put clears the pending entry of its original; others stay.
func TestJournal(t *testing.T) {
	ctx := context.Background()
	c := open(t, filepath.Join(t.TempDir(), "catalog.bolt"))
	rec := catalogtest.Fixture()[0]
	rec.ObjectKey = "dicom/a/b/c.dcm"
	for _, k := range []string{rec.ObjectKey, "dicom/x/y/z.dcm"} {
		if err := c.MarkPending(k); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Put(ctx, rec); err != nil {
		t.Fatal(err)
	}
	got, err := c.Pending()
	if err != nil || !reflect.DeepEqual(got, []string{"dicom/x/y/z.dcm"}) {
		t.Fatalf("Pending = %q, %v", got, err)
	}
	if err := c.ClearPending(got...); err != nil {
		t.Fatal(err)
	}
	if got, _ := c.Pending(); len(got) != 0 {
		t.Fatalf("after ClearPending: %q", got)
	}
}

// TestLocked: a second process (here: a second Open) is refused clearly.
func TestLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "catalog.bolt")
	open(t, path)
	_, err := bolt.Open(path, bolt.Options{Timeout: 50 * time.Millisecond}, nil)
	if err == nil || !strings.Contains(err.Error(), "locked") {
		t.Fatalf("second Open: %v", err)
	}
}

// TestWarm: Warm decodes every study once, across chunk boundaries, and
// searches still see later writes (the cache is invalidated by them).
func TestWarm(t *testing.T) {
	ctx := context.Background()
	c := open(t, filepath.Join(t.TempDir(), "catalog.bolt"))
	l := c.Loader()
	const n = 1234 // more than two chunks
	for i := range n {
		r := catalogtest.R(fmt.Sprintf("1.2.%d", i), fmt.Sprintf("1.2.%d.1", i), fmt.Sprintf("1.2.%d.1.1", i), "town-a", i%600,
			"00100010", "Li^Na", "00080020", fmt.Sprintf("2024%02d%02d", 1+i%12, 1+i%28))
		if err := l.Put(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Flush(); err != nil {
		t.Fatal(err)
	}
	got, err := c.Warm(ctx)
	if err != nil || got != n {
		t.Fatalf("Warm = %d, %v; want %d", got, err, n)
	}
	r := catalogtest.R("1.2.0", "1.2.0.1", "1.2.0.1.1", "town-a", 0, "00100010", "Wang^Wei", "00080020", "20240101")
	if err := c.Put(ctx, r); err != nil {
		t.Fatal(err)
	}
	res, err := c.Search(ctx, catalog.Query{Level: catalog.StudyLevel, Matches: []catalog.Match{{Tag: "PatientName", Value: "Wang*"}}})
	if err != nil || len(res) != 1 {
		t.Fatalf("after warm + Put: %d results, %v", len(res), err)
	}
}

// BenchmarkPut is the cost ingest pays per instance: one transaction (and
// fsync) for the record, one for the journal entry before the original.
func BenchmarkPut(b *testing.B) {
	ctx := context.Background()
	c := open(b, filepath.Join(b.TempDir(), "catalog.bolt"))
	r := rand.New(rand.NewPCG(1, 2))
	i := 0
	for b.Loop() {
		rec := catalogtest.BenchRecord(r, i)
		i++
		if err := c.MarkPending(rec.ObjectKey); err != nil {
			b.Fatal(err)
		}
		if err := c.Put(ctx, rec); err != nil {
			b.Fatal(err)
		}
	}
}
