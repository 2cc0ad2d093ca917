// Package memory is the in-process worklist.Queue: the embedded default for
// a single `huren serve`. State lives in one mutex-guarded structure; each
// (group, stage) queue is a slice kept in queue order, so ClaimNext is a
// scan from the front. Events fan out in-process and, with Config.Store, are
// written to object storage through a bounded worklist.Outbox.
package memory

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/huren-health/huren/storage"
	"github.com/huren-health/huren/worklist"
)

var (
	_ worklist.Queue     = (*Queue)(nil)
	_ worklist.Rebuilder = (*Queue)(nil)
)

type qkey struct {
	group string
	stage worklist.Stage
}

// Queue is the in-memory worklist. Safe for concurrent use.
type Queue struct {
	cfg   worklist.Config
	now   func() time.Time
	lease time.Duration
	hub   worklist.Hub
	ob    *worklist.Outbox
	m     *worklist.Metrics

	mu     sync.Mutex
	tasks  map[string]*worklist.Task
	byKey  map[string]string
	queues map[qkey][]*worklist.Task
	leased map[string]*worklist.Task
	seq    int64
	closed bool
}

// New returns an empty queue. It starts the outbox writer when cfg.Store is
// set; Close stops it.
func New(cfg worklist.Config) *Queue {
	q := &Queue{cfg: cfg, now: cfg.Now, lease: cfg.LeaseOrDefault()}
	if q.now == nil {
		q.now = time.Now
	}
	q.m = worklist.NewMetrics(cfg.Registerer, "memory")
	if cfg.Store != nil {
		q.ob = worklist.NewOutbox(cfg.Store, cfg.OutboxLimitOrDefault(), cfg.LoggerOrDiscard().With("component", "worklist.memory"))
	}
	if cfg.Registerer != nil && q.ob != nil {
		cfg.Registerer.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "huren_worklist_outbox_pending", Help: "Task events waiting to be written to object storage.",
			ConstLabels: prometheus.Labels{"backend": "memory"},
		}, func() float64 { return float64(q.ob.Len()) }))
	}
	q.reset()
	return q
}

func (q *Queue) reset() {
	q.tasks = map[string]*worklist.Task{}
	q.byKey = map[string]string{}
	q.queues = map[qkey][]*worklist.Task{}
	q.leased = map[string]*worklist.Task{}
}

func token() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// begin locks q and checks that a state change may proceed.
func (q *Queue) begin(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return fmt.Errorf("worklist/memory: closed: %w", worklist.ErrUnavailable)
	}
	if q.ob != nil && q.ob.Full() {
		q.mu.Unlock()
		return fmt.Errorf("worklist/memory: event outbox full (object storage down?): %w", worklist.ErrUnavailable)
	}
	return nil
}

func (q *Queue) enqueue(t *worklist.Task) {
	k := qkey{t.Group, t.Stage}
	s := q.queues[k]
	i, _ := slices.BinarySearchFunc(s, t, func(a, b *worklist.Task) int { return worklist.CompareQueue(*a, *b) })
	q.queues[k] = slices.Insert(s, i, t)
}

func (q *Queue) dequeue(t *worklist.Task) {
	k := qkey{t.Group, t.Stage}
	s := q.queues[k]
	i, found := slices.BinarySearchFunc(s, t, func(a, b *worklist.Task) int { return worklist.CompareQueue(*a, *b) })
	if found && s[i] == t {
		q.queues[k] = slices.Delete(s, i, i+1)
		return
	}
	// Not where order says: search linearly (defensive; never expected).
	if j := slices.Index(s, t); j >= 0 {
		q.queues[k] = slices.Delete(s, j, j+1)
	}
}

// emit records an event for t's current state: version, history, hub, outbox.
func (q *Queue) emit(t *worklist.Task, typ worklist.EventType, actor, note string, withDoc bool, now time.Time) {
	q.seq++
	t.Version++
	e := worklist.Event{
		Seq: q.seq, At: now.UnixMilli(), Task: t.ID, Type: typ, Actor: actor, Note: note,
		Group: t.Group, Site: t.Site, Stage: t.Stage, State: t.State, Priority: t.Priority,
		Due: t.Due.UnixMilli(), Created: t.Created.UnixMilli(), Assignee: t.Assignee, Reader: t.Reader,
		Token: t.LeaseToken, Flags: strings.Join(t.Flags, ","), Version: t.Version,
	}
	if !t.LeaseExpires.IsZero() {
		e.LeaseExpires = t.LeaseExpires.UnixMilli()
	}
	if withDoc {
		d := t.Doc
		e.Doc = &d
	}
	t.History = append(t.History, e)
	q.hub.Publish(e)
	if q.ob != nil {
		q.ob.Add(e)
	}
}

func snapshot(t *worklist.Task, history bool) worklist.Task {
	c := *t
	c.Flags = slices.Clone(t.Flags)
	c.History = nil
	if history {
		c.History = slices.Clone(t.History)
	}
	return c
}

// expireLocked returns expired leases to their queues.
func (q *Queue) expireLocked(now time.Time) int {
	n := 0
	for id, t := range q.leased {
		if t.LeaseExpires.After(now) {
			continue
		}
		delete(q.leased, id)
		prev := t.Assignee
		t.State, t.Assignee, t.LeaseToken, t.LeaseExpires = worklist.Queued, "", "", time.Time{}
		q.enqueue(t)
		q.emit(t, worklist.EvExpired, worklist.System.ID, "lease of "+prev+" expired", false, now)
		n++
	}
	return n
}

// Upsert implements worklist.Queue.
func (q *Queue) Upsert(ctx context.Context, nt worklist.NewTask) (worklist.Task, bool, error) {
	if err := worklist.ValidateNewTask(nt); err != nil {
		return worklist.Task{}, false, err
	}
	if err := q.begin(ctx); err != nil {
		return worklist.Task{}, false, err
	}
	defer q.mu.Unlock()
	now := q.now()
	if id, ok := q.byKey[nt.Key()]; ok {
		t := q.tasks[id]
		if nt.IfAbsent {
			return snapshot(t, false), false, nil
		}
		switch t.State {
		case worklist.Done:
			t.Doc = nt.Doc
			if !t.HasFlag(worklist.FlagImagesAdded) {
				t.Flags = append(t.Flags, worklist.FlagImagesAdded)
			}
			q.emit(t, worklist.EvFlagged, nt.ActorID(), "instances added after report", true, now)
		case worklist.Queued, worklist.Claimed:
			queued := t.State == worklist.Queued
			if queued {
				q.dequeue(t)
			}
			t.Doc = nt.Doc
			t.Priority = max(t.Priority, nt.Priority)
			if queued {
				q.enqueue(t)
			}
			q.emit(t, worklist.EvUpdated, nt.ActorID(), "", true, now)
		default:
			t.Doc = nt.Doc
			q.emit(t, worklist.EvUpdated, nt.ActorID(), "", true, now)
		}
		return snapshot(t, false), false, nil
	}
	t := &worklist.Task{
		ID: worklist.NewID(now), Doc: nt.Doc, Group: nt.Group, Stage: worklist.StageRead, State: worklist.Queued,
		Priority: nt.Priority, Due: nt.Due.Truncate(time.Millisecond), Created: now.Truncate(time.Millisecond),
	}
	q.tasks[t.ID] = t
	q.byKey[nt.Key()] = t.ID
	q.enqueue(t)
	q.emit(t, worklist.EvCreated, nt.ActorID(), "", true, now)
	return snapshot(t, false), true, nil
}

// TaskIDs implements worklist.KeyIndex.
func (q *Queue) TaskIDs(ctx context.Context, keys []string) ([]string, error) {
	if err := q.begin(ctx); err != nil {
		return nil, err
	}
	defer q.mu.Unlock()
	ids := make([]string, len(keys))
	for i, k := range keys {
		ids[i] = q.byKey[k]
	}
	return ids, nil
}

// Get implements worklist.Queue.
func (q *Queue) Get(ctx context.Context, id string) (worklist.Task, error) {
	if err := ctx.Err(); err != nil {
		return worklist.Task{}, err
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	t, ok := q.tasks[id]
	if !ok {
		return worklist.Task{}, fmt.Errorf("worklist/memory get %q: %w", id, worklist.ErrNotFound)
	}
	return snapshot(t, true).Redacted(), nil
}

// List implements worklist.Queue.
func (q *Queue) List(ctx context.Context, f worklist.Filter) (worklist.Page, error) {
	if err := worklist.ValidateFilter(&f); err != nil {
		return worklist.Page{}, err
	}
	if err := ctx.Err(); err != nil {
		return worklist.Page{}, err
	}
	q.mu.Lock()
	var all []worklist.Task
	for _, t := range q.tasks {
		if f.Match(*t) {
			all = append(all, snapshot(t, false).Redacted())
		}
	}
	q.mu.Unlock()
	slices.SortFunc(all, worklist.CompareQueue)
	return worklist.Paginate(all, f), nil
}

func (q *Queue) claimLocked(t *worklist.Task, a worklist.Actor, now time.Time) worklist.Task {
	q.dequeue(t)
	t.State, t.Assignee, t.LeaseToken = worklist.Claimed, a.ID, token()
	t.LeaseExpires = now.Add(q.lease).Truncate(time.Millisecond)
	q.leased[t.ID] = t
	q.emit(t, worklist.EvClaimed, a.ID, "", false, now)
	return snapshot(t, false)
}

// ClaimNext implements worklist.Queue.
func (q *Queue) ClaimNext(ctx context.Context, a worklist.Actor, group string, stage worklist.Stage) (t worklist.Task, err error) {
	defer func(start time.Time) { q.m.Observe("claim_next", start, err) }(time.Now())
	if err := worklist.CheckClaimNext(a, group, stage); err != nil {
		return worklist.Task{}, err
	}
	if err := q.begin(ctx); err != nil {
		return worklist.Task{}, err
	}
	defer q.mu.Unlock()
	now := q.now()
	q.expireLocked(now)
	for _, t := range q.queues[qkey{group, stage}] {
		if t.Assignee != "" && t.Assignee != a.ID {
			continue
		}
		if stage == worklist.StageSign && t.Reader == a.ID {
			continue
		}
		return q.claimLocked(t, a, now), nil
	}
	return worklist.Task{}, fmt.Errorf("worklist/memory claim next %s/%s: %w", group, stage, worklist.ErrEmpty)
}

// lookup returns the task or ErrNotFound; q.mu must be held.
func (q *Queue) lookup(op, id string) (*worklist.Task, error) {
	t, ok := q.tasks[id]
	if !ok {
		return nil, fmt.Errorf("worklist/memory %s %q: %w", op, id, worklist.ErrNotFound)
	}
	return t, nil
}

// Claim implements worklist.Queue.
func (q *Queue) Claim(ctx context.Context, a worklist.Actor, id string) (worklist.Task, error) {
	if err := q.begin(ctx); err != nil {
		return worklist.Task{}, err
	}
	defer q.mu.Unlock()
	t, err := q.lookup("claim", id)
	if err != nil {
		return worklist.Task{}, err
	}
	if err := worklist.CheckClaim(a, *t); err != nil {
		return worklist.Task{}, fmt.Errorf("worklist/memory claim %q: %w", id, err)
	}
	now := q.now()
	if t.State == worklist.Claimed {
		if t.LeaseExpires.After(now) {
			return worklist.Task{}, fmt.Errorf("worklist/memory claim %q (held by %s): %w", id, t.Assignee, worklist.ErrAlreadyClaimed)
		}
		q.expireLocked(now)
	}
	if t.State != worklist.Queued {
		return worklist.Task{}, fmt.Errorf("worklist/memory claim %q (%s): %w", id, t.State, worklist.ErrConflict)
	}
	return q.claimLocked(t, a, now), nil
}

// leased checks that token holds the live lease of id.
func (q *Queue) held(op string, a worklist.Actor, id, tok string, now time.Time) (*worklist.Task, error) {
	t, err := q.lookup(op, id)
	if err != nil {
		return nil, err
	}
	if t.State == worklist.Done || t.State == worklist.Cancelled {
		return nil, fmt.Errorf("worklist/memory %s %q (%s): %w", op, id, t.State, worklist.ErrConflict)
	}
	if t.State != worklist.Claimed || tok == "" || t.LeaseToken != tok || !t.LeaseExpires.After(now) {
		return nil, fmt.Errorf("worklist/memory %s %q: %w", op, id, worklist.ErrLeaseExpired)
	}
	if t.Assignee != a.ID && !a.Admin {
		return nil, fmt.Errorf("worklist/memory %s %q: lease held by %s: %w", op, id, t.Assignee, worklist.ErrForbidden)
	}
	return t, nil
}

// Renew implements worklist.Queue.
func (q *Queue) Renew(ctx context.Context, a worklist.Actor, id, tok string) (worklist.Task, error) {
	if err := q.begin(ctx); err != nil {
		return worklist.Task{}, err
	}
	defer q.mu.Unlock()
	now := q.now()
	t, err := q.held("renew", a, id, tok, now)
	if err != nil {
		return worklist.Task{}, err
	}
	t.LeaseExpires = now.Add(q.lease).Truncate(time.Millisecond)
	q.emit(t, worklist.EvRenewed, a.ID, "", false, now)
	return snapshot(t, false), nil
}

// Release implements worklist.Queue.
func (q *Queue) Release(ctx context.Context, a worklist.Actor, id, tok string) (worklist.Task, error) {
	if err := q.begin(ctx); err != nil {
		return worklist.Task{}, err
	}
	defer q.mu.Unlock()
	now := q.now()
	t, err := q.held("release", a, id, tok, now)
	if err != nil {
		return worklist.Task{}, err
	}
	delete(q.leased, id)
	t.State, t.Assignee, t.LeaseToken, t.LeaseExpires = worklist.Queued, "", "", time.Time{}
	q.enqueue(t)
	q.emit(t, worklist.EvReleased, a.ID, "", false, now)
	return snapshot(t, false), nil
}

// Complete implements worklist.Queue.
func (q *Queue) Complete(ctx context.Context, a worklist.Actor, id, tok string) (worklist.Task, error) {
	if err := q.begin(ctx); err != nil {
		return worklist.Task{}, err
	}
	defer q.mu.Unlock()
	now := q.now()
	t, err := q.held("complete", a, id, tok, now)
	if err != nil {
		return worklist.Task{}, err
	}
	if t.Stage == worklist.StageSign && (!a.Senior || t.Reader == a.ID) {
		return worklist.Task{}, fmt.Errorf("worklist/memory complete %q: signing needs a senior other than the reader: %w", id, worklist.ErrForbidden)
	}
	delete(q.leased, id)
	t.LeaseToken, t.LeaseExpires = "", time.Time{}
	if t.Stage == worklist.StageRead && !a.Senior {
		t.Reader, t.Assignee, t.Stage, t.State = a.ID, "", worklist.StageSign, worklist.Queued
		q.enqueue(t)
		q.emit(t, worklist.EvToSign, a.ID, "", false, now)
		return snapshot(t, false), nil
	}
	if t.Stage == worklist.StageRead {
		t.Reader = a.ID
	}
	t.State = worklist.Done
	q.emit(t, worklist.EvCompleted, a.ID, "", false, now)
	return snapshot(t, false), nil
}

// Reassign implements worklist.Queue.
func (q *Queue) Reassign(ctx context.Context, a worklist.Actor, id, group, assignee string) (worklist.Task, error) {
	if !a.Admin {
		return worklist.Task{}, fmt.Errorf("worklist/memory reassign %q: admin only: %w", id, worklist.ErrForbidden)
	}
	if group == "" && assignee == "" {
		return worklist.Task{}, fmt.Errorf("worklist/memory reassign %q: need a group or an assignee: %w", id, worklist.ErrInvalid)
	}
	if err := q.begin(ctx); err != nil {
		return worklist.Task{}, err
	}
	defer q.mu.Unlock()
	t, err := q.lookup("reassign", id)
	if err != nil {
		return worklist.Task{}, err
	}
	if !t.Open() {
		return worklist.Task{}, fmt.Errorf("worklist/memory reassign %q (%s): %w", id, t.State, worklist.ErrConflict)
	}
	now := q.now()
	if t.State == worklist.Claimed {
		delete(q.leased, id)
	} else {
		q.dequeue(t)
	}
	if group != "" {
		t.Group = group
	}
	t.State, t.Assignee, t.LeaseToken, t.LeaseExpires = worklist.Queued, assignee, "", time.Time{}
	q.enqueue(t)
	q.emit(t, worklist.EvReassigned, a.ID, "group="+t.Group+" assignee="+assignee, false, now)
	return snapshot(t, false), nil
}

// Cancel implements worklist.Queue.
func (q *Queue) Cancel(ctx context.Context, a worklist.Actor, id, reason string) (worklist.Task, error) {
	if err := q.begin(ctx); err != nil {
		return worklist.Task{}, err
	}
	defer q.mu.Unlock()
	t, err := q.lookup("cancel", id)
	if err != nil {
		return worklist.Task{}, err
	}
	if !a.InGroup(t.Group) {
		return worklist.Task{}, fmt.Errorf("worklist/memory cancel %q: %w", id, worklist.ErrForbidden)
	}
	switch t.State {
	case worklist.Cancelled:
		return snapshot(t, false), nil
	case worklist.Done:
		return worklist.Task{}, fmt.Errorf("worklist/memory cancel %q (done): %w", id, worklist.ErrConflict)
	case worklist.Claimed:
		delete(q.leased, id)
	case worklist.Queued:
		q.dequeue(t)
	}
	t.State, t.Assignee, t.LeaseToken, t.LeaseExpires = worklist.Cancelled, "", "", time.Time{}
	q.emit(t, worklist.EvCancelled, a.ID, reason, false, q.now())
	return snapshot(t, false), nil
}

// Escalate implements worklist.Queue.
func (q *Queue) Escalate(ctx context.Context, id string, e worklist.Escalation) (worklist.Task, error) {
	if err := q.begin(ctx); err != nil {
		return worklist.Task{}, err
	}
	defer q.mu.Unlock()
	t, err := q.lookup("escalate", id)
	if err != nil {
		return worklist.Task{}, err
	}
	if !t.Open() {
		return worklist.Task{}, fmt.Errorf("worklist/memory escalate %q (%s): %w", id, t.State, worklist.ErrConflict)
	}
	if e.Flag != "" && t.HasFlag(e.Flag) || e.Flag == "" && e.Priority <= t.Priority {
		return snapshot(t, false), nil
	}
	queued := t.State == worklist.Queued
	if queued {
		q.dequeue(t)
	}
	t.Priority = max(t.Priority, e.Priority)
	if e.Flag != "" {
		t.Flags = append(t.Flags, e.Flag)
	}
	if queued {
		q.enqueue(t)
	}
	typ := worklist.EvEscalated
	if e.Alert {
		typ = worklist.EvAlert
	}
	q.emit(t, typ, worklist.System.ID, e.Note, false, q.now())
	return snapshot(t, false), nil
}

// Expire implements worklist.Queue.
func (q *Queue) Expire(ctx context.Context) (int, error) {
	if err := q.begin(ctx); err != nil {
		return 0, err
	}
	defer q.mu.Unlock()
	return q.expireLocked(q.now()), nil
}

// Subscribe implements worklist.Queue.
func (q *Queue) Subscribe(ctx context.Context) (worklist.Subscription, error) {
	return q.hub.Subscribe(ctx), nil
}

// Rebuild implements worklist.Rebuilder: it replaces all state with the
// tasks folded from the events in store.
func (q *Queue) Rebuild(ctx context.Context, store storage.Store) (int, error) {
	tasks, maxSeq, err := worklist.LoadEvents(ctx, store)
	if err != nil {
		return 0, err
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	q.reset()
	q.seq = maxSeq
	for i := range tasks {
		t := &tasks[i]
		q.tasks[t.ID] = t
		q.byKey[t.Key()] = t.ID
		switch t.State {
		case worklist.Queued:
			q.enqueue(t)
		case worklist.Claimed:
			q.leased[t.ID] = t
		}
	}
	return len(tasks), nil
}

// Close implements worklist.Queue; pending events get 5 s to reach storage.
func (q *Queue) Close() error {
	q.mu.Lock()
	already := q.closed
	q.closed = true
	q.mu.Unlock()
	if !already && q.ob != nil {
		q.ob.Close(5 * time.Second)
	}
	return nil
}
