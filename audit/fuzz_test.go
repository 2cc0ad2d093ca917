package audit_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/huren-health/huren/audit"
	"github.com/huren-health/huren/storage"
)

// FuzzVerify stores arbitrary bytes as a segment (after a valid one) and
// runs Verify and Search: never a panic; anything but the original bytes
// is reported as tampering.
func FuzzVerify(f *testing.F) {
	st := newStore(f)
	l, err := audit.New(st, audit.Config{Node: "fz", SegmentMaxBytes: 600, CheckpointInterval: -1}, nil, nil)
	if err != nil {
		f.Fatal(err)
	}
	if err := l.Start(context.Background()); err != nil {
		f.Fatal(err)
	}
	for i := range 4 {
		_ = l.Record(audit.Event{Time: day1, User: "u", Action: "a", Patient: string(rune('A' + i)), Outcome: audit.OK})
	}
	if err := l.Close(); err != nil {
		f.Fatal(err)
	}
	// A second node ("gz" lists after "fz") whose checkpoint at Close
	// claims fz's head, so claim checking is fuzzed too.
	l2, err := audit.New(st, audit.Config{Node: "gz"}, nil, nil)
	if err != nil {
		f.Fatal(err)
	}
	if err := l2.Start(context.Background()); err != nil {
		f.Fatal(err)
	}
	_ = l2.Record(audit.Event{Time: day1, User: "u", Action: "a", Outcome: audit.OK})
	if err := l2.Close(); err != nil {
		f.Fatal(err)
	}
	var keys []string
	_ = st.List(context.Background(), "audit/", func(i storage.Info) error { keys = append(keys, i.Key); return nil })
	if len(keys) < 2 {
		f.Fatalf("want >= 2 segments, have %v", keys)
	}
	target := keys[1]
	orig := get(f, st, target)
	f.Add(orig)
	f.Add(append(bytes.Clone(orig), orig...))
	f.Add([]byte("{}\n"))
	f.Add([]byte("\n\n"))
	f.Add([]byte(`{"node":"fz","seq":3,"time":"2026-11-22T23:59:00Z","user":"system","action":"audit.checkpoint","outcome":"ok","heads":[{"node":"gz","seq":1,"hash":""}],"prev":"","hash":""}` + "\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if _, err := st.Put(context.Background(), target, bytes.NewReader(b), storage.PutOptions{}); err != nil {
			t.Fatal(err)
		}
		_, verr := audit.Verify(context.Background(), st)
		if bytes.Equal(b, orig) != (verr == nil) {
			t.Fatalf("verify of %q: %v", b, verr)
		}
		_, _ = audit.Search(context.Background(), st, audit.Query{Limit: 10})
	})
}
