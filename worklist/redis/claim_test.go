package redis

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/huren-health/huren/internal/testbackend"
	"github.com/huren-health/huren/storage/fs"
	"github.com/huren-health/huren/worklist"
)

func testQueue(t *testing.T, cfg worklist.Config) *Queue {
	t.Helper()
	c := goredis.NewClient(&goredis.Options{Addr: testbackend.RedisAddr(t), PoolSize: 64})
	t.Cleanup(func() { _ = c.Close() })
	q := New(c, testbackend.UniqueName("wlclaim-"), cfg)
	t.Cleanup(func() {
		_ = q.deleteAll(context.Background())
		_ = q.Close()
	})
	return q
}

func upsertN(t *testing.T, q *Queue, group string, n int) []worklist.Task {
	t.Helper()
	base := time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)
	out := make([]worklist.Task, n)
	for i := range n {
		task, _, err := q.Upsert(context.Background(), worklist.NewTask{
			Doc:   worklist.Doc{Kind: worklist.KindStudy, Ref: fmt.Sprintf("1.2.%d", i), Site: "site-a", Modality: "CT", PatientName: `Wang^"Li"`},
			Group: group, Priority: worklist.Priority(i % 4), Due: base.Add(time.Duration(i) * time.Minute),
		})
		if err != nil {
			t.Fatal(err)
		}
		out[i] = task
	}
	return out
}

// claimAll runs workers concurrent ClaimNext loops (actor of worker w:
// actors[w%len(actors)]) until the queue is empty and returns who claimed
// what.
func claimAll(t *testing.T, q *Queue, actors []worklist.Actor, workers int, group string, stage worklist.Stage) map[string][]worklist.Task {
	t.Helper()
	var (
		mu  sync.Mutex
		got = map[string][]worklist.Task{}
		wg  sync.WaitGroup
	)
	errs := make(chan error, workers)
	for w := range workers {
		a := actors[w%len(actors)]
		wg.Go(func() {
			for {
				task, err := q.ClaimNext(context.Background(), a, group, stage)
				if errors.Is(err, worklist.ErrEmpty) {
					return
				}
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				got[task.ID] = append(got[task.ID], task)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	return got
}

// TestClaimNextBatches: concurrent ClaimNext calls of several actors are
// served in batches; every task goes to exactly one caller, reassigned
// tasks only to their assignee, and each returned task is exactly what the
// backend stored (its own token, lease, version, doc), with one "claimed"
// event each in its history, on the event bus (without token) and in
// object storage.
func TestClaimNextBatches(t *testing.T) {
	store, err := fs.New(fs.Config{Root: t.TempDir()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	q := testQueue(t, worklist.Config{Store: store})
	ctx := context.Background()
	sub, err := q.Subscribe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	const n = 400
	// Collect claimed events as they come (the subscription buffer is
	// smaller than all the events of this test).
	claimedEvents := make(chan worklist.Event, n)
	evErr := make(chan error, 1)
	go func() {
		for e := range sub.C() {
			switch e.Type {
			case worklist.EvResync:
				evErr <- errors.New("subscriber fell behind")
				return
			case worklist.EvClaimed:
				claimedEvents <- e
			}
		}
	}()
	tasks := upsertN(t, q, "ct", n)
	actors := []worklist.Actor{
		{ID: "r0", Groups: []string{"ct"}}, {ID: "r1", Groups: []string{"ct"}},
		{ID: "r2", Groups: []string{"ct"}}, {ID: `r"3`, Groups: []string{"ct"}},
	}
	admin := worklist.Actor{ID: "admin", Admin: true}
	reassigned := map[string]string{}
	for i := 0; i < n; i += 7 {
		to := actors[i%len(actors)].ID
		if _, err := q.Reassign(ctx, admin, tasks[i].ID, "", to); err != nil {
			t.Fatal(err)
		}
		reassigned[tasks[i].ID] = to
	}
	cl := q.claimer("ct", worklist.StageRead)
	before := cl.batches.Load()
	// Batching happens when calls arrive while claimInflight scripts are
	// running. Redis is fast enough that 40 workers may never overlap, so
	// the first scripts are held up: Redis pauses writes (scripts included)
	// until calls have queued behind them.
	pauser := goredis.NewClient(&goredis.Options{Addr: testbackend.RedisAddr(t)})
	defer pauser.Close()
	unpause := func() {
		if err := pauser.Do(ctx, "CLIENT", "UNPAUSE").Err(); err != nil {
			t.Errorf("client unpause: %v", err)
		}
	}
	if err := pauser.Do(ctx, "CLIENT", "PAUSE", 60_000, "WRITE").Err(); err != nil {
		t.Fatalf("client pause: %v", err)
	}
	paused := true
	defer func() {
		if paused {
			unpause()
		}
	}()
	const workers = 40
	gotc := make(chan map[string][]worklist.Task, 1)
	go func() { gotc <- claimAll(t, q, actors, workers, "ct", worklist.StageRead) }()
	var got map[string][]worklist.Task
	queued, inflight := 0, 0
	// Until calls queue, or every worker has a script of its own waiting
	// on Redis (nothing can queue any more), or the claims ran regardless.
	for got == nil && queued < 2 && inflight < workers {
		select {
		case got = <-gotc:
		case <-time.After(time.Millisecond):
		}
		cl.mu.Lock()
		queued, inflight = len(cl.pending), cl.inflight
		cl.mu.Unlock()
	}
	unpause()
	paused = false
	if got == nil {
		got = <-gotc
	}
	if queued < 2 {
		t.Fatalf("no calls queued behind the paused scripts (%d queued, %d scripts in flight)", queued, inflight)
	}
	batches := cl.batches.Load() - before
	if len(got) != n {
		t.Fatalf("%d tasks claimed, want %d", len(got), n)
	}
	// At least two calls queued behind the paused scripts and the first of
	// them ran them as one batch.
	if batches >= n {
		t.Fatalf("no batching happened (%d scripts for %d claims)", batches, n)
	}
	t.Logf("%d claims in %d scripts", n, batches)
	for id, cs := range got {
		if len(cs) != 1 {
			t.Fatalf("task %s claimed %d times", id, len(cs))
		}
		c := cs[0]
		if to, ok := reassigned[id]; ok && c.Assignee != to {
			t.Fatalf("task %s reassigned to %s claimed by %s", id, to, c.Assignee)
		}
		stored, err := q.Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		c.LeaseToken, stored.History = "", nil
		if d := diffTask(c, stored); d != "" {
			t.Fatalf("claimed task differs from stored: %s", d)
		}
		if _, err := q.Renew(ctx, worklist.Actor{ID: cs[0].Assignee}, id, cs[0].LeaseToken); err != nil {
			t.Fatalf("renew with the claim's token: %v", err)
		}
	}
	full, err := q.Get(ctx, tasks[7].ID)
	if err != nil {
		t.Fatal(err)
	}
	types := []worklist.EventType{}
	for i, e := range full.History {
		types = append(types, e.Type)
		if e.Version != int64(i+1) || e.Token != "" {
			t.Fatalf("history[%d] %+v", i, e)
		}
	}
	if !slices.Equal(types, []worklist.EventType{worklist.EvCreated, worklist.EvReassigned, worklist.EvClaimed, worklist.EvRenewed}) {
		t.Fatalf("history %v", types)
	}
	if c := full.History[2]; c.Assignee != reassigned[tasks[7].ID] || c.Actor != c.Assignee || c.State != worklist.Claimed ||
		c.Group != "ct" || c.Site != "site-a" || c.Priority != tasks[7].Priority || c.LeaseExpires == 0 {
		t.Fatalf("claimed event %+v", c)
	}
	seen := map[string]bool{}
	timeout := time.After(30 * time.Second)
	for len(seen) < n {
		select {
		case e := <-claimedEvents:
			if e.Token != "" || seen[e.Task] || got[e.Task] == nil {
				t.Fatalf("claimed event %+v (token leaked, duplicate or unknown task)", e)
			}
			seen[e.Task] = true
		case err := <-evErr:
			t.Fatal(err)
		case <-timeout:
			t.Fatalf("%d claimed events of %d", len(seen), n)
		}
	}
	// Every claimed event reaches storage as its own object.
	deadline := time.Now().Add(60 * time.Second)
	for {
		tasks, _, err := worklist.LoadEvents(ctx, store)
		if err != nil {
			t.Fatal(err)
		}
		claimed := 0
		for _, task := range tasks {
			if task.State == worklist.Claimed {
				claimed++
			}
		}
		if claimed == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d claimed tasks in storage, want %d", claimed, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func diffTask(a, b worklist.Task) string {
	if a.ID != b.ID || a.Doc != b.Doc || a.Group != b.Group || a.Stage != b.Stage || a.State != b.State ||
		a.Priority != b.Priority || !a.Due.Equal(b.Due) || !a.Created.Equal(b.Created) || a.Assignee != b.Assignee ||
		a.Reader != b.Reader || !a.LeaseExpires.Equal(b.LeaseExpires) || !slices.Equal(a.Flags, b.Flags) || a.Version != b.Version {
		return fmt.Sprintf("\n got %+v\nwant %+v", a, b)
	}
	return ""
}

// TestClaimNextBatchesSign: in a batch of "to sign" claims a senior never
// gets the task they read themselves.
func TestClaimNextBatchesSign(t *testing.T) {
	q := testQueue(t, worklist.Config{})
	ctx := context.Background()
	const n = 200
	upsertN(t, q, "ct", n)
	juniors := []worklist.Actor{{ID: "a", Groups: []string{"ct"}}, {ID: "b", Groups: []string{"ct"}}}
	for i := range n {
		j := juniors[i%2]
		c, err := q.ClaimNext(ctx, j, "ct", worklist.StageRead)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := q.Complete(ctx, j, c.ID, c.LeaseToken); err != nil {
			t.Fatal(err)
		}
	}
	seniors := []worklist.Actor{
		{ID: "a", Groups: []string{"ct"}, Senior: true}, {ID: "b", Groups: []string{"ct"}, Senior: true},
	}
	got := claimAll(t, q, seniors, 16, "ct", worklist.StageSign)
	if len(got) != n {
		t.Fatalf("%d to-sign tasks claimed, want %d", len(got), n)
	}
	for id, cs := range got {
		if len(cs) != 1 || cs[0].Reader == cs[0].Assignee || cs[0].Reader == "" || cs[0].Stage != worklist.StageSign {
			t.Fatalf("task %s claims %+v", id, cs)
		}
	}
}

// TestClaimNextWaiting drives the hand-over by hand: with every slot busy a
// call waits; its context ending withdraws it; otherwise the next finished
// script hands it a batch that it runs itself.
func TestClaimNextWaiting(t *testing.T) {
	q := testQueue(t, worklist.Config{})
	upsertN(t, q, "ct", 2)
	a := worklist.Actor{ID: "r", Groups: []string{"ct"}}
	cl := q.claimer("ct", worklist.StageRead)
	cl.mu.Lock()
	cl.inflight = claimInflight // as if two scripts were running
	cl.mu.Unlock()

	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := q.ClaimNext(ctx, a, "ct", worklist.StageRead)
		errc <- err
	}()
	waitPending(t, cl, 1)
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled waiting claim: %v", err)
	}
	waitPending(t, cl, 0)

	res := make(chan worklist.Task, 1)
	go func() {
		task, err := q.ClaimNext(context.Background(), a, "ct", worklist.StageRead)
		if err != nil {
			t.Error(err)
		}
		res <- task
	}()
	waitPending(t, cl, 1)
	// One of the "running scripts" finishes: it claims for its own caller
	// and hands the waiting call its batch.
	own := &claimReq{actor: "s", token: newToken(), start: time.Now(), res: make(chan claimRes, 1)}
	q.runClaims(context.Background(), cl, []*claimReq{own})
	first := <-own.res
	second := <-res
	if first.err != nil || second.ID == "" || first.task.ID == second.ID {
		t.Fatalf("claims %+v / %+v", first, second)
	}
	cl.mu.Lock()
	inflight := cl.inflight
	cl.mu.Unlock()
	if inflight != claimInflight-1 {
		t.Fatalf("%d scripts in flight after the hand-over, want %d", inflight, claimInflight-1)
	}
}

func waitPending(t *testing.T, cl *claimer, n int) {
	t.Helper()
	for range 5000 {
		cl.mu.Lock()
		p := len(cl.pending)
		cl.mu.Unlock()
		if p == n {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("pending never reached %d", n)
}

// TestEventJSONEscaping: the scripts build event JSON by concatenation;
// names in Chinese, quotes, backslashes and control characters must come
// back intact through the history, the event bus and object storage.
func TestEventJSONEscaping(t *testing.T) {
	store, err := fs.New(fs.Config{Root: t.TempDir()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	q := testQueue(t, worklist.Config{Store: store})
	ctx := context.Background()
	sub, err := q.Subscribe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	group, site := "县医院影像科", `乡镇"卫生院"\一`
	task, _, err := q.Upsert(ctx, worklist.NewTask{
		Doc:   worklist.Doc{Kind: worklist.KindECG, Ref: "ecg-1", Site: site, PatientName: "王\x01五"},
		Group: group, Priority: worklist.Critical, Due: time.Now().Add(time.Hour),
	})
	if err != nil {
		t.Fatal(err)
	}
	a := worklist.Actor{ID: "张\"医生\\", Groups: []string{group}}
	c, err := q.ClaimNext(ctx, a, group, worklist.StageRead)
	if err != nil || c.ID != task.ID || c.Site != site {
		t.Fatalf("claim %+v %v", c, err)
	}
	reason := "line1\nline2\t\"q\" \\ \x7f end"
	if _, err := q.Cancel(ctx, worklist.Actor{ID: "admin", Admin: true}, task.ID, reason); err != nil {
		t.Fatal(err)
	}
	got, err := q.Get(ctx, task.ID)
	if err != nil {
		t.Fatal(err)
	}
	check := func(where string, evs []worklist.Event) {
		t.Helper()
		if len(evs) != 3 {
			t.Fatalf("%s: %d events", where, len(evs))
		}
		for _, e := range evs {
			if e.Group != group || e.Site != site {
				t.Fatalf("%s: event %+v", where, e)
			}
		}
		if evs[1].Actor != a.ID || evs[1].Assignee != a.ID || evs[2].Note != reason {
			t.Fatalf("%s: claim %+v cancel %+v", where, evs[1], evs[2])
		}
	}
	check("history", got.History)
	var bus []worklist.Event
	timeout := time.After(30 * time.Second)
	for len(bus) < 3 {
		select {
		case e := <-sub.C():
			bus = append(bus, e)
		case <-timeout:
			t.Fatalf("%d events on the bus", len(bus))
		}
	}
	check("bus", bus)
	deadline := time.Now().Add(60 * time.Second)
	for {
		tasks, _, err := worklist.LoadEvents(ctx, store)
		if err != nil {
			t.Fatal(err)
		}
		if len(tasks) == 1 && len(tasks[0].History) == 3 {
			check("storage", tasks[0].History)
			if tasks[0].PatientName != "王\x01五" {
				t.Fatalf("stored doc %+v", tasks[0].Doc)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("events not stored")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
