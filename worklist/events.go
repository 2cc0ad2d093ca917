package worklist

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/huren-health/huren/storage"
)

// SubscriberBuffer is how many events a subscriber may lag behind before it
// receives EvResync.
const SubscriberBuffer = 1024

// Hub fans events out to in-process subscribers. Publish never blocks: a
// subscriber whose buffer is full loses events and gets EvResync once.
// The zero value is ready to use.
type Hub struct {
	mu   sync.Mutex
	subs map[*hubSub]struct{}
}

type hubSub struct {
	h      *Hub
	c      chan Event
	lagged bool
	once   sync.Once
}

func (s *hubSub) C() <-chan Event { return s.c }

func (s *hubSub) Close() {
	s.once.Do(func() {
		s.h.mu.Lock()
		delete(s.h.subs, s)
		s.h.mu.Unlock()
	})
}

// Subscribe registers a subscriber, removed on Close or when ctx ends.
func (h *Hub) Subscribe(ctx context.Context) Subscription {
	s := &hubSub{h: h, c: make(chan Event, SubscriberBuffer)}
	h.mu.Lock()
	if h.subs == nil {
		h.subs = map[*hubSub]struct{}{}
	}
	h.subs[s] = struct{}{}
	h.mu.Unlock()
	context.AfterFunc(ctx, s.Close)
	return s
}

// Publish delivers e to every subscriber without blocking.
func (h *Hub) Publish(e Event) {
	e.Token = "" // lease tokens never leave the backend on the event bus
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subs {
		if s.lagged {
			// Deliver the resync marker as soon as there is room again.
			select {
			case s.c <- Event{Type: EvResync}:
				s.lagged = false
			default:
				continue
			}
		}
		select {
		case s.c <- e:
		default:
			s.lagged = true
		}
	}
}

// Subscribers reports how many subscribers are registered.
func (h *Hub) Subscribers() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs)
}

// WriteEvent stores e under e.ObjectKey(). Writing the same event twice
// stores the same bytes under the same key, so retries are harmless.
func WriteEvent(ctx context.Context, store storage.Store, e Event) error {
	b, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("worklist: encode event %s/%d: %w", e.Task, e.Seq, err)
	}
	return WriteEventJSON(ctx, store, e.ObjectKey(), b)
}

// WriteEventJSON stores already-encoded event JSON under key.
func WriteEventJSON(ctx context.Context, store storage.Store, key string, b []byte) error {
	if _, err := store.Put(ctx, key, bytes.NewReader(b), storage.PutOptions{ContentType: "application/json", Size: int64(len(b))}); err != nil {
		return fmt.Errorf("worklist: store event %s: %w", key, err)
	}
	return nil
}

// maxEventBytes caps one stored event; events are small (< 4 KiB).
const maxEventBytes = 1 << 20

// LoadEvents reads every event under tasks/ and folds each task's events, in
// Seq order, into the task (with history). It returns the tasks sorted by ID
// and the highest Seq seen, for a backend's Rebuild.
func LoadEvents(ctx context.Context, store storage.Store) ([]Task, int64, error) {
	byTask := map[string][]Event{}
	var maxSeq int64
	err := store.List(ctx, "tasks/", func(info storage.Info) error {
		if !strings.HasSuffix(info.Key, ".json") || !strings.Contains(info.Key, "/events/") {
			return nil
		}
		rc, _, err := store.Get(ctx, info.Key)
		if err != nil {
			return fmt.Errorf("worklist rebuild: get %s: %w", info.Key, err)
		}
		b, err := io.ReadAll(io.LimitReader(rc, maxEventBytes+1))
		rc.Close()
		if err != nil {
			return fmt.Errorf("worklist rebuild: read %s: %w", info.Key, err)
		}
		if len(b) > maxEventBytes {
			return fmt.Errorf("worklist rebuild: %s: event larger than %d bytes", info.Key, maxEventBytes)
		}
		e, err := decodeEvent(b)
		if err != nil {
			return fmt.Errorf("worklist rebuild: decode %s: %w", info.Key, err)
		}
		byTask[e.Task] = append(byTask[e.Task], e)
		maxSeq = max(maxSeq, e.Seq)
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	tasks := make([]Task, 0, len(byTask))
	for _, evs := range byTask {
		sort.Slice(evs, func(i, j int) bool { return evs[i].Seq < evs[j].Seq })
		evs = slices.CompactFunc(evs, func(a, b Event) bool { return a.Seq == b.Seq })
		var t Task
		for _, e := range evs {
			e.Apply(&t)
		}
		t.History = evs
		tasks = append(tasks, t)
	}
	sort.Slice(tasks, func(i, j int) bool { return tasks[i].ID < tasks[j].ID })
	return tasks, maxSeq, nil
}
