package redis

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/huren-health/huren/worklist"
)

// Group commit of ClaimNext.
//
// Redis runs one script at a time, so when many readers of one replica
// claim from the same queue at once, running one script per call leaves
// them queueing behind each other, each paying a round trip and the
// script's fixed cost. Instead, concurrent ClaimNext calls for the same
// group and stage are coalesced: at most claimInflight scripts per queue
// are in flight from this replica; calls arriving meanwhile wait, and when
// a script returns, everything that waited (up to claimBatchMax) goes out
// as the next script, which claims a distinct task for each call in arrival
// order (scripts.go: claimNextScript). A lone caller never waits for
// company: with nothing in flight its claim is sent at once.
//
// Each call still gets its own lease token and its own lease, event and
// history entry, exactly as if the claims had run one after the other;
// calls of different actors share a batch (each is matched against the
// tasks its actor may claim).
//
// Leadership: the caller that finds a free slot runs the script itself. When
// its script returns it first hands the next batch to the first waiting
// caller, which runs it (no extra goroutine, no timer), then decodes and
// delivers its own batch's results.
//
// claimInflight = 2 keeps Redis busy while one batch's results travel back
// (1 measured about 40 % slower with 50 workers; 3 no better than 2), and
// claimBatchMax bounds one script's run time (and its ARGV) to about a
// millisecond.
//
// Cancellation: a caller whose context ends while it waits is withdrawn
// and gets the context's error. Once its claim is in a script that has been
// sent it waits for the result (bounded by the client's read timeout),
// because the task may already be leased to it; scripts therefore run
// without the callers' cancellation.
const (
	claimBatchMax = 64
	claimInflight = 2
)

type claimReq struct {
	actor string
	token string
	start time.Time
	res   chan claimRes // capacity 1: a lead, then the result
}

type claimRes struct {
	task worklist.Task
	err  error
	// lead, when set, is the batch the receiver must run; it includes the
	// receiver's own request.
	lead []*claimReq
}

// claimer coalesces the ClaimNext calls of one group and stage.
type claimer struct {
	group string
	stage worklist.Stage

	mu       sync.Mutex
	inflight int
	pending  []*claimReq

	batches atomic.Int64 // scripts run (tests)
}

type claimKey struct {
	group string
	stage worklist.Stage
}

func (q *Queue) claimer(group string, stage worklist.Stage) *claimer {
	k := claimKey{group, stage}
	q.claimersMu.Lock()
	defer q.claimersMu.Unlock()
	c := q.claimers[k]
	if c == nil {
		if q.claimers == nil {
			q.claimers = map[claimKey]*claimer{}
		}
		c = &claimer{group: group, stage: stage}
		q.claimers[k] = c
	}
	return c
}

// withdraw removes r from the waiting calls; false if it is already in a
// batch.
func (cl *claimer) withdraw(r *claimReq) bool {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	for i, p := range cl.pending {
		if p == r {
			cl.pending = append(cl.pending[:i], cl.pending[i+1:]...)
			return true
		}
	}
	return false
}

// claimNext is ClaimNext after validation.
func (q *Queue) claimNext(ctx context.Context, actor, group string, stage worklist.Stage) (worklist.Task, error) {
	if err := ctx.Err(); err != nil {
		return worklist.Task{}, fmt.Errorf("worklist/redis claim next %q: %w", group+"/"+string(stage), err)
	}
	cl := q.claimer(group, stage)
	r := &claimReq{actor: actor, token: newToken(), start: time.Now(), res: make(chan claimRes, 1)}
	cl.mu.Lock()
	if cl.inflight < claimInflight {
		cl.inflight++
		cl.mu.Unlock()
		q.runClaims(ctx, cl, []*claimReq{r})
	} else {
		cl.pending = append(cl.pending, r)
		cl.mu.Unlock()
	}
	done := ctx.Done()
	for {
		select {
		case res := <-r.res:
			if res.lead != nil {
				q.runClaims(ctx, cl, res.lead)
				continue
			}
			return res.task, res.err
		case <-done:
			if cl.withdraw(r) {
				return worklist.Task{}, fmt.Errorf("worklist/redis claim next %q: %w", group+"/"+string(stage), ctx.Err())
			}
			done = nil // in a batch already: wait for its result
		}
	}
}

// runClaims runs one batch, hands the calls that queued meanwhile to the
// first of them (or frees the slot) so the next script is on its way, then
// decodes and delivers this batch's results.
func (q *Queue) runClaims(ctx context.Context, cl *claimer, batch []*claimReq) {
	args := make([]any, 0, 5+2*len(batch))
	args = append(args, q.obMax, q.leaseMS, cl.group, string(cl.stage), len(batch))
	for _, r := range batch {
		args = append(args, r.actor, r.token)
	}
	cl.batches.Add(1)
	v, err := claimNextScript.Run(context.WithoutCancel(ctx), q.c, []string{q.key()}, args...).Result()

	cl.mu.Lock()
	if len(cl.pending) == 0 {
		cl.inflight--
		cl.mu.Unlock()
	} else {
		n := min(len(cl.pending), claimBatchMax)
		next := make([]*claimReq, n)
		copy(next, cl.pending)
		cl.pending = append(cl.pending[:0], cl.pending[n:]...)
		cl.mu.Unlock()
		next[0].res <- claimRes{lead: next}
	}

	res := q.claimResults(cl, batch, v, err)
	for i, r := range batch {
		if q.m != nil {
			q.m.Observe("claim_next", r.start, res[i].err)
		}
		r.res <- res[i]
	}
}

// claimResults decodes claimNextScript's reply into one result per call.
func (q *Queue) claimResults(cl *claimer, batch []*claimReq, v any, err error) []claimRes {
	what := cl.group + "/" + string(cl.stage)
	res := make([]claimRes, len(batch))
	fail := func(err error) []claimRes {
		for i := range res {
			res[i] = claimRes{err: err}
		}
		return res
	}
	if err != nil {
		return fail(scriptErr("claim next", what, err))
	}
	arr, ok := v.([]any)
	lexp, ok2 := int64(0), false
	if ok && len(arr) == len(batch)+1 {
		lexp, ok2 = arr[0].(int64)
	}
	if !ok2 {
		return fail(fmt.Errorf("worklist/redis claim next %q: unexpected reply %T: %w", what, v, worklist.ErrUnavailable))
	}
	for i, r := range batch {
		switch x := arr[i+1].(type) {
		case string:
			res[i].err = scriptErr("claim next", what, fmt.Errorf("%s", x))
		case []any:
			res[i].task, res[i].err = claimedTask(cl, r, lexp, x)
		default:
			res[i].err = fmt.Errorf("worklist/redis claim next %q: unexpected reply %T: %w", what, x, worklist.ErrUnavailable)
		}
	}
	return res
}

// claimedTask builds the claimed task from {id, doc, prio, due, created,
// reader, flags, version} and what the caller knows.
func claimedTask(cl *claimer, r *claimReq, lexp int64, f []any) (worklist.Task, error) {
	if len(f) != 8 {
		return worklist.Task{}, fmt.Errorf("worklist/redis claim next: reply of %d fields: %w", len(f), worklist.ErrUnavailable)
	}
	s := make([]string, len(f))
	for i, x := range f {
		s[i], _ = x.(string)
	}
	t := worklist.Task{ID: s[0], Group: cl.group, Stage: cl.stage, State: worklist.Claimed,
		Due: ms(s[3]), Created: ms(s[4]), Assignee: r.actor, Reader: s[5], LeaseToken: r.token,
		LeaseExpires: time.UnixMilli(lexp), Flags: worklist.SplitFlags(s[6])}
	prio, _ := strconv.Atoi(s[2])
	t.Priority = worklist.Priority(prio)
	t.Version, _ = strconv.ParseInt(s[7], 10, 64)
	if err := json.Unmarshal([]byte(s[1]), &t.Doc); err != nil {
		return worklist.Task{}, fmt.Errorf("worklist/redis: task %s doc: %w", t.ID, err)
	}
	return t, nil
}
