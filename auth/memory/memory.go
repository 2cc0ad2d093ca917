// Package memory is the in-process auth.State: sessions, failure counters,
// token last-use times and the account generation in maps guarded by one
// mutex. It serves a single replica (the embedded default) and tests.
package memory

import (
	"context"
	"sync"
	"time"

	"github.com/huren-health/huren/auth"
)

var _ auth.State = (*State)(nil)

type session struct {
	s     auth.Session
	until time.Time
}

type counter struct {
	n     int64
	until time.Time
}

// State is safe for concurrent use. Expired entries are dropped lazily on
// access and by an occasional sweep during writes.
type State struct {
	mu       sync.Mutex
	now      func() time.Time
	sessions map[string]session
	failures map[string]counter
	used     map[string]time.Time
	gen      int64
	writes   int
}

// New returns an empty State.
func New() *State {
	return &State{now: time.Now, sessions: map[string]session{}, failures: map[string]counter{}, used: map[string]time.Time{}}
}

// sweep drops expired entries every 1024 writes so an idle key set does not
// grow without bound. Caller holds mu.
func (m *State) sweep() {
	m.writes++
	if m.writes%1024 != 0 {
		return
	}
	now := m.now()
	for k, v := range m.sessions {
		if !now.Before(v.until) {
			delete(m.sessions, k)
		}
	}
	for k, v := range m.failures {
		if !now.Before(v.until) {
			delete(m.failures, k)
		}
	}
}

// PutSession implements auth.State.
func (m *State) PutSession(_ context.Context, key string, s auth.Session, ttl time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sweep()
	m.sessions[key] = session{s: s, until: m.now().Add(ttl)}
	return nil
}

// GetSession implements auth.State.
func (m *State) GetSession(_ context.Context, key string) (auth.Session, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := m.sessions[key]
	if !ok || !m.now().Before(v.until) {
		delete(m.sessions, key)
		return auth.Session{}, auth.ErrSessionNotFound
	}
	return v.s, nil
}

// TouchSession implements auth.State.
func (m *State) TouchSession(_ context.Context, key string, ttl time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := m.sessions[key]
	if !ok || !m.now().Before(v.until) {
		delete(m.sessions, key)
		return auth.ErrSessionNotFound
	}
	v.until = m.now().Add(ttl)
	m.sessions[key] = v
	return nil
}

// DeleteSession implements auth.State.
func (m *State) DeleteSession(_ context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.sessions, key)
	return nil
}

// AddFailure implements auth.State.
func (m *State) AddFailure(_ context.Context, key string, window time.Duration) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sweep()
	now := m.now()
	c, ok := m.failures[key]
	if !ok || !now.Before(c.until) {
		c = counter{until: now.Add(window)}
	}
	c.n++
	m.failures[key] = c
	return c.n, nil
}

// Failures implements auth.State.
func (m *State) Failures(_ context.Context, key string) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.failures[key]
	if !ok || !m.now().Before(c.until) {
		return 0, nil
	}
	return c.n, nil
}

// ResetFailures implements auth.State.
func (m *State) ResetFailures(_ context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.failures, key)
	return nil
}

// Generation implements auth.State.
func (m *State) Generation(context.Context) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.gen, nil
}

// BumpGeneration implements auth.State.
func (m *State) BumpGeneration(context.Context) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.gen++
	return m.gen, nil
}

// SetTokenUsed implements auth.State.
func (m *State) SetTokenUsed(_ context.Context, id string, t time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if t.After(m.used[id]) {
		m.used[id] = t
	}
	return nil
}

// TokensUsed implements auth.State.
func (m *State) TokensUsed(_ context.Context, ids []string) (map[string]time.Time, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string]time.Time, len(ids))
	for _, id := range ids {
		if t, ok := m.used[id]; ok {
			out[id] = t
		}
	}
	return out, nil
}

// Ping implements auth.State.
func (m *State) Ping(context.Context) error { return nil }

// Close implements auth.State.
func (m *State) Close() error { return nil }
