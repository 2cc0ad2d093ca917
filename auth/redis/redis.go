// Package redis is the auth.State shared by replicas, on Redis via go-redis.
// Every key is built by State.key under a configurable prefix; multi-step
// changes (failure counter with window, monotonic last-use) are single Lua
// scripts so concurrent replicas cannot interleave them.
package redis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/huren-health/huren/auth"
	"github.com/huren-health/huren/errkind"
)

var _ auth.State = (*State)(nil)

// ErrUnavailable wraps Redis connection failures so the HTTP layer answers 503.
var ErrUnavailable = errkind.New(errkind.Unavailable, "auth/redis: state backend unavailable")

// State keeps auth state in Redis. Safe for concurrent use.
type State struct {
	c      goredis.UniversalClient
	prefix string
	own    bool
}

// New wraps an existing client (not closed by Close). prefix namespaces
// every key, e.g. "huren:" or a per-test unique prefix.
func New(c goredis.UniversalClient, prefix string) *State {
	return &State{c: c, prefix: prefix}
}

// Open connects to a redis:// URL and owns the client.
func Open(url, prefix string) (*State, error) {
	opt, err := goredis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("auth/redis: %w", err)
	}
	return &State{c: goredis.NewClient(opt), prefix: prefix, own: true}, nil
}

// key builds every Redis key: {prefix}auth:{kind}:{id}.
func (s *State) key(kind, id string) string { return s.prefix + "auth:" + kind + ":" + id }

func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("auth/redis %s: %w", op, err)
	}
	return fmt.Errorf("auth/redis %s: %w: %w", op, ErrUnavailable, err)
}

// PutSession implements auth.State.
func (s *State) PutSession(ctx context.Context, key string, v auth.Session, ttl time.Duration) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("auth/redis put session: %w", err)
	}
	return wrap("put session", s.c.Set(ctx, s.key("session", key), b, ttl).Err())
}

// GetSession implements auth.State.
func (s *State) GetSession(ctx context.Context, key string) (auth.Session, error) {
	b, err := s.c.Get(ctx, s.key("session", key)).Bytes()
	if errors.Is(err, goredis.Nil) {
		return auth.Session{}, auth.ErrSessionNotFound
	}
	if err != nil {
		return auth.Session{}, wrap("get session", err)
	}
	var v auth.Session
	if err := json.Unmarshal(b, &v); err != nil {
		return auth.Session{}, fmt.Errorf("auth/redis get session: corrupt record: %w", err)
	}
	return v, nil
}

// TouchSession implements auth.State.
func (s *State) TouchSession(ctx context.Context, key string, ttl time.Duration) error {
	ok, err := s.c.Expire(ctx, s.key("session", key), ttl).Result()
	if err != nil {
		return wrap("touch session", err)
	}
	if !ok {
		return auth.ErrSessionNotFound
	}
	return nil
}

// DeleteSession implements auth.State.
func (s *State) DeleteSession(ctx context.Context, key string) error {
	return wrap("delete session", s.c.Del(ctx, s.key("session", key)).Err())
}

// addFailure: KEYS[1] counter; ARGV[1] window in ms. Increments and sets the
// expiry only when the counter is new, so the window starts at the first
// failure. Returns the new count.
var addFailure = goredis.NewScript(`
local n = redis.call('INCR', KEYS[1])
if n == 1 or redis.call('PTTL', KEYS[1]) < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
return n`)

// AddFailure implements auth.State.
func (s *State) AddFailure(ctx context.Context, key string, window time.Duration) (int64, error) {
	n, err := addFailure.Run(ctx, s.c, []string{s.key("fail", key)}, window.Milliseconds()).Int64()
	return n, wrap("add failure", err)
}

// Failures implements auth.State.
func (s *State) Failures(ctx context.Context, key string) (int64, error) {
	n, err := s.c.Get(ctx, s.key("fail", key)).Int64()
	if errors.Is(err, goredis.Nil) {
		return 0, nil
	}
	return n, wrap("failures", err)
}

// ResetFailures implements auth.State.
func (s *State) ResetFailures(ctx context.Context, key string) error {
	return wrap("reset failures", s.c.Del(ctx, s.key("fail", key)).Err())
}

// Generation implements auth.State.
func (s *State) Generation(ctx context.Context) (int64, error) {
	n, err := s.c.Get(ctx, s.key("gen", "accounts")).Int64()
	if errors.Is(err, goredis.Nil) {
		return 0, nil
	}
	return n, wrap("generation", err)
}

// BumpGeneration implements auth.State.
func (s *State) BumpGeneration(ctx context.Context) (int64, error) {
	n, err := s.c.Incr(ctx, s.key("gen", "accounts")).Result()
	return n, wrap("bump generation", err)
}

// setUsed: KEYS[1] hash of id → unix ms; ARGV[1] id, ARGV[2] ms. Keeps the
// maximum so a slow replica never moves last-use backwards.
var setUsed = goredis.NewScript(`
local cur = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
if tonumber(ARGV[2]) > cur then redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) end
return 0`)

// SetTokenUsed implements auth.State.
func (s *State) SetTokenUsed(ctx context.Context, id string, t time.Time) error {
	return wrap("set token used", setUsed.Run(ctx, s.c, []string{s.key("tokens", "used")}, id, t.UnixMilli()).Err())
}

// TokensUsed implements auth.State.
func (s *State) TokensUsed(ctx context.Context, ids []string) (map[string]time.Time, error) {
	out := map[string]time.Time{}
	if len(ids) == 0 {
		return out, nil
	}
	vals, err := s.c.HMGet(ctx, s.key("tokens", "used"), ids...).Result()
	if err != nil {
		return nil, wrap("tokens used", err)
	}
	for i, v := range vals {
		str, ok := v.(string)
		if !ok {
			continue
		}
		ms, err := strconv.ParseInt(str, 10, 64)
		if err != nil {
			continue
		}
		out[ids[i]] = time.UnixMilli(ms)
	}
	return out, nil
}

// Purge deletes every key of this State's prefix (all sessions, counters,
// the generation and last-use times): "log everyone out" for operators,
// and cleanup for tests on a shared server. It uses SCAN, never KEYS or
// FLUSHDB.
func (s *State) Purge(ctx context.Context) error {
	iter := s.c.Scan(ctx, 0, s.prefix+"auth:*", 500).Iterator()
	var batch []string
	for iter.Next(ctx) {
		batch = append(batch, iter.Val())
		if len(batch) == 500 {
			if err := s.c.Del(ctx, batch...).Err(); err != nil {
				return wrap("purge", err)
			}
			batch = batch[:0]
		}
	}
	if err := iter.Err(); err != nil {
		return wrap("purge", err)
	}
	if len(batch) > 0 {
		return wrap("purge", s.c.Del(ctx, batch...).Err())
	}
	return nil
}

// Ping implements auth.State.
func (s *State) Ping(ctx context.Context) error { return wrap("ping", s.c.Ping(ctx).Err()) }

// Close implements auth.State.
func (s *State) Close() error {
	if s.own {
		err := s.c.Close()
		if errors.Is(err, goredis.ErrClosed) {
			return nil
		}
		return err
	}
	return nil
}
