package worklist

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/huren-health/huren/storage"
)

// Outbox writes events to object storage in the background, in order, with
// retries. It is the in-process outbox of the memory backend (the Redis
// backend keeps its outbox in a Redis stream so it survives a replica
// crash).
//
// Add never blocks and never touches storage. When storage is down the
// outbox grows up to its limit; callers check Full before a state change
// and refuse it (ErrUnavailable) rather than change state without its
// event. Events are retried with backoff (1 s doubling to 30 s) until
// written or until Close's grace period ends; events still unwritten then
// are logged as lost — only possible if storage stayed down until shutdown.
type Outbox struct {
	store storage.Store
	limit int
	log   *slog.Logger

	mu      sync.Mutex
	pending []Event
	wake    chan struct{}
	done    chan struct{}
	stop    chan struct{}
	once    sync.Once
}

// NewOutbox starts the writer goroutine.
func NewOutbox(store storage.Store, limit int, log *slog.Logger) *Outbox {
	o := &Outbox{store: store, limit: limit, log: log, wake: make(chan struct{}, 1), done: make(chan struct{}), stop: make(chan struct{})}
	go o.run()
	return o
}

// Full reports whether the outbox holds limit events already.
func (o *Outbox) Full() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.pending) >= o.limit
}

// Len reports how many events wait to be written.
func (o *Outbox) Len() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.pending)
}

// Add queues e for writing.
func (o *Outbox) Add(e Event) {
	o.mu.Lock()
	o.pending = append(o.pending, e)
	o.mu.Unlock()
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

func (o *Outbox) run() {
	defer close(o.done)
	backoff := time.Second
	for {
		o.mu.Lock()
		batch := o.pending[:len(o.pending):len(o.pending)]
		o.mu.Unlock()
		if len(batch) == 0 {
			select {
			case <-o.wake:
				continue
			case <-o.stop:
				return
			}
		}
		n, err := o.write(batch)
		o.mu.Lock()
		o.pending = o.pending[n:]
		o.mu.Unlock()
		if err == nil {
			backoff = time.Second
			continue
		}
		o.log.Warn("worklist event outbox: storage write failed; retrying", "pending", o.Len(), "retry_in", backoff, "err", err)
		select {
		case <-time.After(backoff):
			backoff = min(2*backoff, 30*time.Second)
		case <-o.stop:
			return
		}
	}
}

func (o *Outbox) write(batch []Event) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i, e := range batch {
		if err := WriteEvent(ctx, o.store, e); err != nil {
			return i, err
		}
	}
	return len(batch), nil
}

// Close flushes pending events for up to grace, then stops the writer.
func (o *Outbox) Close(grace time.Duration) {
	o.once.Do(func() {
		deadline := time.Now().Add(grace)
		for o.Len() > 0 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		close(o.stop)
		<-o.done
		if n := o.Len(); n > 0 {
			o.log.Error("worklist event outbox: events not written to storage at shutdown", "lost", n)
		}
	})
}
