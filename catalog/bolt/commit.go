package bolt

import (
	"sync"
	"sync/atomic"

	"go.etcd.io/bbolt"
)

// groupCommit runs write transactions of concurrent callers together: the
// first caller commits at once (no delay for a lone writer, unlike
// bbolt.DB.Batch's timer); callers that arrive while a commit is in flight
// share the next one. A bbolt commit costs two fsyncs, and ingest makes
// two writes per instance (journal entry, record), so without this four
// concurrent uploads queue behind one writer's eight fsyncs.
//
// Each batch runs under c.mu (searches see no half-applied batch). If the
// batch's transaction fails, its functions are retried one transaction
// each, so one bad record fails alone; every fn must therefore be safe to
// run again after a rolled-back attempt (they only write to tx).
type groupCommit struct {
	mu      sync.Mutex
	queue   []*pendingWrite
	leading bool
	batches atomic.Int64 // commits made (tests, metrics)
}

type pendingWrite struct {
	fn    func(*bbolt.Tx) error
	after func() // run under c.mu after the commit (cache invalidation)
	done  chan error
}

func (c *Catalog) write(fn func(*bbolt.Tx) error, after func()) error {
	w := &pendingWrite{fn: fn, after: after, done: make(chan error, 1)}
	g := &c.group
	g.mu.Lock()
	g.queue = append(g.queue, w)
	if g.leading {
		g.mu.Unlock()
		return <-w.done
	}
	g.leading = true
	for len(g.queue) > 0 {
		batch := g.queue
		g.queue = nil
		g.mu.Unlock()
		c.commitBatch(batch)
		g.mu.Lock()
	}
	g.leading = false
	g.mu.Unlock()
	return <-w.done
}

func (c *Catalog) commitBatch(batch []*pendingWrite) {
	c.group.batches.Add(1)
	c.mu.Lock()
	defer c.mu.Unlock()
	err := c.db.Update(func(tx *bbolt.Tx) error {
		for _, w := range batch {
			if err := w.fn(tx); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil && len(batch) > 1 {
		for _, w := range batch {
			w.done <- c.db.Update(w.fn)
		}
	} else {
		for _, w := range batch {
			w.done <- err
		}
	}
	for _, w := range batch {
		if w.after != nil {
			w.after()
		}
	}
}
