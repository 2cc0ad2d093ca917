package hub

import (
	"context"
	"time"

	"github.com/huren-health/huren/worklist"
)

// startRecovery runs the tracker's restart recovery in the background: a
// study whose quiet period was cut short by a crash (kill -9, power loss)
// has instances and no task, and nothing else would ever create it. It
// retries while a backend is unreachable and stops when the server closes.
// Serving does not wait for it: on a large Redis catalog it reads every
// study once.
//
// On Redis, prepare runs first (rebuild a flushed Redis, or reconcile
// instances a crash left out of the catalog), and afterwards the generation
// marker is checked every watchInterval so a Redis flushed while serving is
// rebuilt even when nothing polls /readyz.
func (s *Server) startRecovery(ctx context.Context, stop context.CancelFunc, tracker *worklist.Tracker, d *derivedState) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		if d != nil {
			s.retry(ctx, "preparing derived state", d.prepare)
		}
		s.retry(ctx, "worklist recovery", func(ctx context.Context) error {
			st, err := tracker.Recover(ctx)
			if err == nil && st.Missing > 0 {
				s.log.Warn("worklist recovery: studies without a task (interrupted quiet period?) queued for one", "studies", st.Studies, "queued", st.Missing)
			}
			return err
		})
		if d == nil {
			return
		}
		t := time.NewTicker(watchInterval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
				_ = d.ready(cctx) // starts a rebuild when the marker is gone
				cancel()
			}
		}
	}()
	s.onClose("worklist recovery", func() error {
		if d != nil {
			d.mu.Lock() // no rebuild starts after this (startRebuild checks ctx under mu)
		}
		stop()
		if d != nil {
			d.mu.Unlock()
		}
		<-done
		if d != nil {
			d.wg.Wait()
		}
		return nil
	})
}

// watchInterval is how often a replica checks Redis's generation marker.
const watchInterval = 30 * time.Second

// retry runs fn until it succeeds or ctx ends, backing off while a backend
// is unreachable.
func (s *Server) retry(ctx context.Context, what string, fn func(context.Context) error) {
	backoff := time.Second
	for {
		err := fn(ctx)
		if err == nil || ctx.Err() != nil {
			return
		}
		s.log.Error(what+" failed; retrying", "err", err, "in", backoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, time.Minute)
	}
}
