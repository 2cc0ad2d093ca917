// Package redis is the worklist.Queue shared by Huren replicas, on Redis via
// go-redis. Every state change is one Lua script (scripts.go documents KEYS,
// ARGV and replies) so concurrent replicas cannot interleave them, and lease
// expiry is judged by Redis TIME inside the scripts, never by a replica's
// clock. Every key is built by Queue.key under "{prefix}:" — the braces are
// a hash tag, so the whole worklist lives in one Cluster slot.
//
// ClaimNext calls of one replica for the same queue are group-committed:
// concurrent calls share one script run that claims a distinct task for each
// (claim.go), so 50 readers cost Redis a few scripts, not 50.
//
// Events: each script appends the event to the task's history list,
// publishes it on the events channel (every replica's subscribers see every
// change; a claim batch publishes its events as one message, one per line)
// and, with Config.Store, adds it to the outbox stream in the same atomic
// step. Scripts build the event JSON by concatenation (cjson only for
// strings that need escaping): it is most of a claim's cost otherwise. A background writer (consumer group "writers", one consumer
// per replica) copies outbox entries to object storage and deletes them
// once stored; entries of a crashed replica are claimed by another after a
// minute. If storage is down the outbox grows up to Config.OutboxLimit and
// then state changes fail with worklist.ErrUnavailable rather than change
// state without a durable event. Events still in the outbox when Redis is
// lost (normally milliseconds' worth) are not in storage; Rebuild restores
// everything that is.
package redis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/huren-health/huren/storage"
	"github.com/huren-health/huren/worklist"
)

var (
	_ worklist.Queue     = (*Queue)(nil)
	_ worklist.Rebuilder = (*Queue)(nil)
)

// Queue is one replica's handle on the shared worklist. Safe for
// concurrent use.
type Queue struct {
	c       goredis.UniversalClient
	base    string
	cfg     worklist.Config
	leaseMS string
	obMax   string
	hub     worklist.Hub
	m       *worklist.Metrics

	claimersMu sync.Mutex
	claimers   map[claimKey]*claimer // one per queue claimed from (claim.go)

	subOnce sync.Once
	subErr  error
	ps      *goredis.PubSub // set by the first Subscribe; closed by Close

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once
}

// New returns a replica handle using client c (not closed by Close) with
// keys under "{prefix}:". With cfg.Store set it starts the outbox writer;
// Close stops it. The pub/sub listener starts on the first Subscribe.
func New(c goredis.UniversalClient, prefix string, cfg worklist.Config) *Queue {
	q := &Queue{c: c, base: "{" + prefix + "}:", cfg: cfg,
		leaseMS: strconv.FormatInt(cfg.LeaseOrDefault().Milliseconds(), 10), obMax: "0"}
	q.m = worklist.NewMetrics(cfg.Registerer, "redis")
	q.ctx, q.cancel = context.WithCancel(context.Background())
	if cfg.Store != nil {
		q.obMax = strconv.Itoa(cfg.OutboxLimitOrDefault())
		q.wg.Go(q.drainOutbox)
	}
	return q
}

// key builds every Redis key: "{prefix}:" + parts joined by ":". The Lua
// scripts build the same keys from KEYS[1] = key().
func (q *Queue) key(parts ...string) string { return q.base + strings.Join(parts, ":") }

func newToken() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func b01(v bool) string {
	if v {
		return "1"
	}
	return "0"
}

// scriptErr translates a script's error reply or a Redis failure.
func scriptErr(op, id string, err error) error {
	if err == nil {
		return nil
	}
	msg := strings.TrimPrefix(err.Error(), "ERR ")
	kinds := []struct {
		prefix string
		err    error
	}{
		{"WL_NOTFOUND", worklist.ErrNotFound}, {"WL_EMPTY", worklist.ErrEmpty},
		{"WL_CLAIMED", worklist.ErrAlreadyClaimed}, {"WL_CONFLICT", worklist.ErrConflict},
		{"WL_EXPIRED", worklist.ErrLeaseExpired}, {"WL_FORBIDDEN", worklist.ErrForbidden},
		{"WL_FULL", worklist.ErrUnavailable},
	}
	for _, k := range kinds {
		if strings.HasPrefix(msg, k.prefix) {
			detail := strings.TrimSpace(strings.TrimPrefix(msg, k.prefix))
			if detail != "" {
				return fmt.Errorf("worklist/redis %s %q: %s: %w", op, id, detail, k.err)
			}
			return fmt.Errorf("worklist/redis %s %q: %w", op, id, k.err)
		}
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("worklist/redis %s %q: %w", op, id, err)
	}
	return fmt.Errorf("worklist/redis %s %q: %w: %w", op, id, worklist.ErrUnavailable, err)
}

func (q *Queue) run(ctx context.Context, s *goredis.Script, args ...any) (any, error) {
	start := time.Now()
	argv := append([]any{q.obMax, q.leaseMS}, args...)
	v, err := s.Run(ctx, q.c, []string{q.key()}, argv...).Result()
	if q.m != nil {
		q.m.Observe(scriptNames[s], start, scriptErr("", "", err))
	}
	return v, err
}

// decode turns a flat field/value reply into a Task.
func decode(v any) (worklist.Task, error) {
	arr, ok := v.([]any)
	if !ok {
		return worklist.Task{}, fmt.Errorf("worklist/redis: unexpected reply %T", v)
	}
	m := make(map[string]string, len(arr)/2)
	for i := 0; i+1 < len(arr); i += 2 {
		k, _ := arr[i].(string)
		s, _ := arr[i+1].(string)
		m[k] = s
	}
	return fromHash(m)
}

func ms(s string) time.Time {
	n, _ := strconv.ParseInt(s, 10, 64)
	if n == 0 {
		return time.Time{}
	}
	return time.UnixMilli(n)
}

func fromHash(m map[string]string) (worklist.Task, error) {
	var t worklist.Task
	if err := json.Unmarshal([]byte(m["doc"]), &t.Doc); err != nil {
		return worklist.Task{}, fmt.Errorf("worklist/redis: task %s doc: %w", m["id"], err)
	}
	prio, _ := strconv.Atoi(m["prio"])
	ver, _ := strconv.ParseInt(m["ver"], 10, 64)
	t.ID, t.Group, t.Stage, t.State = m["id"], m["group"], worklist.Stage(m["stage"]), worklist.State(m["state"])
	t.Priority, t.Due, t.Created = worklist.Priority(prio), ms(m["due"]), ms(m["created"])
	t.Assignee, t.Reader, t.LeaseToken, t.LeaseExpires = m["assignee"], m["reader"], m["token"], ms(m["lexp"])
	t.Flags, t.Version = worklist.SplitFlags(m["flags"]), ver
	return t, nil
}

func (q *Queue) taskReply(op, id string, v any, err error) (worklist.Task, error) {
	if err != nil {
		return worklist.Task{}, scriptErr(op, id, err)
	}
	return decode(v)
}

func validID(op, id string) error {
	if !worklist.ValidID(id) {
		return fmt.Errorf("worklist/redis %s %q: %w", op, id, worklist.ErrNotFound)
	}
	return nil
}

// Upsert implements worklist.Queue.
func (q *Queue) Upsert(ctx context.Context, nt worklist.NewTask) (worklist.Task, bool, error) {
	if err := worklist.ValidateNewTask(nt); err != nil {
		return worklist.Task{}, false, err
	}
	doc, err := json.Marshal(nt.Doc)
	if err != nil {
		return worklist.Task{}, false, fmt.Errorf("worklist/redis upsert %s: %w", nt.Key(), err)
	}
	v, err := q.run(ctx, upsertScript, nt.Key(), worklist.NewID(time.Now()), doc, nt.Group,
		int(nt.Priority), nt.Due.UnixMilli(), nt.Site, b01(nt.IfAbsent), nt.ActorID())
	if err != nil {
		return worklist.Task{}, false, scriptErr("upsert", nt.Key(), err)
	}
	arr, ok := v.([]any)
	if !ok || len(arr) != 2 {
		return worklist.Task{}, false, fmt.Errorf("worklist/redis upsert: unexpected reply %v", v)
	}
	t, err := decode(arr[1])
	created, _ := arr[0].(int64)
	return t, created == 1, err
}

// TaskIDs implements worklist.KeyIndex with one HMGET on the key index.
func (q *Queue) TaskIDs(ctx context.Context, keys []string) ([]string, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	vals, err := q.c.HMGet(ctx, q.key("keys"), keys...).Result()
	if err != nil {
		return nil, scriptErr("task_ids", "", err)
	}
	ids := make([]string, len(keys))
	for i, v := range vals {
		ids[i], _ = v.(string)
	}
	return ids, nil
}

// Get implements worklist.Queue.
func (q *Queue) Get(ctx context.Context, id string) (worklist.Task, error) {
	if err := validID("get", id); err != nil {
		return worklist.Task{}, err
	}
	pipe := q.c.Pipeline()
	hc := pipe.HGetAll(ctx, q.key("t", id))
	lc := pipe.LRange(ctx, q.key("h", id), 0, -1)
	if _, err := pipe.Exec(ctx); err != nil {
		return worklist.Task{}, scriptErr("get", id, err)
	}
	if len(hc.Val()) == 0 {
		return worklist.Task{}, fmt.Errorf("worklist/redis get %q: %w", id, worklist.ErrNotFound)
	}
	t, err := fromHash(hc.Val())
	if err != nil {
		return worklist.Task{}, err
	}
	for _, s := range lc.Val() {
		var e worklist.Event
		if err := json.Unmarshal([]byte(s), &e); err != nil {
			return worklist.Task{}, fmt.Errorf("worklist/redis get %q: history: %w", id, err)
		}
		t.History = append(t.History, e)
	}
	return t.Redacted(), nil
}

// loadTasks fetches the hashes of ids in pipelined chunks.
func (q *Queue) loadTasks(ctx context.Context, ids []string) ([]worklist.Task, error) {
	out := make([]worklist.Task, 0, len(ids))
	for chunk := range slices.Chunk(ids, 500) {
		pipe := q.c.Pipeline()
		cmds := make([]*goredis.MapStringStringCmd, len(chunk))
		for i, id := range chunk {
			cmds[i] = pipe.HGetAll(ctx, q.key("t", id))
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return nil, scriptErr("list", "", err)
		}
		for _, c := range cmds {
			if len(c.Val()) == 0 {
				continue // removed meanwhile (Rebuild)
			}
			t, err := fromHash(c.Val())
			if err != nil {
				return nil, err
			}
			out = append(out, t.Redacted())
		}
	}
	return out, nil
}

// List implements worklist.Queue. A page of one group's queued tasks is read
// straight from the queue's sorted set; other filters scan the open (or,
// for done/cancelled, all) tasks.
func (q *Queue) List(ctx context.Context, f worklist.Filter) (worklist.Page, error) {
	if err := worklist.ValidateFilter(&f); err != nil {
		return worklist.Page{}, err
	}
	if f.State == worklist.Queued && f.Group != "" && f.Stage != "" && f.Site == "" && f.Assignee == "" {
		k := q.key("q", f.Group, string(f.Stage))
		pipe := q.c.Pipeline()
		total := pipe.ZCard(ctx, k)
		ids := pipe.ZRange(ctx, k, int64(f.Offset), int64(f.Offset+f.Limit-1))
		if _, err := pipe.Exec(ctx); err != nil {
			return worklist.Page{}, scriptErr("list", "", err)
		}
		tasks, err := q.loadTasks(ctx, ids.Val())
		if err != nil {
			return worklist.Page{}, err
		}
		slices.SortFunc(tasks, worklist.CompareQueue)
		return worklist.Page{Tasks: tasks, Total: int(total.Val())}, nil
	}
	set := "open"
	if f.State == worklist.Done || f.State == worklist.Cancelled {
		set = "all"
	}
	ids, err := q.c.ZRange(ctx, q.key(set), 0, -1).Result()
	if err != nil {
		return worklist.Page{}, scriptErr("list", "", err)
	}
	tasks, err := q.loadTasks(ctx, ids)
	if err != nil {
		return worklist.Page{}, err
	}
	tasks = slices.DeleteFunc(tasks, func(t worklist.Task) bool { return !f.Match(t) })
	slices.SortFunc(tasks, worklist.CompareQueue)
	return worklist.Paginate(tasks, f), nil
}

// ClaimNext implements worklist.Queue.
func (q *Queue) ClaimNext(ctx context.Context, a worklist.Actor, group string, stage worklist.Stage) (worklist.Task, error) {
	if err := worklist.CheckClaimNext(a, group, stage); err != nil {
		return worklist.Task{}, err
	}
	return q.claimNext(ctx, a.ID, group, stage)
}

// Claim implements worklist.Queue.
func (q *Queue) Claim(ctx context.Context, a worklist.Actor, id string) (worklist.Task, error) {
	if err := validID("claim", id); err != nil {
		return worklist.Task{}, err
	}
	if a.ID == "" {
		return worklist.Task{}, fmt.Errorf("worklist/redis claim: no actor: %w", worklist.ErrInvalid)
	}
	v, err := q.run(ctx, claimScript, a.ID, id, newToken(), strings.Join(a.Groups, "\n"), b01(a.Senior), b01(a.Admin))
	return q.taskReply("claim", id, v, err)
}

// Renew implements worklist.Queue.
func (q *Queue) Renew(ctx context.Context, a worklist.Actor, id, token string) (worklist.Task, error) {
	if err := validID("renew", id); err != nil {
		return worklist.Task{}, err
	}
	v, err := q.run(ctx, renewScript, a.ID, id, token, b01(a.Admin))
	return q.taskReply("renew", id, v, err)
}

// Release implements worklist.Queue.
func (q *Queue) Release(ctx context.Context, a worklist.Actor, id, token string) (worklist.Task, error) {
	if err := validID("release", id); err != nil {
		return worklist.Task{}, err
	}
	v, err := q.run(ctx, releaseScript, a.ID, id, token, b01(a.Admin))
	return q.taskReply("release", id, v, err)
}

// Complete implements worklist.Queue.
func (q *Queue) Complete(ctx context.Context, a worklist.Actor, id, token string) (worklist.Task, error) {
	if err := validID("complete", id); err != nil {
		return worklist.Task{}, err
	}
	v, err := q.run(ctx, completeScript, a.ID, id, token, b01(a.Admin), b01(a.Senior))
	return q.taskReply("complete", id, v, err)
}

// Reassign implements worklist.Queue.
func (q *Queue) Reassign(ctx context.Context, a worklist.Actor, id, group, assignee string) (worklist.Task, error) {
	if !a.Admin {
		return worklist.Task{}, fmt.Errorf("worklist/redis reassign %q: admin only: %w", id, worklist.ErrForbidden)
	}
	if group == "" && assignee == "" {
		return worklist.Task{}, fmt.Errorf("worklist/redis reassign %q: need a group or an assignee: %w", id, worklist.ErrInvalid)
	}
	if err := validID("reassign", id); err != nil {
		return worklist.Task{}, err
	}
	v, err := q.run(ctx, reassignScript, a.ID, id, group, assignee)
	return q.taskReply("reassign", id, v, err)
}

// Cancel implements worklist.Queue.
func (q *Queue) Cancel(ctx context.Context, a worklist.Actor, id, reason string) (worklist.Task, error) {
	if err := validID("cancel", id); err != nil {
		return worklist.Task{}, err
	}
	v, err := q.run(ctx, cancelScript, a.ID, id, reason, strings.Join(a.Groups, "\n"), b01(a.Admin))
	return q.taskReply("cancel", id, v, err)
}

// Escalate implements worklist.Queue.
func (q *Queue) Escalate(ctx context.Context, id string, e worklist.Escalation) (worklist.Task, error) {
	if err := validID("escalate", id); err != nil {
		return worklist.Task{}, err
	}
	if !e.Priority.Valid() || strings.Contains(e.Flag, ",") {
		return worklist.Task{}, fmt.Errorf("worklist/redis escalate %q: bad priority or flag: %w", id, worklist.ErrInvalid)
	}
	v, err := q.run(ctx, escalateScript, id, int(e.Priority), e.Flag, b01(e.Alert), e.Note)
	return q.taskReply("escalate", id, v, err)
}

// Expire implements worklist.Queue.
func (q *Queue) Expire(ctx context.Context) (int, error) {
	total := 0
	for {
		n, err := q.run(ctx, expireScript)
		if err != nil {
			return total, scriptErr("expire", "", err)
		}
		c, _ := n.(int64)
		total += int(c)
		if c < 1000 {
			return total, nil
		}
	}
}

// Close implements worklist.Queue: it stops the pub/sub listener and the
// outbox writer (entries not yet written stay in the stream for another
// replica or the next start). The client is not closed.
func (q *Queue) Close() error {
	q.once.Do(func() {
		q.cancel()
		// Receive does not watch its context while blocked on the socket;
		// closing the PubSub unblocks the listener.
		q.subOnce.Do(func() {})
		if q.ps != nil {
			_ = q.ps.Close()
		}
		q.wg.Wait()
	})
	return nil
}

// Rebuild implements worklist.Rebuilder: it deletes every key under the
// prefix and restores tasks, queues, leases, histories and the event
// sequence from the events in store. Leases keep their tokens and expiry
// times, so readers holding them can carry on; expired ones return to the
// queue on the next claim. Run it with no replica serving.
func (q *Queue) Rebuild(ctx context.Context, store storage.Store) (int, error) {
	tasks, maxSeq, err := worklist.LoadEvents(ctx, store)
	if err != nil {
		return 0, err
	}
	if err := q.deleteAll(ctx); err != nil {
		return 0, err
	}
	for chunk := range slices.Chunk(tasks, 200) {
		pipe := q.c.Pipeline()
		for _, t := range chunk {
			doc, err := json.Marshal(t.Doc)
			if err != nil {
				return 0, fmt.Errorf("worklist/redis rebuild %s: %w", t.ID, err)
			}
			lexp := int64(0)
			if !t.LeaseExpires.IsZero() {
				lexp = t.LeaseExpires.UnixMilli()
			}
			pipe.HSet(ctx, q.key("t", t.ID), "id", t.ID, "doc", doc, "key", t.Key(), "group", t.Group,
				"stage", string(t.Stage), "state", string(t.State), "prio", int(t.Priority), "due", t.Due.UnixMilli(),
				"created", t.Created.UnixMilli(), "assignee", t.Assignee, "reader", t.Reader, "token", t.LeaseToken,
				"lexp", lexp, "flags", strings.Join(t.Flags, ","), "ver", t.Version, "site", t.Site)
			hist := make([]any, 0, len(t.History))
			for _, e := range t.History {
				b, err := json.Marshal(e)
				if err != nil {
					return 0, fmt.Errorf("worklist/redis rebuild %s: %w", t.ID, err)
				}
				hist = append(hist, b)
			}
			if len(hist) > 0 {
				pipe.RPush(ctx, q.key("h", t.ID), hist...)
			}
			pipe.HSet(ctx, q.key("keys"), t.Key(), t.ID)
			created := float64(t.Created.UnixMilli())
			pipe.ZAdd(ctx, q.key("all"), goredis.Z{Score: created, Member: t.ID})
			switch t.State {
			case worklist.Queued:
				pipe.ZAdd(ctx, q.key("open"), goredis.Z{Score: created, Member: t.ID})
				pipe.ZAdd(ctx, q.key("q", t.Group, string(t.Stage)), goredis.Z{Score: worklist.Score(t.Priority, t.Due), Member: t.ID})
			case worklist.Claimed:
				pipe.ZAdd(ctx, q.key("open"), goredis.Z{Score: created, Member: t.ID})
				pipe.ZAdd(ctx, q.key("leases"), goredis.Z{Score: float64(lexp), Member: t.ID})
			}
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return 0, scriptErr("rebuild", "", err)
		}
	}
	if err := q.c.Set(ctx, q.key("seq"), maxSeq, 0).Err(); err != nil {
		return 0, scriptErr("rebuild", "", err)
	}
	return len(tasks), nil
}

// deleteAll removes every key under the prefix (SCAN + UNLINK).
func (q *Queue) deleteAll(ctx context.Context) error {
	pattern := strings.NewReplacer("*", `\*`, "?", `\?`, "[", `\[`, "]", `\]`).Replace(q.base) + "*"
	iter := q.c.Scan(ctx, 0, pattern, 1000).Iterator()
	var batch []string
	for iter.Next(ctx) {
		batch = append(batch, iter.Val())
		if len(batch) == 1000 {
			if err := q.c.Unlink(ctx, batch...).Err(); err != nil {
				return scriptErr("rebuild", "", err)
			}
			batch = batch[:0]
		}
	}
	if err := iter.Err(); err != nil {
		return scriptErr("rebuild", "", err)
	}
	if len(batch) > 0 {
		if err := q.c.Unlink(ctx, batch...).Err(); err != nil {
			return scriptErr("rebuild", "", err)
		}
	}
	return nil
}
