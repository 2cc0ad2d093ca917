package worklist

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/huren-health/huren/errkind"
	"github.com/huren-health/huren/storage"
)

// Errors every backend returns (wrapped with context); match with errors.Is.
var (
	// ErrNotFound: no task with that id (404).
	ErrNotFound = errkind.New(errkind.NotFound, "worklist: task not found")
	// ErrEmpty: ClaimNext found no claimable task in the queue (404).
	ErrEmpty = errkind.New(errkind.NotFound, "worklist: queue empty")
	// ErrAlreadyClaimed: another reader holds a live lease on the task (409).
	ErrAlreadyClaimed = errkind.New(errkind.Conflict, "worklist: task already claimed")
	// ErrConflict: the task is in a state that does not allow the operation,
	// e.g. completed or cancelled (409).
	ErrConflict = errkind.New(errkind.Conflict, "worklist: task state does not allow this")
	// ErrLeaseExpired: the caller's lease token is no longer the task's live
	// lease — it expired, was released or the task was reassigned (410).
	ErrLeaseExpired = errkind.New(errkind.Gone, "worklist: lease expired or no longer held")
	// ErrForbidden: the actor is not in the task's group, not senior for a
	// "to sign" task, or not an admin for an admin operation (403).
	ErrForbidden = errkind.New(errkind.Forbidden, "worklist: not allowed")
	// ErrInvalid: a malformed request (empty id, unknown stage…) (400).
	ErrInvalid = errkind.New(errkind.Invalid, "worklist: invalid request")
	// ErrInvalidRules: a routing rules file failed validation (422).
	ErrInvalidRules = errkind.New(errkind.Unprocessable, "worklist: invalid routing rules")
	// ErrUnavailable: the backend (Redis) is unreachable, or the event
	// outbox to object storage is full because storage is down (503).
	ErrUnavailable = errkind.New(errkind.Unavailable, "worklist: backend unavailable")
)

// DefaultLease is how long a claim lasts unless renewed.
const DefaultLease = 10 * time.Minute

// Config is shared by the backends. The zero value is usable.
type Config struct {
	// Lease is the claim duration; 0 means DefaultLease.
	Lease time.Duration
	// Store, when set, receives every event under
	// tasks/{task}/events/{at}-{seq}.json. Writes are asynchronous through a
	// bounded outbox (see OutboxLimit) so claims never wait for storage.
	Store storage.Store
	// OutboxLimit bounds the events accepted but not yet written to Store;
	// when it is reached (storage down for long) state changes fail with
	// ErrUnavailable instead of losing events. 0 means 100,000.
	OutboxLimit int
	// Now is the clock of the memory backend (tests). The Redis backend
	// ignores it: lease expiry there uses Redis TIME only.
	Now func() time.Time
	// Logger defaults to a silent logger.
	Logger *slog.Logger
	// Registerer, when set, receives the backend's metrics.
	Registerer prometheus.Registerer
}

// LeaseOrDefault returns Lease or DefaultLease.
func (c Config) LeaseOrDefault() time.Duration {
	if c.Lease <= 0 {
		return DefaultLease
	}
	return c.Lease
}

// OutboxLimitOrDefault returns OutboxLimit or 100,000.
func (c Config) OutboxLimitOrDefault() int {
	if c.OutboxLimit <= 0 {
		return 100_000
	}
	return c.OutboxLimit
}

// LoggerOrDiscard returns Logger or a silent logger.
func (c Config) LoggerOrDiscard() *slog.Logger {
	if c.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return c.Logger
}

// NewTask is what Upsert needs: the document plus the routing decision.
type NewTask struct {
	Doc
	Group    string
	Priority Priority
	Due      time.Time
	// IfAbsent makes Upsert create the task only if none exists for the
	// key: an existing task is returned unchanged, with no event. Restart
	// recovery uses it so that replicas recovering the same study at once
	// create one task and never flag or update a task another replica made.
	IfAbsent bool
	// Actor is who the task's event names ("" = System): the engine for
	// tasks it creates from ingest, the caller for a task requested
	// through the API.
	Actor string
}

// ActorID is nt.Actor, or System's id when it is empty.
func (nt NewTask) ActorID() string {
	if nt.Actor == "" {
		return System.ID
	}
	return nt.Actor
}

// Filter selects tasks for List. Empty fields match everything; State
// empty means open tasks (queued or claimed).
type Filter struct {
	Group    string
	Stage    Stage
	State    State
	Site     string
	Assignee string
	// Limit 0 means 100; at most 1000. Offset skips results.
	Limit  int
	Offset int
}

// Page is one page of List.
type Page struct {
	// Tasks in queue order (Before), tokens redacted, no history.
	Tasks []Task `json:"tasks"`
	// Total matching tasks before paging.
	Total int `json:"total"`
}

// Escalation is a change requested by the SLA sweep or an admin.
type Escalation struct {
	// Priority is raised to this value if lower (never lowered).
	Priority Priority
	// Flag is added to the task; a task that already has it is left
	// unchanged and no event is emitted (so sweeps are idempotent).
	Flag string
	// Alert emits an "alert" event instead of "escalated".
	Alert bool
	Note  string
}

// Subscription delivers events in commit order per task. If the subscriber
// falls behind by more than its buffer, events are dropped and one EvResync
// event is delivered so the client can re-list.
type Subscription interface {
	C() <-chan Event
	Close()
}

// Queue is the worklist. Implementations must be safe for concurrent use by
// many goroutines and (Redis) by many replicas sharing the backend.
//
// Ordering: within a group and stage, claimable tasks are served by priority
// (critical > STAT > urgent > routine), then due time, then arrival (task
// IDs sort by creation), exactly as Before orders them.
//
// Leases: a claim returns the task with a fresh LeaseToken and LeaseExpires
// = backend now + Config.Lease. Exactly one caller wins a claim on a task:
// among concurrent ClaimNext/Claim calls no task is ever handed to two
// callers while a lease is live. Renew, Release and Complete require the
// token of the live lease; a token that no longer holds the lease (expired,
// released, reassigned) fails with ErrLeaseExpired. An expired lease returns
// the task to its queue (event "expired", history kept) the next time any
// replica claims from that queue, or on Expire. Lease expiry is judged by
// one clock — the backend's (Redis TIME) — never the replicas' clocks.
//
// Every successful state change increments Version, appends one Event to
// the task's history, publishes it to subscribers and (with Config.Store)
// writes it to object storage.
type Queue interface {
	// Upsert creates the task for nt.Doc.Key() in state Queued, stage read,
	// or, if one exists, updates it (idempotent: one task per key, ever).
	// An open task gets the new Doc (event "updated"; priority raised if
	// nt.Priority is higher, group and due kept). A Done task keeps its state
	// and gets FlagImagesAdded (event "flagged", once per arrival). A
	// cancelled task only takes the new Doc. created reports a new task.
	Upsert(ctx context.Context, nt NewTask) (t Task, created bool, err error)
	// Get returns the task with its history, token redacted. ErrNotFound.
	Get(ctx context.Context, id string) (Task, error)
	// List returns a page of tasks matching f in queue order.
	List(ctx context.Context, f Filter) (Page, error)
	// ClaimNext leases the first claimable task of group's stage queue to a.
	// Tasks reassigned to another reader are skipped. ErrForbidden if a is
	// not in group (or the stage is sign and a is not senior); ErrEmpty if
	// nothing is claimable.
	ClaimNext(ctx context.Context, a Actor, group string, stage Stage) (Task, error)
	// Claim leases the task id to a. ErrAlreadyClaimed if another lease is
	// live (claiming again with a live lease of one's own also fails);
	// ErrConflict if done or cancelled; ErrForbidden as for ClaimNext.
	Claim(ctx context.Context, a Actor, id string) (Task, error)
	// Renew extends the live lease held with token to now + Lease.
	Renew(ctx context.Context, a Actor, id, token string) (Task, error)
	// Release returns a leased task to its queue at its original position.
	Release(ctx context.Context, a Actor, id, token string) (Task, error)
	// Complete finishes the leased task. In stage read by a non-senior
	// reader the task moves to stage sign, state Queued (event "to_sign");
	// otherwise it becomes Done. Signing requires a senior who is not the
	// task's Reader (ErrForbidden).
	Complete(ctx context.Context, a Actor, id, token string) (Task, error)
	// Reassign (admin) moves an open task to group (same stage) and/or to
	// assignee; any lease is revoked and the task is queued again.
	Reassign(ctx context.Context, a Actor, id, group, assignee string) (Task, error)
	// Cancel (admin, or the lease holder's group) withdraws an open task.
	// Cancelling a cancelled task is a no-op; a done task is ErrConflict.
	Cancel(ctx context.Context, a Actor, id, reason string) (Task, error)
	// Escalate applies e to an open task (see Escalation); ErrConflict if
	// the task is not open.
	Escalate(ctx context.Context, id string, e Escalation) (Task, error)
	// Expire returns every task whose lease has expired to its queue and
	// reports how many.
	Expire(ctx context.Context) (int, error)
	// Subscribe delivers every event committed from now on, by any replica.
	Subscribe(ctx context.Context) (Subscription, error)
	// Close stops background work, flushing the event outbox for up to
	// the context-free grace of a few seconds. Safe to call twice.
	Close() error
}

// KeyIndex is implemented by backends that can tell which task keys
// (Doc.Key) already have a task, many at once (restart recovery checks
// thousands of studies).
type KeyIndex interface {
	// TaskIDs returns, for each key, the id of its task or "" if none.
	TaskIDs(ctx context.Context, keys []string) ([]string, error)
}

// Rebuilder is implemented by backends that can restore their whole state
// from the events in object storage (after Redis was lost): it removes the
// backend's current state and loads tasks, leases and the event sequence.
type Rebuilder interface {
	Rebuild(ctx context.Context, store storage.Store) (int, error)
}
