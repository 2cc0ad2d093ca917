package worklisttest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/huren-health/huren/storage"
	"github.com/huren-health/huren/storage/fs"
	"github.com/huren-health/huren/storage/storagetest"
	"github.com/huren-health/huren/worklist"
)

func newStore(t *testing.T) *storagetest.Flaky {
	s, err := fs.New(fs.Config{Root: t.TempDir()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return &storagetest.Flaky{Store: s}
}

// storedEvents counts the event objects in store per task.
func storedEvents(t *testing.T, store storage.Store) map[string]int {
	t.Helper()
	out := map[string]int{}
	err := store.List(context.Background(), "tasks/", func(i storage.Info) error {
		parts := strings.Split(i.Key, "/")
		if len(parts) == 4 && parts[2] == "events" {
			out[parts[1]]++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// waitStored waits until every task's versions are all in store. The outbox
// is asynchronous by design, so this polls (generously bounded).
func waitStored(t *testing.T, q worklist.Queue, store storage.Store, ids []string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		got := storedEvents(t, store)
		missing := ""
		for _, id := range ids {
			task, err := q.Get(context.Background(), id)
			if err != nil {
				t.Fatal(err)
			}
			if int64(got[id]) != task.Version {
				missing = fmt.Sprintf("task %s: %d events stored, version %d", id, got[id], task.Version)
				break
			}
		}
		if missing == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("events not stored: %s", missing)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func testRebuild(t *testing.T, r Replicas) {
	ctx := context.Background()
	store := newStore(t)
	q := r(worklist.Config{Store: store})
	rb, ok := q.(worklist.Rebuilder)
	if !ok {
		t.Skip("backend does not implement worklist.Rebuilder")
	}
	var ids []string
	for i := range 6 {
		task := mustUpsert(t, q, nt(fmt.Sprintf("R%d", i), "ct", worklist.Priority(i%4), time.Duration(i)*time.Minute))
		ids = append(ids, task.ID)
	}
	held, err := q.ClaimNext(ctx, reader, "ct", worklist.StageRead)
	if err != nil {
		t.Fatal(err)
	}
	toSign, err := q.ClaimNext(ctx, reader2, "ct", worklist.StageRead)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := q.Complete(ctx, reader2, toSign.ID, toSign.LeaseToken); err != nil {
		t.Fatal(err)
	}
	fin, err := q.ClaimNext(ctx, senior, "ct", worklist.StageRead)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := q.Complete(ctx, senior, fin.ID, fin.LeaseToken); err != nil {
		t.Fatal(err)
	}
	if _, err := q.Cancel(ctx, admin, ids[0], "duplicate"); err != nil && !errors.Is(err, worklist.ErrConflict) {
		t.Fatal(err)
	}
	waitStored(t, q, store, ids)

	before := map[string]worklist.Task{}
	for _, id := range ids {
		before[id], _ = q.Get(ctx, id)
	}
	queueBefore, err := q.List(ctx, worklist.Filter{Group: "ct", Stage: worklist.StageRead, State: worklist.Queued})
	if err != nil {
		t.Fatal(err)
	}
	// Redis is lost: rebuild from storage alone.
	n, err := rb.Rebuild(ctx, store)
	if err != nil {
		t.Fatal(err)
	}
	if n != len(ids) {
		t.Fatalf("rebuilt %d tasks, want %d", n, len(ids))
	}
	for _, id := range ids {
		after, err := q.Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		b := before[id]
		if after.State != b.State || after.Stage != b.Stage || after.Version != b.Version || after.Assignee != b.Assignee ||
			after.Priority != b.Priority || !after.Due.Equal(b.Due) || after.Doc != b.Doc || len(after.History) != len(b.History) ||
			!after.LeaseExpires.Equal(b.LeaseExpires) {
			t.Fatalf("task %s after rebuild:\n%+v\nbefore:\n%+v", id, after, b)
		}
	}
	queueAfter, err := q.List(ctx, worklist.Filter{Group: "ct", Stage: worklist.StageRead, State: worklist.Queued})
	if err != nil {
		t.Fatal(err)
	}
	idsOf := func(p worklist.Page) []string {
		var out []string
		for _, t := range p.Tasks {
			out = append(out, t.ID)
		}
		return out
	}
	if !slices.Equal(idsOf(queueBefore), idsOf(queueAfter)) {
		t.Fatalf("queue after rebuild %v, before %v", idsOf(queueAfter), idsOf(queueBefore))
	}
	// The lease survived with its token; the sequence continues.
	rn, err := q.Renew(ctx, reader, held.ID, held.LeaseToken)
	if err != nil {
		t.Fatalf("renew a lease restored by rebuild: %v", err)
	}
	if rn.Version != before[held.ID].Version+1 {
		t.Fatalf("version after rebuild+renew %d", rn.Version)
	}
	waitStored(t, q, store, []string{held.ID})
	s, err := q.ClaimNext(ctx, senior, "ct", worklist.StageSign)
	if err != nil || s.ID != toSign.ID {
		t.Fatalf("to-sign queue after rebuild: %v %v", s.ID, err)
	}
}

// testStorageOutage: with storage down, events pile up in the bounded
// outbox; when it is full, state changes fail with ErrUnavailable (none is
// made without its event); when storage is back every event is written.
func testStorageOutage(t *testing.T, r Replicas) {
	ctx := context.Background()
	store := newStore(t)
	q := r(worklist.Config{Store: store, OutboxLimit: 20})
	store.SetDown(true)
	var ids []string
	refused := false
	for i := range 100 {
		task, _, err := q.Upsert(ctx, nt(fmt.Sprintf("O%03d", i), "ct", worklist.Routine, time.Hour))
		if errors.Is(err, worklist.ErrUnavailable) {
			refused = true
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, task.ID)
	}
	if !refused || len(ids) < 19 || len(ids) > 20 {
		t.Fatalf("accepted %d changes with storage down (refused=%v), want the outbox limit of 20", len(ids), refused)
	}
	page, err := q.List(ctx, worklist.Filter{})
	if err != nil || page.Total != len(ids) {
		t.Fatalf("refused change was applied: %d tasks for %d accepted (%v)", page.Total, len(ids), err)
	}
	store.SetDown(false)
	waitStored(t, q, store, ids)
	if _, _, err := q.Upsert(ctx, nt("after", "ct", worklist.Routine, time.Hour)); err != nil {
		t.Fatalf("upsert after storage recovered: %v", err)
	}
}
