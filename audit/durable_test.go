package audit_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/huren-health/huren/audit"
	"github.com/huren-health/huren/httpapi"
	"github.com/huren-health/huren/storage"
	"github.com/huren-health/huren/storage/storagetest"
)

// stored returns the records in storage now, without flushing or closing
// anything: what a kill -9 at this moment would leave.
func stored(t *testing.T, st storage.Store) []audit.Record {
	t.Helper()
	recs, err := audit.Search(context.Background(), st, audit.Query{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

// TestWriteAnsweredOnlyWhenRecordStored: the answer to a write (here a
// STOW-like POST) reaches the client only after its audit record is in
// storage, so a crash right after the answer loses no write's record. The
// log's own flush interval is an hour: only the durable path can store it.
func TestWriteAnsweredOnlyWhenRecordStored(t *testing.T) {
	gin.SetMode(gin.ReleaseMode)
	f := &storagetest.Flaky{Store: newStore(t)}
	l := newLog(t, f, "hub1", 0)
	t.Cleanup(func() { _ = l.Close() })
	e := gin.New()
	e.Use(httpapi.RequestIDs(), audit.Middleware(l, nil, audit.MiddlewareOptions{}))
	e.POST("/dicom-web/studies", func(c *gin.Context) {
		audit.SetPatient(c, "P001")
		c.Header("Content-Type", "application/dicom+json")
		c.String(http.StatusOK, `{"00081199":{}}`)
	})
	e.GET("/dicom-web/studies", func(c *gin.Context) { c.String(http.StatusOK, "[]") })
	send := func(method string) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		e.ServeHTTP(w, httptest.NewRequest(method, "/dicom-web/studies", strings.NewReader("x")))
		return w
	}

	if w := send("POST"); w.Code != http.StatusOK || w.Body.String() != `{"00081199":{}}` || w.Header().Get("Content-Type") != "application/dicom+json" {
		t.Fatalf("POST answer %d %q %v: want the handler's answer unchanged", w.Code, w.Body, w.Header())
	}
	recs := stored(t, f)
	if len(recs) != 1 || recs[0].Action != "POST /dicom-web/studies" || recs[0].Patient != "P001" || recs[0].Status != 200 {
		t.Fatalf("records in storage right after the answer: %+v, want the POST's", recs)
	}
	// A read is answered without waiting (the documented read window).
	if w := send("GET"); w.Code != http.StatusOK {
		t.Fatalf("GET %d", w.Code)
	}
	if n := len(stored(t, f)); n != 1 {
		t.Fatalf("%d records stored after a GET, want 1 (reads are flushed later)", n)
	}

	// Audit storage down: the write is not acknowledged.
	f.SetDown(true)
	w := send("POST")
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" || strings.Contains(w.Body.String(), "00081199") {
		t.Fatalf("POST with audit storage down: %d %v %q, want 503 + Retry-After without the handler's answer", w.Code, w.Header(), w.Body)
	}
	f.SetDown(false)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if rep, err := audit.Verify(context.Background(), f); err != nil || rep.Records != 3 {
		t.Fatalf("verify: %v %+v (the refused write's record is stored later, the chain intact)", err, rep)
	}
}

// TestRecordDurableGroupCommit: many concurrent durable records all end up
// stored and chained, sharing flushes.
func TestRecordDurableGroupCommit(t *testing.T) {
	st := newStore(t)
	l := newLog(t, st, "hub1", 4096)
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := range 64 {
		wg.Go(func() {
			errs <- l.RecordDurable(context.Background(), audit.Event{Action: "POST /x", Resource: strings.Repeat("r", i)})
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := len(stored(t, st)); n != 64 {
		t.Fatalf("%d records stored after 64 durable records returned", n)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if rep, err := audit.Verify(context.Background(), st); err != nil || rep.Records != 64 {
		t.Fatalf("verify: %v %+v", err, rep)
	}
}

func removeNode(t *testing.T, st storage.Store, node string) {
	t.Helper()
	ctx := context.Background()
	for _, k := range append(segments(t, st), "audit-heads/"+node+".json") {
		if strings.Contains(k, "/"+node+"-") || strings.HasSuffix(k, "/"+node+".json") {
			if err := st.Delete(ctx, k); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestVerifyDetectsRemovedNode: a replica's trail, deleted with its head,
// is missed by the chain checks alone (nothing of it remains); the
// checkpoint another node wrote about it reveals the deletion.
func TestVerifyDetectsRemovedNode(t *testing.T) {
	ctx := context.Background()
	st := newStore(t)
	for _, node := range []string{"hub1", "cli_a"} { // as in production: each Close writes a checkpoint
		l, err := audit.New(st, audit.Config{Node: node, FlushInterval: time.Hour}, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := l.Start(ctx); err != nil {
			t.Fatal(err)
		}
		fill(t, l, 20)
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
	}
	rep, err := audit.Verify(ctx, st)
	if err != nil || rep.Nodes != 2 {
		t.Fatalf("verify intact trail: %v %+v", err, rep)
	}
	removeNode(t, st, "hub1")
	rep, err = audit.Verify(ctx, st)
	if err == nil || !strings.Contains(strings.Join(rep.Problems, "\n"), "node hub1: its whole trail is missing") {
		t.Fatalf("verify after removing node hub1's segments and head: %v %+v", err, rep)
	}
}

// TestAnchorDetectsRemovedTrail: with a single node there is nobody to
// vouch for it in storage; the anchor its checkpoint logged (kept off the
// hub) detects the removal, and a truncation below it.
func TestAnchorDetectsRemovedTrail(t *testing.T) {
	ctx := context.Background()
	st := newStore(t)
	var logbuf bytes.Buffer
	l, err := audit.New(st, audit.Config{Node: "hub1", FlushInterval: time.Hour}, slog.New(slog.NewJSONHandler(&logbuf, nil)), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Start(ctx); err != nil {
		t.Fatal(err)
	}
	fill(t, l, 20)
	if err := l.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	var line struct{ Anchor string }
	if err := json.Unmarshal(bytes.SplitN(logbuf.Bytes(), []byte("\n"), 2)[0], &line); err != nil {
		t.Fatalf("checkpoint log line %q: %v", logbuf.String(), err)
	}
	anchor, err := audit.ParseClaim(line.Anchor)
	if err != nil || anchor.Seq != 21 {
		t.Fatalf("anchor %q: %+v %v (want record 21: 20 events and the checkpoint)", line.Anchor, anchor, err)
	}
	fill(t, l, 5)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	opts := audit.VerifyOptions{Anchors: []audit.Claim{anchor}}
	if rep, err := audit.Verify(ctx, st, opts); err != nil || rep.Claims != 1 {
		t.Fatalf("verify with anchor: %v %+v", err, rep)
	}
	bad := anchor
	bad.Hash = strings.Repeat("0", 64)
	if _, err := audit.Verify(ctx, st, audit.VerifyOptions{Anchors: []audit.Claim{bad}}); err == nil {
		t.Fatal("verify accepted an anchor whose hash is not in the trail")
	}
	removeNode(t, st, "hub1")
	if rep, err := audit.Verify(ctx, st); err != nil || rep.Nodes != 0 {
		t.Fatalf("without the anchor an emptied trail verifies (the documented limit): %v %+v", err, rep)
	}
	rep, err := audit.Verify(ctx, st, opts)
	if err == nil || !strings.Contains(strings.Join(rep.Problems, "\n"), "whole trail is missing, but anchor recorded") {
		t.Fatalf("verify with anchor after removal: %v %+v", err, rep)
	}
}

func TestParseClaim(t *testing.T) {
	h := strings.Repeat("ab", 32)
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{"hub1:12:" + h, true},
		{"hub1:0:" + h, false},
		{"hub1:12", false},
		{"hub-1:12:" + h, false},
		{"hub1:x:" + h, false},
		{"hub1:12:" + h[:62], false},
		{"hub1:12:" + strings.Repeat("zz", 32), false},
	} {
		c, err := audit.ParseClaim(tc.in)
		if (err == nil) != tc.ok {
			t.Errorf("ParseClaim(%q) = %+v, %v; want ok=%v", tc.in, c, err, tc.ok)
		}
		if err == nil && c.String() != tc.in {
			t.Errorf("round trip %q → %q", tc.in, c.String())
		}
	}
}

// TestDurablePanicReachesRecovery: a write whose handler panics is answered
// by the recovery middleware outside, not with an empty held answer.
func TestDurablePanicReachesRecovery(t *testing.T) {
	gin.SetMode(gin.ReleaseMode)
	l := newLog(t, newStore(t), "hub1", 0)
	t.Cleanup(func() { _ = l.Close() })
	e := gin.New()
	e.Use(gin.CustomRecovery(func(c *gin.Context, _ any) { c.AbortWithStatus(http.StatusInternalServerError) }),
		audit.Middleware(l, nil, audit.MiddlewareOptions{}))
	e.POST("/boom", func(c *gin.Context) { c.Status(http.StatusCreated); panic("boom") })
	w := httptest.NewRecorder()
	e.ServeHTTP(w, httptest.NewRequest("POST", "/boom", nil))
	if w.Code != http.StatusInternalServerError {
		t.Fatalf("panicking write answered %d, want the recovery's 500", w.Code)
	}
}

// TestVerifyWhileWriting: Verify on a live trail — two nodes writing,
// flushing and checkpointing about each other meanwhile — reports no
// problem (heads and claims newer than its listing are not mistaken for
// removed records).
func TestVerifyWhileWriting(t *testing.T) {
	ctx := context.Background()
	st := newStore(t)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, node := range []string{"hub1", "hub2"} {
		l, err := audit.New(st, audit.Config{Node: node, FlushInterval: time.Millisecond, CheckpointInterval: 2 * time.Millisecond, SegmentMaxBytes: 2048}, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := l.Start(ctx); err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			defer l.Close()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				e := audit.Event{Action: "POST /x", Resource: fmt.Sprint(i), Outcome: audit.OK}
				if i%3 == 0 {
					_ = l.RecordDurable(ctx, e)
				} else {
					_ = l.Record(e)
				}
			}
		})
	}
	// At least 10 rounds, and until the trail is big enough to span many
	// segments and checkpoints (the writers progress on their own).
	for i := 0; ; i++ {
		rep, err := audit.Verify(ctx, st)
		if err != nil {
			close(stop)
			wg.Wait()
			t.Fatalf("verify %d of a live trail: %v %+v", i, err, rep)
		}
		if i >= 10 && rep.Records > 300 && rep.Claims > 3 {
			break
		}
	}
	close(stop)
	wg.Wait()
	if rep, err := audit.Verify(ctx, st); err != nil || rep.Claims == 0 {
		t.Fatalf("final verify: %v %+v (want checkpoint claims checked)", err, rep)
	}
}
