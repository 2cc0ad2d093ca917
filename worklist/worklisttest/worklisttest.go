// Package worklisttest is the contract suite every worklist.Queue backend
// runs: worklisttest.Run(t, factory). Each subtest checks one sentence of
// the Queue contract against fresh backend state; Concurrency and Property
// are the exactly-once and invariant proofs (run them with -race).
package worklisttest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/huren-health/huren/worklist"
)

// Replicas makes queue replicas that share one backend state. Each call is
// one "replica" (for Redis: its own client view; for memory: the same
// queue). The suite closes every replica it makes.
type Replicas func(cfg worklist.Config) worklist.Queue

// Factory returns fresh, empty backend state for one subtest.
type Factory func(t *testing.T) Replicas

// Shared adapts a single-process backend: every replica is the one queue
// built by the first call (later configs are ignored).
func Shared(newQueue func(worklist.Config) worklist.Queue) Factory {
	return func(t *testing.T) Replicas {
		var (
			mu sync.Mutex
			q  worklist.Queue
		)
		return func(cfg worklist.Config) worklist.Queue {
			mu.Lock()
			defer mu.Unlock()
			if q == nil {
				q = newQueue(cfg)
			}
			return q
		}
	}
}

// Run runs the contract suite.
func Run(t *testing.T, f Factory) {
	tests := []struct {
		name string
		fn   func(*testing.T, Replicas)
	}{
		{"UpsertIdempotent", testUpsert},
		{"Order", testOrder},
		{"CriticalECGJumpsQueue", testCriticalJumps},
		{"ClaimConflicts", testClaimConflicts},
		{"LeaseTokens", testLeaseTokens},
		{"TwoStepReading", testTwoStep},
		{"LeaseExpiry", testLeaseExpiry},
		{"ClockSkew", testClockSkew},
		{"Reassign", testReassign},
		{"CancelEscalate", testCancelEscalate},
		{"ImagesAddedAfterReport", testImagesAdded},
		{"ListFilterPaging", testList},
		{"EventsAcrossReplicas", testEvents},
		{"Concurrency", testConcurrency},
		{"Property", testProperty},
		{"Rebuild", testRebuild},
		{"StorageOutage", testStorageOutage},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			reps := f(t)
			tc.fn(t, func(cfg worklist.Config) worklist.Queue {
				q := reps(cfg)
				t.Cleanup(func() { _ = q.Close() })
				return q
			})
		})
	}
}

var (
	reader  = worklist.Actor{ID: "reader1", Groups: []string{"ct", "ecg"}}
	reader2 = worklist.Actor{ID: "reader2", Groups: []string{"ct", "ecg"}}
	senior  = worklist.Actor{ID: "senior1", Groups: []string{"ct", "ecg"}, Senior: true}
	admin   = worklist.Actor{ID: "admin", Admin: true}
	outside = worklist.Actor{ID: "outsider", Groups: []string{"mr"}}
)

var base = time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)

func nt(ref, group string, p worklist.Priority, due time.Duration) worklist.NewTask {
	return worklist.NewTask{
		Doc:   worklist.Doc{Kind: worklist.KindStudy, Ref: ref, Site: "site-a", Modality: "CT", Instances: 1},
		Group: group, Priority: p, Due: base.Add(due),
	}
}

func mustUpsert(t testing.TB, q worklist.Queue, n worklist.NewTask) worklist.Task {
	t.Helper()
	task, _, err := q.Upsert(context.Background(), n)
	if err != nil {
		t.Fatalf("upsert %s: %v", n.Ref, err)
	}
	return task
}

func wantErr(t testing.TB, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: got error %v, want %v", what, err, want)
	}
}

func historyTypes(t worklist.Task) []worklist.EventType {
	var out []worklist.EventType
	for _, e := range t.History {
		out = append(out, e.Type)
	}
	return out
}

func testUpsert(t *testing.T, r Replicas) {
	ctx := context.Background()
	q := r(worklist.Config{})
	a, created, err := q.Upsert(ctx, nt("1.2.3", "ct", worklist.Routine, time.Hour))
	if err != nil || !created {
		t.Fatalf("first upsert: created=%v err=%v", created, err)
	}
	if a.State != worklist.Queued || a.Stage != worklist.StageRead || a.Group != "ct" || a.Version != 1 {
		t.Fatalf("new task: %+v", a)
	}
	n := nt("1.2.3", "mr", worklist.Urgent, 2*time.Hour)
	n.Instances = 5
	b, created, err := q.Upsert(ctx, n)
	if err != nil || created {
		t.Fatalf("second upsert: created=%v err=%v", created, err)
	}
	if b.ID != a.ID || b.Instances != 5 || b.Priority != worklist.Urgent || b.Group != "ct" || !b.Due.Equal(a.Due) {
		t.Fatalf("update kept id/group/due, took doc and higher priority: %+v", b)
	}
	got, err := q.Get(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if h := historyTypes(got); !slices.Equal(h, []worklist.EventType{worklist.EvCreated, worklist.EvUpdated}) {
		t.Fatalf("history %v", h)
	}
	_, err = q.Get(ctx, "0000000000000deadbeef")
	wantErr(t, "get unknown", err, worklist.ErrNotFound)
	_, _, err = q.Upsert(ctx, worklist.NewTask{Doc: worklist.Doc{Kind: worklist.KindStudy, Ref: "x"}})
	wantErr(t, "upsert without group", err, worklist.ErrInvalid)
}

func testOrder(t *testing.T, r Replicas) {
	ctx := context.Background()
	q := r(worklist.Config{})
	in := []worklist.NewTask{
		nt("r-late", "ct", worklist.Routine, 3*time.Hour),
		nt("r-early", "ct", worklist.Routine, time.Hour),
		nt("u", "ct", worklist.Urgent, 5*time.Hour),
		nt("s", "ct", worklist.STAT, 9*time.Hour),
		nt("c", "ct", worklist.Critical, 24*time.Hour),
		nt("r-early-2", "ct", worklist.Routine, time.Hour), // same due: arrival order
		nt("other-group", "mr", worklist.Critical, 0),
	}
	for _, n := range in {
		mustUpsert(t, q, n)
		time.Sleep(2 * time.Millisecond) // distinct arrival ids
	}
	want := []string{"c", "s", "u", "r-early", "r-early-2", "r-late"}
	page, err := q.List(ctx, worklist.Filter{Group: "ct", State: worklist.Queued})
	if err != nil {
		t.Fatal(err)
	}
	var listed []string
	for _, task := range page.Tasks {
		listed = append(listed, task.Ref)
	}
	if !slices.Equal(listed, want) {
		t.Fatalf("list order %v, want %v", listed, want)
	}
	var got []string
	for range want {
		task, err := q.ClaimNext(ctx, reader, "ct", worklist.StageRead)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, task.Ref)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("claim order %v, want %v", got, want)
	}
	_, err = q.ClaimNext(ctx, reader, "ct", worklist.StageRead)
	wantErr(t, "claim from drained queue", err, worklist.ErrEmpty)
	_, err = q.ClaimNext(ctx, outside, "ct", worklist.StageRead)
	wantErr(t, "claim outside group", err, worklist.ErrForbidden)
}

func testCriticalJumps(t *testing.T, r Replicas) {
	ctx := context.Background()
	q := r(worklist.Config{})
	for i := range 20 {
		mustUpsert(t, q, nt(fmt.Sprintf("routine-%d", i), "ecg", worklist.Routine, time.Duration(i)*time.Minute))
	}
	ecg := worklist.NewTask{Doc: worklist.Doc{Kind: worklist.KindECG, Ref: "ecg-stemi", Site: "village-3", Modality: "ECG", RequestedPriority: worklist.Critical},
		Group: "ecg", Priority: worklist.Critical, Due: base.Add(10 * time.Hour)}
	mustUpsert(t, q, ecg)
	task, err := q.ClaimNext(ctx, reader, "ecg", worklist.StageRead)
	if err != nil {
		t.Fatal(err)
	}
	if task.Ref != "ecg-stemi" || task.Kind != worklist.KindECG {
		t.Fatalf("first claim got %s, want the critical ECG", task.Ref)
	}
}

func testClaimConflicts(t *testing.T, r Replicas) {
	ctx := context.Background()
	q1, q2 := r(worklist.Config{}), r(worklist.Config{})
	task := mustUpsert(t, q1, nt("1.2.9", "ct", worklist.Routine, time.Hour))
	c, err := q1.Claim(ctx, reader, task.ID)
	if err != nil {
		t.Fatal(err)
	}
	if c.State != worklist.Claimed || c.Assignee != reader.ID || c.LeaseToken == "" || !c.LeaseExpires.After(c.Created) {
		t.Fatalf("claimed task %+v", c)
	}
	_, err = q2.Claim(ctx, reader2, task.ID)
	wantErr(t, "second claim from other replica", err, worklist.ErrAlreadyClaimed)
	_, err = q1.Claim(ctx, reader, task.ID)
	wantErr(t, "claim again by holder", err, worklist.ErrAlreadyClaimed)
	_, err = q2.ClaimNext(ctx, reader2, "ct", worklist.StageRead)
	wantErr(t, "claim next while the only task is leased", err, worklist.ErrEmpty)
	_, err = q2.Claim(ctx, reader2, "0000000000000deadbeef")
	wantErr(t, "claim unknown", err, worklist.ErrNotFound)
	_, err = q2.Claim(ctx, outside, task.ID)
	wantErr(t, "claim outside group", err, worklist.ErrForbidden)
	done, err := q1.Complete(ctx, senior2(reader), task.ID, c.LeaseToken)
	if err != nil {
		t.Fatal(err)
	}
	if done.State != worklist.Done {
		t.Fatalf("senior complete: state %s", done.State)
	}
	_, err = q2.Claim(ctx, reader2, task.ID)
	wantErr(t, "claim completed", err, worklist.ErrConflict)
}

// senior2 returns a as a senior reader.
func senior2(a worklist.Actor) worklist.Actor { a.Senior = true; return a }

func testLeaseTokens(t *testing.T, r Replicas) {
	ctx := context.Background()
	q := r(worklist.Config{})
	task := mustUpsert(t, q, nt("1.2.10", "ct", worklist.Routine, time.Hour))
	c, err := q.Claim(ctx, reader, task.ID)
	if err != nil {
		t.Fatal(err)
	}
	_, err = q.Renew(ctx, reader, task.ID, "not-the-token")
	wantErr(t, "renew with wrong token", err, worklist.ErrLeaseExpired)
	rn, err := q.Renew(ctx, reader, task.ID, c.LeaseToken)
	if err != nil {
		t.Fatal(err)
	}
	if rn.LeaseExpires.Before(c.LeaseExpires) || rn.LeaseToken != c.LeaseToken {
		t.Fatalf("renew moved expiry back or changed token: %v -> %v", c.LeaseExpires, rn.LeaseExpires)
	}
	rel, err := q.Release(ctx, reader, task.ID, c.LeaseToken)
	if err != nil {
		t.Fatal(err)
	}
	if rel.State != worklist.Queued || rel.Assignee != "" || rel.LeaseToken != "" {
		t.Fatalf("released %+v", rel)
	}
	_, err = q.Renew(ctx, reader, task.ID, c.LeaseToken)
	wantErr(t, "renew after release", err, worklist.ErrLeaseExpired)
	_, err = q.Complete(ctx, reader, task.ID, c.LeaseToken)
	wantErr(t, "complete after release", err, worklist.ErrLeaseExpired)
	c2, err := q.ClaimNext(ctx, reader2, "ct", worklist.StageRead)
	if err != nil || c2.ID != task.ID || c2.LeaseToken == c.LeaseToken {
		t.Fatalf("reclaim after release: %+v %v", c2, err)
	}
	_, err = q.Release(ctx, reader, task.ID, c.LeaseToken)
	wantErr(t, "release with stale token", err, worklist.ErrLeaseExpired)
	got, err := q.Get(ctx, task.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := []worklist.EventType{worklist.EvCreated, worklist.EvClaimed, worklist.EvRenewed, worklist.EvReleased, worklist.EvClaimed}
	if h := historyTypes(got); !slices.Equal(h, want) {
		t.Fatalf("history %v, want %v", h, want)
	}
	if got.LeaseToken != "" {
		t.Fatal("Get leaked the lease token")
	}
	for i, e := range got.History {
		if e.Token != "" || e.Version != int64(i+1) {
			t.Fatalf("history[%d] = %+v (token leaked or version not sequential)", i, e)
		}
	}
}

func testTwoStep(t *testing.T, r Replicas) {
	ctx := context.Background()
	q := r(worklist.Config{})
	task := mustUpsert(t, q, nt("1.2.11", "ct", worklist.Urgent, time.Hour))
	c, err := q.ClaimNext(ctx, reader, "ct", worklist.StageRead)
	if err != nil {
		t.Fatal(err)
	}
	ts, err := q.Complete(ctx, reader, c.ID, c.LeaseToken)
	if err != nil {
		t.Fatal(err)
	}
	if ts.State != worklist.Queued || ts.Stage != worklist.StageSign || ts.Reader != reader.ID || ts.Assignee != "" {
		t.Fatalf("junior complete -> %+v, want queued to sign", ts)
	}
	_, err = q.ClaimNext(ctx, reader2, "ct", worklist.StageSign)
	wantErr(t, "junior claims to-sign", err, worklist.ErrForbidden)
	_, err = q.ClaimNext(ctx, senior2(reader), "ct", worklist.StageSign)
	wantErr(t, "reader signs own report", err, worklist.ErrEmpty)
	_, err = q.Claim(ctx, senior2(reader), task.ID)
	wantErr(t, "reader claims own report to sign", err, worklist.ErrForbidden)
	s, err := q.ClaimNext(ctx, senior, "ct", worklist.StageSign)
	if err != nil || s.ID != task.ID {
		t.Fatalf("senior claim to-sign: %v %v", s.ID, err)
	}
	f, err := q.Complete(ctx, senior, s.ID, s.LeaseToken)
	if err != nil {
		t.Fatal(err)
	}
	if f.State != worklist.Done || f.Stage != worklist.StageSign || f.Reader != reader.ID {
		t.Fatalf("signed %+v", f)
	}
	_, err = q.Complete(ctx, senior, s.ID, s.LeaseToken)
	wantErr(t, "complete twice", err, worklist.ErrConflict)
}

// leaseClock is the clock of a lease test: virtual for backends that take
// Config.Now (memory: advancing it expires leases without waiting, however
// slow the machine), and real time for those that judge leases by their
// own clock (Redis TIME), for which pass also sleeps.
type leaseClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *leaseClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// pass lets d go by on both clocks.
func (c *leaseClock) pass(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
	time.Sleep(d)
}

// testLeaseExpiry checks what happens once a lease has run out. Its setup
// (two claims) must finish within the lease for the order it checks to be
// defined; on a machine too loaded for that it runs again with a lease four
// times longer (fresh tasks in a fresh group), up to about a minute.
func testLeaseExpiry(t *testing.T, r Replicas) {
	clock := &leaseClock{now: time.Now()}
	lease := 300 * time.Millisecond
	for try := 0; !leaseExpiry(t, r, clock, try, lease); try++ {
		if lease > time.Minute {
			t.Fatalf("two claims never fit in a %v lease", lease)
		}
		t.Logf("setup took longer than the %v lease; again with %v", lease, 4*lease)
		lease *= 4
	}
}

func leaseExpiry(t *testing.T, r Replicas, clock *leaseClock, try int, lease time.Duration) bool {
	ctx := context.Background()
	group := fmt.Sprintf("ct-lease%d", try)
	rd := worklist.Actor{ID: reader.ID, Groups: []string{group}}
	rd2 := worklist.Actor{ID: reader2.ID, Groups: []string{group}}
	ref := func(n int) string { return fmt.Sprintf("1.2.%d.%d", n, try) }
	cfg := worklist.Config{Lease: lease, Now: clock.Now}
	q1, q2 := r(cfg), r(cfg)
	a := mustUpsert(t, q1, nt(ref(12), group, worklist.Routine, time.Hour))
	b := mustUpsert(t, q1, nt(ref(13), group, worklist.Routine, 2*time.Hour))
	start := time.Now()
	ca, err := q1.ClaimNext(ctx, rd, group, worklist.StageRead)
	if err != nil {
		t.Fatalf("claim a: %v", err)
	}
	cb, err := q1.ClaimNext(ctx, rd, group, worklist.StageRead)
	if err != nil {
		t.Fatalf("claim b: %v", err)
	}
	if time.Since(start) >= lease {
		return false // a's lease may have run out before b was claimed
	}
	if ca.ID != a.ID || cb.ID != b.ID {
		t.Fatalf("claimed %s then %s, want %s then %s", ca.ID, cb.ID, a.ID, b.ID)
	}
	clock.pass(lease + 300*time.Millisecond) // the "replica" holding them died
	_, err = q1.Renew(ctx, rd, a.ID, ca.LeaseToken)
	wantErr(t, "renew after expiry", err, worklist.ErrLeaseExpired)
	// Another replica claims next: the expired tasks are back, in order.
	c2, err := q2.ClaimNext(ctx, rd2, group, worklist.StageRead)
	if err != nil || c2.ID != a.ID {
		t.Fatalf("reclaim after expiry: %v %v", c2.ID, err)
	}
	_, err = q1.Complete(ctx, rd, a.ID, ca.LeaseToken)
	wantErr(t, "complete with expired token", err, worklist.ErrLeaseExpired)
	n, err := q2.Expire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got, err := q2.Get(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := []worklist.EventType{worklist.EvCreated, worklist.EvClaimed, worklist.EvExpired, worklist.EvClaimed}
	if h := historyTypes(got); !slices.Equal(h, want) || got.Assignee != rd2.ID {
		t.Fatalf("history %v assignee %s, want %v reader2", h, got.Assignee, want)
	}
	gb, err := q2.Get(ctx, b.ID)
	if err != nil {
		t.Fatal(err)
	}
	if gb.State != worklist.Queued || n != 0 && n != 1 {
		t.Fatalf("b after expiry: %s (expired %d)", gb.State, n)
	}
	// Claiming a specific task whose lease expired works directly.
	c := mustUpsert(t, q1, nt(ref(14), group, worklist.Routine, time.Hour))
	if _, err := q1.Claim(ctx, rd, c.ID); err != nil {
		t.Fatal(err)
	}
	clock.pass(lease + 300*time.Millisecond)
	if _, err := q2.Claim(ctx, rd2, c.ID); err != nil {
		t.Fatalf("claim of an expired lease: %v", err)
	}
	return true
}

func testClockSkew(t *testing.T, r Replicas) {
	ctx := context.Background()
	// Replica b's clock runs an hour ahead (and c's an hour behind); leases
	// of ten seconds must still be judged by one clock only.
	lease := 10 * time.Second
	a := r(worklist.Config{Lease: lease})
	b := r(worklist.Config{Lease: lease, Now: func() time.Time { return time.Now().Add(time.Hour) }})
	c := r(worklist.Config{Lease: lease, Now: func() time.Time { return time.Now().Add(-time.Hour) }})
	task := mustUpsert(t, a, nt("1.2.20", "ct", worklist.Routine, time.Hour))
	cl, err := a.Claim(ctx, reader, task.ID)
	if err != nil {
		t.Fatal(err)
	}
	_, err = b.Claim(ctx, reader2, task.ID)
	wantErr(t, "claim from a fast-clock replica", err, worklist.ErrAlreadyClaimed)
	_, err = b.ClaimNext(ctx, reader2, "ct", worklist.StageRead)
	wantErr(t, "claim next from a fast-clock replica", err, worklist.ErrEmpty)
	if n, err := b.Expire(ctx); err != nil || n != 0 {
		t.Fatalf("fast-clock replica expired %d leases (%v)", n, err)
	}
	if _, err := c.Renew(ctx, reader, task.ID, cl.LeaseToken); err != nil {
		t.Fatalf("renew via slow-clock replica: %v", err)
	}
	if _, err := b.Complete(ctx, reader, task.ID, cl.LeaseToken); err != nil {
		t.Fatalf("complete via fast-clock replica: %v", err)
	}
}

func testReassign(t *testing.T, r Replicas) {
	ctx := context.Background()
	q := r(worklist.Config{})
	task := mustUpsert(t, q, nt("1.2.30", "ct", worklist.Routine, time.Hour))
	c, err := q.Claim(ctx, reader, task.ID)
	if err != nil {
		t.Fatal(err)
	}
	_, err = q.Reassign(ctx, reader, task.ID, "ecg", "")
	wantErr(t, "reassign by non-admin", err, worklist.ErrForbidden)
	re, err := q.Reassign(ctx, admin, task.ID, "ecg", reader2.ID)
	if err != nil {
		t.Fatal(err)
	}
	if re.Group != "ecg" || re.State != worklist.Queued || re.Assignee != reader2.ID {
		t.Fatalf("reassigned %+v", re)
	}
	_, err = q.Renew(ctx, reader, task.ID, c.LeaseToken)
	wantErr(t, "renew revoked lease", err, worklist.ErrLeaseExpired)
	_, err = q.ClaimNext(ctx, reader, "ecg", worklist.StageRead)
	wantErr(t, "claim next of a task assigned to someone else", err, worklist.ErrEmpty)
	_, err = q.Claim(ctx, reader, task.ID)
	wantErr(t, "claim of a task assigned to someone else", err, worklist.ErrForbidden)
	got, err := q.ClaimNext(ctx, reader2, "ecg", worklist.StageRead)
	if err != nil || got.ID != task.ID {
		t.Fatalf("assignee claims: %v %v", got.ID, err)
	}
	_, err = q.Reassign(ctx, admin, "0000000000000deadbeef", "ct", "")
	wantErr(t, "reassign unknown", err, worklist.ErrNotFound)
}

func testCancelEscalate(t *testing.T, r Replicas) {
	ctx := context.Background()
	q := r(worklist.Config{})
	a := mustUpsert(t, q, nt("1.2.40", "ct", worklist.Routine, time.Hour))
	b := mustUpsert(t, q, nt("1.2.41", "ct", worklist.Routine, 2*time.Hour))
	e, err := q.Escalate(ctx, b.ID, worklist.Escalation{Priority: worklist.STAT, Flag: worklist.FlagSLANear, Note: "due in 10m"})
	if err != nil {
		t.Fatal(err)
	}
	if e.Priority != worklist.STAT || !e.HasFlag(worklist.FlagSLANear) {
		t.Fatalf("escalated %+v", e)
	}
	again, err := q.Escalate(ctx, b.ID, worklist.Escalation{Priority: worklist.Critical, Flag: worklist.FlagSLANear})
	if err != nil || again.Version != e.Version || again.Priority != worklist.STAT {
		t.Fatalf("escalation with the same flag must be a no-op: %+v %v", again, err)
	}
	_, err = q.Cancel(ctx, outside, a.ID, "duplicate")
	wantErr(t, "cancel outside group", err, worklist.ErrForbidden)
	cn, err := q.Cancel(ctx, admin, a.ID, "duplicate")
	if err != nil || cn.State != worklist.Cancelled {
		t.Fatalf("cancel: %+v %v", cn, err)
	}
	if _, err := q.Cancel(ctx, admin, a.ID, "again"); err != nil {
		t.Fatalf("cancel twice: %v", err)
	}
	_, err = q.Escalate(ctx, a.ID, worklist.Escalation{Priority: worklist.Critical, Flag: "x"})
	wantErr(t, "escalate cancelled", err, worklist.ErrConflict)
	c, err := q.ClaimNext(ctx, reader, "ct", worklist.StageRead)
	if err != nil || c.ID != b.ID {
		t.Fatalf("claim after cancel/escalate: %v %v", c.ID, err)
	}
	al, err := q.Escalate(ctx, b.ID, worklist.Escalation{Priority: worklist.Critical, Flag: worklist.FlagCriticalUnclaimed, Alert: true})
	if err != nil || al.State != worklist.Claimed || al.Priority != worklist.Critical {
		t.Fatalf("escalate a claimed task: %+v %v", al, err)
	}
	if _, err := q.Complete(ctx, senior2(reader), b.ID, c.LeaseToken); err != nil {
		t.Fatalf("escalation must not revoke the lease: %v", err)
	}
	_, err = q.Cancel(ctx, admin, b.ID, "late")
	wantErr(t, "cancel done", err, worklist.ErrConflict)
	got, _ := q.Get(ctx, b.ID)
	want := []worklist.EventType{worklist.EvCreated, worklist.EvEscalated, worklist.EvClaimed, worklist.EvAlert, worklist.EvCompleted}
	if h := historyTypes(got); !slices.Equal(h, want) {
		t.Fatalf("history %v want %v", h, want)
	}
}

func testImagesAdded(t *testing.T, r Replicas) {
	ctx := context.Background()
	q := r(worklist.Config{})
	task := mustUpsert(t, q, nt("1.2.50", "ct", worklist.Routine, time.Hour))
	c, _ := q.Claim(ctx, senior, task.ID)
	if _, err := q.Complete(ctx, senior, task.ID, c.LeaseToken); err != nil {
		t.Fatal(err)
	}
	n := nt("1.2.50", "ct", worklist.Routine, time.Hour)
	n.Instances = 3
	f, created, err := q.Upsert(ctx, n)
	if err != nil || created {
		t.Fatalf("late upsert: %v %v", created, err)
	}
	if f.ID != task.ID || f.State != worklist.Done || !f.HasFlag(worklist.FlagImagesAdded) || f.Instances != 3 {
		t.Fatalf("late instances after report: %+v", f)
	}
}

func testList(t *testing.T, r Replicas) {
	ctx := context.Background()
	q := r(worklist.Config{})
	for i := range 25 {
		n := nt(fmt.Sprintf("L%02d", i), "ct", worklist.Routine, time.Duration(i)*time.Minute)
		if i%5 == 0 {
			n.Site = "site-b"
		}
		mustUpsert(t, q, n)
	}
	mustUpsert(t, q, nt("M", "mr", worklist.Routine, 0))
	c, err := q.ClaimNext(ctx, reader, "ct", worklist.StageRead)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		f         worklist.Filter
		total     int
		first     string
		pageCount int
	}{
		{worklist.Filter{Group: "ct"}, 25, "L00", 25},
		{worklist.Filter{Group: "ct", State: worklist.Queued}, 24, "L01", 24},
		{worklist.Filter{Group: "ct", State: worklist.Queued, Limit: 10, Offset: 20}, 24, "L21", 4},
		{worklist.Filter{Site: "site-b"}, 5, "L00", 5},
		{worklist.Filter{Assignee: reader.ID}, 1, "L00", 1},
		{worklist.Filter{State: worklist.Done}, 0, "", 0},
		{worklist.Filter{}, 26, "L00", 26},
	}
	for _, tc := range cases {
		p, err := q.List(ctx, tc.f)
		if err != nil {
			t.Fatal(err)
		}
		first := ""
		if len(p.Tasks) > 0 {
			first = p.Tasks[0].Ref
		}
		if p.Total != tc.total || len(p.Tasks) != tc.pageCount || first != tc.first {
			t.Errorf("List(%+v): total %d len %d first %q; want %d %d %q", tc.f, p.Total, len(p.Tasks), first, tc.total, tc.pageCount, tc.first)
		}
		for _, task := range p.Tasks {
			if task.LeaseToken != "" {
				t.Fatalf("List leaked a lease token")
			}
		}
	}
	_, err = q.List(ctx, worklist.Filter{Limit: 5000})
	wantErr(t, "list with huge limit", err, worklist.ErrInvalid)
	_ = c
}

func testEvents(t *testing.T, r Replicas) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	q1, q2 := r(worklist.Config{}), r(worklist.Config{})
	sub, err := q2.Subscribe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	task := mustUpsert(t, q1, nt("1.2.60", "ct", worklist.Critical, time.Hour))
	if _, err := q1.Claim(ctx, reader, task.ID); err != nil {
		t.Fatal(err)
	}
	var got []worklist.EventType
	for len(got) < 2 {
		select {
		case e := <-sub.C():
			if e.Task != task.ID {
				continue
			}
			if e.Token != "" {
				t.Fatal("event bus leaked a lease token")
			}
			if e.Group != "ct" || e.Site != "site-a" {
				t.Fatalf("event without group/site: %+v", e)
			}
			got = append(got, e.Type)
		case <-ctx.Done():
			t.Fatalf("events seen on the other replica: %v", got)
		}
	}
	if !slices.Equal(got, []worklist.EventType{worklist.EvCreated, worklist.EvClaimed}) {
		t.Fatalf("events %v", got)
	}
}

// testConcurrency: 64 readers on two replicas race over N tasks; every task
// must be completed exactly once.
func testConcurrency(t *testing.T, r Replicas) {
	ctx := context.Background()
	n := 10_000
	if testing.Short() {
		n = 1000
	}
	reps := []worklist.Queue{r(worklist.Config{}), r(worklist.Config{})}
	seed := func(lo, hi int) error {
		for i := lo; i < hi; i++ {
			p := worklist.Priority(i % 4)
			if _, _, err := reps[i%2].Upsert(ctx, nt(fmt.Sprintf("C%05d", i), "ct", p, time.Duration(i)*time.Second)); err != nil {
				return err
			}
		}
		return nil
	}
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for w := range 4 {
		wg.Go(func() {
			if err := seed(w*n/4, (w+1)*n/4); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	select {
	case err := <-errs:
		t.Fatal(err)
	default:
	}
	var (
		mu        sync.Mutex
		completed = map[string]int{}
		claims    atomic.Int64
	)
	for w := range 64 {
		wg.Go(func() {
			q := reps[w%2]
			a := worklist.Actor{ID: fmt.Sprintf("r%02d", w), Groups: []string{"ct"}, Senior: true}
			for {
				task, err := q.ClaimNext(ctx, a, "ct", worklist.StageRead)
				if errors.Is(err, worklist.ErrEmpty) {
					return
				}
				if err != nil {
					errs <- err
					return
				}
				// A task that is never removed from its queue would be
				// claimed for ever: stop at the first claim past n.
				if claims.Add(1) > int64(n) {
					errs <- fmt.Errorf("more than %d claims of %d tasks: %s (%s) claimed again by %s", n, n, task.ID, task.Ref, a.ID)
					return
				}
				if _, err := q.Complete(ctx, a, task.ID, task.LeaseToken); err != nil {
					errs <- fmt.Errorf("complete %s by %s: %w", task.ID, a.ID, err)
					return
				}
				mu.Lock()
				completed[task.ID]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if len(completed) != n || claims.Load() != int64(n) {
		t.Fatalf("completed %d distinct tasks with %d claims, want %d", len(completed), claims.Load(), n)
	}
	for id, c := range completed {
		if c != 1 {
			t.Fatalf("task %s completed %d times", id, c)
		}
	}
	p, err := reps[0].List(ctx, worklist.Filter{State: worklist.Done, Limit: 1})
	if err != nil || p.Total != n {
		t.Fatalf("done tasks %d (%v), want %d", p.Total, err, n)
	}
}

// testProperty drives random operation sequences and checks the invariants
// after every step: at most one live lease per task, queue order, no task
// lost, and the errors the contract promises.
func testProperty(t *testing.T, r Replicas) {
	ctx := context.Background()
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 42))
	reps := []worklist.Queue{r(worklist.Config{}), r(worklist.Config{})}
	actors := []worklist.Actor{reader, reader2, senior, {ID: "senior2", Groups: []string{"ct", "ecg"}, Senior: true}}
	groups := []string{"ct", "ecg"}
	tokens := map[string][]string{} // task → every token ever handed out
	var ids []string
	steps := 400
	if testing.Short() {
		steps = 150
	}
	for step := range steps {
		q := reps[rng.IntN(2)]
		a := actors[rng.IntN(len(actors))]
		pick := func() string {
			if len(ids) == 0 {
				return "0000000000000deadbeef"
			}
			return ids[rng.IntN(len(ids))]
		}
		anyToken := func(id string) string {
			ts := tokens[id]
			if len(ts) == 0 {
				return "none"
			}
			return ts[rng.IntN(len(ts))]
		}
		var err error
		switch op := rng.IntN(9); op {
		case 0, 1:
			ref := fmt.Sprintf("P%03d", rng.IntN(60))
			var task worklist.Task
			var created bool
			task, created, err = q.Upsert(ctx, nt(ref, groups[rng.IntN(2)], worklist.Priority(rng.IntN(4)), time.Duration(rng.IntN(100))*time.Minute))
			if created {
				ids = append(ids, task.ID)
			}
		case 2:
			var task worklist.Task
			stage := worklist.StageRead
			if rng.IntN(3) == 0 {
				stage = worklist.StageSign
			}
			task, err = q.ClaimNext(ctx, a, groups[rng.IntN(2)], stage)
			if err == nil {
				tokens[task.ID] = append(tokens[task.ID], task.LeaseToken)
			}
		case 3:
			var task worklist.Task
			task, err = q.Claim(ctx, a, pick())
			if err == nil {
				tokens[task.ID] = append(tokens[task.ID], task.LeaseToken)
			}
		case 4:
			id := pick()
			_, err = q.Renew(ctx, a, id, anyToken(id))
		case 5:
			id := pick()
			_, err = q.Release(ctx, a, id, anyToken(id))
		case 6:
			id := pick()
			_, err = q.Complete(ctx, a, id, anyToken(id))
		case 7:
			if rng.IntN(2) == 0 {
				_, err = q.Reassign(ctx, admin, pick(), groups[rng.IntN(2)], "")
			} else {
				_, err = q.Cancel(ctx, admin, pick(), "property")
			}
		case 8:
			_, err = q.Escalate(ctx, pick(), worklist.Escalation{Priority: worklist.Priority(rng.IntN(4)), Flag: fmt.Sprintf("f%d", rng.IntN(3))})
		}
		if err != nil && !isContractError(err) {
			t.Fatalf("step %d: unexpected error %v", step, err)
		}
		checkInvariants(t, step, reps[rng.IntN(2)], ids, tokens)
	}
}

func isContractError(err error) bool {
	for _, e := range []error{worklist.ErrNotFound, worklist.ErrEmpty, worklist.ErrAlreadyClaimed, worklist.ErrConflict, worklist.ErrLeaseExpired, worklist.ErrForbidden} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

func checkInvariants(t *testing.T, step int, q worklist.Queue, ids []string, tokens map[string][]string) {
	t.Helper()
	ctx := context.Background()
	seen := map[string]bool{}
	for _, st := range []worklist.State{worklist.Queued, worklist.Claimed, worklist.Done, worklist.Cancelled} {
		p, err := q.List(ctx, worklist.Filter{State: st, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		for i, task := range p.Tasks {
			if seen[task.ID] {
				t.Fatalf("step %d: task %s listed twice", step, task.ID)
			}
			seen[task.ID] = true
			if st == worklist.Queued && i > 0 {
				prev := p.Tasks[i-1]
				if prev.Group == task.Group && prev.Stage == task.Stage && worklist.Before(task, prev) {
					t.Fatalf("step %d: queue order broken: %s before %s", step, prev.ID, task.ID)
				}
			}
			if (task.State == worklist.Claimed) != (task.Assignee != "" && !task.LeaseExpires.IsZero()) {
				t.Fatalf("step %d: task %s state %s assignee %q lease %v", step, task.ID, task.State, task.Assignee, task.LeaseExpires)
			}
		}
	}
	if len(seen) != len(ids) {
		t.Fatalf("step %d: %d tasks listed, %d created (task lost or duplicated)", step, len(seen), len(ids))
	}
	// At most one token per task is live: Get shows the holder; a Renew
	// with every token ever issued succeeds for at most one of them. Renew
	// is a state change, so probe only every 20th step.
	if step%20 != 0 {
		return
	}
	for id, ts := range tokens {
		live := 0
		for _, tok := range ts {
			if _, err := q.Renew(ctx, admin, id, tok); err == nil {
				live++
			} else if !isContractError(err) {
				t.Fatal(err)
			}
		}
		if live > 1 {
			t.Fatalf("step %d: task %s has %d live leases", step, id, live)
		}
	}
}
