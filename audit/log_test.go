package audit_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/huren-health/huren/audit"
	"github.com/huren-health/huren/storage"
	"github.com/huren-health/huren/storage/fs"
	"github.com/huren-health/huren/storage/storagetest"
)

func newStore(t testing.TB) storage.Store {
	t.Helper()
	s, err := fs.New(fs.Config{Root: t.TempDir()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func newLog(t *testing.T, st storage.Store, node string, maxBytes int) *audit.Log {
	t.Helper()
	l, err := audit.New(st, audit.Config{Node: node, SegmentMaxBytes: maxBytes, FlushInterval: time.Hour, CheckpointInterval: -1}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	return l
}

var day1 = time.Date(2026, 11, 22, 23, 59, 0, 0, time.UTC)

// fill records n events spread over two days so segments roll by day and by size.
func fill(t *testing.T, l *audit.Log, n int) {
	t.Helper()
	for i := range n {
		e := audit.Event{Time: day1.Add(time.Duration(i) * 10 * time.Second), User: fmt.Sprintf("user%d", i%3),
			Action: "GET /dicom-web/studies/:study", Resource: fmt.Sprintf("study:1.2.%d", i), Patient: fmt.Sprintf("P%d", i%5),
			Outcome: audit.OK, Status: 200, ClientAddr: "10.0.0.7", Site: "xz-town", Purpose: "诊断"}
		if err := l.Record(e); err != nil {
			t.Fatal(err)
		}
	}
}

func segments(t *testing.T, st storage.Store) []string {
	t.Helper()
	var keys []string
	if err := st.List(context.Background(), "audit/", func(i storage.Info) error { keys = append(keys, i.Key); return nil }); err != nil {
		t.Fatal(err)
	}
	return keys
}

func get(t testing.TB, st storage.Store, key string) []byte {
	t.Helper()
	rc, _, err := st.Get(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func put(t *testing.T, st storage.Store, key string, b []byte) {
	t.Helper()
	if _, err := st.Put(context.Background(), key, bytes.NewReader(b), storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
}

// written returns a store with a verified trail of 40 records in several
// segments over two days.
func written(t *testing.T) storage.Store {
	t.Helper()
	st := newStore(t)
	l := newLog(t, st, "hub1", 2048)
	fill(t, l, 40)
	if err := l.Close(); err != nil { // Close flushes: nothing acknowledged is lost
		t.Fatal(err)
	}
	rep, err := audit.Verify(context.Background(), st)
	if err != nil {
		t.Fatalf("verify clean trail: %v %+v", err, rep)
	}
	if rep.Records != 40 || rep.Segments < 3 || rep.Nodes != 1 {
		t.Fatalf("report %+v, want 40 records in >=3 segments", rep)
	}
	keys := segments(t, st)
	if n := len(lines(get(t, st, keys[2]))); n < 3 {
		t.Fatalf("segment %s has %d records; tests below need 3", keys[2], n)
	}
	if !strings.HasPrefix(keys[0], "audit/2026/11/22/hub1-00000001.jsonl") || !strings.HasPrefix(keys[len(keys)-1], "audit/2026/11/23/") {
		t.Fatalf("segment keys %v", keys)
	}
	return st
}

func lines(b []byte) [][]byte {
	return bytes.SplitAfter(bytes.TrimSuffix(b, []byte("\n")), []byte("\n"))
}

func TestVerifyDetectsTampering(t *testing.T) {
	tests := []struct {
		name   string
		tamper func(t *testing.T, st storage.Store, keys []string)
		want   string
	}{
		{"one byte changed", func(t *testing.T, st storage.Store, keys []string) {
			b := get(t, st, keys[2])
			i := bytes.Index(b, []byte("user1"))
			b[i+4] = '2' // user1 → user2 in one record
			put(t, st, keys[2], b)
		}, "hash mismatch"},
		{"whitespace added", func(t *testing.T, st storage.Store, keys []string) {
			b := get(t, st, keys[0])
			put(t, st, keys[0], bytes.Replace(b, []byte(`,"user"`), []byte(`, "user"`), 1))
		}, "canonical"},
		{"record removed", func(t *testing.T, st storage.Store, keys []string) {
			ls := lines(get(t, st, keys[2]))
			put(t, st, keys[2], bytes.Join(append(ls[:1], ls[2:]...), nil))
		}, "follows"},
		{"records reordered", func(t *testing.T, st storage.Store, keys []string) {
			ls := lines(get(t, st, keys[0]))
			ls[1], ls[2] = ls[2], ls[1]
			put(t, st, keys[0], bytes.Join(ls, nil))
		}, "follows"},
		{"middle segment removed", func(t *testing.T, st storage.Store, keys []string) {
			if err := st.Delete(context.Background(), keys[1]); err != nil {
				t.Fatal(err)
			}
		}, "segment 2 missing"},
		{"last segment removed", func(t *testing.T, st storage.Store, keys []string) {
			if err := st.Delete(context.Background(), keys[len(keys)-1]); err != nil {
				t.Fatal(err)
			}
		}, "tail removed"},
		{"last record removed", func(t *testing.T, st storage.Store, keys []string) {
			k := keys[len(keys)-1]
			ls := lines(get(t, st, k))
			put(t, st, k, bytes.Join(ls[:len(ls)-1], nil))
		}, "tail removed"},
		{"foreign object", func(t *testing.T, st storage.Store, keys []string) {
			put(t, st, "audit/2026/11/22/notes.txt", []byte("x"))
		}, "not an audit segment"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := written(t)
			tc.tamper(t, st, segments(t, st))
			rep, err := audit.Verify(context.Background(), st)
			if !errors.Is(err, audit.ErrTampered) {
				t.Fatalf("verify after tampering: err=%v report=%+v", err, rep)
			}
			if !strings.Contains(strings.Join(rep.Problems, "\n"), tc.want) {
				t.Fatalf("problems %q do not mention %q", rep.Problems, tc.want)
			}
		})
	}
}

func TestRestartContinuesChain(t *testing.T) {
	st := written(t)
	l := newLog(t, st, "hub1", 2048)
	fill(t, l, 5)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	// A second node writes its own chain alongside.
	l2 := newLog(t, st, "hub2", 0)
	fill(t, l2, 3)
	if err := l2.Close(); err != nil {
		t.Fatal(err)
	}
	rep, err := audit.Verify(context.Background(), st)
	if err != nil || rep.Records != 48 || rep.Nodes != 2 {
		t.Fatalf("verify after restart: %v %+v", err, rep)
	}
}

func TestRestartAfterLostHead(t *testing.T) {
	st := written(t)
	if err := st.Delete(context.Background(), "audit-heads/hub1.json"); err != nil {
		t.Fatal(err)
	}
	l := newLog(t, st, "hub1", 2048)
	fill(t, l, 2)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if rep, err := audit.Verify(context.Background(), st); err != nil || rep.Records != 42 {
		t.Fatalf("verify: %v %+v", err, rep)
	}
}

// blocking wraps the real store and holds every Put until released,
// standing in for a storage backend with very high latency.
type blocking struct {
	storage.Store
	release chan struct{}
	once    sync.Once
	entered chan struct{}
}

func (b *blocking) Put(ctx context.Context, key string, r io.Reader, o storage.PutOptions) (storage.Info, error) {
	b.once.Do(func() { close(b.entered) })
	<-b.release
	return b.Store.Put(ctx, key, r, o)
}

func (b *blocking) PutIfAbsent(ctx context.Context, key string, r io.Reader, o storage.PutOptions) (storage.Info, error) {
	b.once.Do(func() { close(b.entered) })
	<-b.release
	return b.Store.PutIfAbsent(ctx, key, r, o)
}

func TestRecordDoesNotWaitForStorage(t *testing.T) {
	real := newStore(t)
	b := &blocking{Store: real, release: make(chan struct{}), entered: make(chan struct{})}
	l := newLog(t, b, "hub1", 0)
	fill(t, l, 3)
	flushed := make(chan error, 1)
	go func() { flushed <- l.Flush(context.Background()) }()
	<-b.entered // the flush is now stuck inside storage
	// Recording proceeds while storage is stuck: these return without the
	// flush finishing (a blocked Record would hang this test).
	fill(t, l, 100)
	close(b.release)
	if err := <-flushed; err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if rep, err := audit.Verify(context.Background(), real); err != nil || rep.Records != 103 {
		t.Fatalf("verify: %v %+v", err, rep)
	}
}

func TestFlushFailureKeepsEvents(t *testing.T) {
	f := &storagetest.Flaky{Store: newStore(t)}
	l := newLog(t, f, "hub1", 1024)
	fill(t, l, 10)
	f.SetDown(true)
	if err := l.Flush(context.Background()); !errors.Is(err, storage.ErrUnavailable) {
		t.Fatalf("flush while down: %v", err)
	}
	fill(t, l, 10)
	if err := l.Flush(context.Background()); err == nil {
		t.Fatal("flush while down succeeded")
	}
	f.SetDown(false)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if rep, err := audit.Verify(context.Background(), f); err != nil || rep.Records != 20 {
		t.Fatalf("verify: %v %+v", err, rep)
	}
}

func TestBacklogAndClosed(t *testing.T) {
	st := newStore(t)
	l, err := audit.New(st, audit.Config{Node: "n1", MaxPending: 2, FlushInterval: time.Hour, CheckpointInterval: -1}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	_ = l.Record(audit.Event{Action: "a"})
	_ = l.Record(audit.Event{Action: "b"})
	if err := l.Record(audit.Event{Action: "c"}); !errors.Is(err, audit.ErrBacklog) {
		t.Fatalf("third record: %v", err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
	if err := l.Record(audit.Event{Action: "d"}); !errors.Is(err, audit.ErrClosed) {
		t.Fatalf("record after close: %v", err)
	}
}

func TestFlusherWritesWithinInterval(t *testing.T) {
	st := newStore(t)
	l, err := audit.New(st, audit.Config{Node: "n1", FlushInterval: 20 * time.Millisecond, CheckpointInterval: -1}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_ = l.Record(audit.Event{Action: "x"})
	// Poll until the background flusher has stored it (no Flush/Close call).
	for range 500 {
		if len(segments(t, st)) == 1 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("background flusher never wrote the segment")
}

func TestSearch(t *testing.T) {
	st := written(t)
	ctx := context.Background()
	tests := []struct {
		name string
		q    audit.Query
		want int
	}{
		{"all", audit.Query{Limit: 1000}, 40},
		{"by user", audit.Query{User: "user1", Limit: 1000}, 13},
		{"by patient", audit.Query{Patient: "P0", Limit: 1000}, 8},
		{"by time", audit.Query{From: day1, To: day1.Add(60 * time.Second)}, 6},
		{"second day", audit.Query{From: day1.Add(time.Minute), To: day1.Add(24 * time.Hour)}, 34},
		{"action prefix", audit.Query{Action: "GET *", Limit: 5}, 5},
		{"no match", audit.Query{User: "nobody"}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := audit.Search(ctx, st, tc.q)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != tc.want {
				t.Fatalf("got %d records, want %d", len(got), tc.want)
			}
			for i := 1; i < len(got); i++ {
				if got[i].Time.After(got[i-1].Time) {
					t.Fatal("not newest first")
				}
			}
		})
	}
	if _, err := audit.Search(ctx, st, audit.Query{Limit: 5000}); !errors.Is(err, audit.ErrInvalid) {
		t.Fatalf("limit 5000: %v", err)
	}
}

func TestNodeNames(t *testing.T) {
	for _, n := range []string{"", "a-b", "../x", "a/b", strings.Repeat("a", 64)} {
		if audit.ValidNode(n) == nil {
			t.Errorf("ValidNode(%q) = nil", n)
		}
	}
	for _, h := range []string{"hub-1.local", "", "../etc", "节点"} {
		if err := audit.ValidNode(audit.SanitizeNode(h)); err != nil {
			t.Errorf("SanitizeNode(%q) = %q invalid", h, audit.SanitizeNode(h))
		}
	}
}
