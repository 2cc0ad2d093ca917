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
func (s *Server) startRecovery(tracker *worklist.Tracker) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	s.recovery = func() { s.runRecovery(ctx, tracker) }
	go func() {
		defer close(done)
		s.runRecovery(ctx, tracker)
	}()
	s.onClose("worklist recovery", func() error { cancel(); <-done; return nil })
}

func (s *Server) runRecovery(ctx context.Context, tracker *worklist.Tracker) {
	backoff := time.Second
	for {
		st, err := tracker.Recover(ctx)
		if err == nil {
			if st.Missing > 0 {
				s.log.Warn("worklist recovery: studies without a task (interrupted quiet period?) queued for one", "studies", st.Studies, "queued", st.Missing)
			}
			return
		}
		if ctx.Err() != nil {
			return
		}
		s.log.Error("worklist recovery failed; retrying", "err", err, "in", backoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, time.Minute)
	}
}
