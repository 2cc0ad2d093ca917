// Package statetest is the contract suite every auth.State backend runs:
// each subtest checks one sentence of the auth.State documentation.
package statetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/huren-health/huren/auth"
)

// Run runs the suite. newState must return an empty, isolated State.
func Run(t *testing.T, newState func(t *testing.T) auth.State) {
	ctx := context.Background()
	t.Run("SessionRoundTrip", func(t *testing.T) {
		s := newState(t)
		want := auth.Session{Username: "li.wei", Epoch: 3, CSRF: "c", Created: time.UnixMilli(1000).UTC(), Expires: time.UnixMilli(9000).UTC(), Addr: "10.0.0.1"}
		if err := s.PutSession(ctx, "k1", want, time.Minute); err != nil {
			t.Fatal(err)
		}
		got, err := s.GetSession(ctx, "k1")
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Fatalf("session (-want +got):\n%s", d)
		}
	})
	t.Run("MissingSessionIsNotFound", func(t *testing.T) {
		s := newState(t)
		if _, err := s.GetSession(ctx, "nope"); !errors.Is(err, auth.ErrSessionNotFound) {
			t.Fatalf("get missing: %v", err)
		}
		if err := s.TouchSession(ctx, "nope", time.Minute); !errors.Is(err, auth.ErrSessionNotFound) {
			t.Fatalf("touch missing: %v", err)
		}
		if err := s.DeleteSession(ctx, "nope"); err != nil {
			t.Fatalf("delete missing: %v", err)
		}
	})
	t.Run("SessionExpiresAfterTTLAndTouchExtends", func(t *testing.T) {
		s := newState(t)
		withWindow(t, 300*time.Millisecond, func(try int, ttl time.Duration, inTime func() bool) bool {
			short, gone := fmt.Sprintf("short-%d", try), fmt.Sprintf("gone-%d", try)
			if err := s.PutSession(ctx, short, auth.Session{Username: "a"}, ttl); err != nil {
				t.Fatal(err)
			}
			if err := s.TouchSession(ctx, short, time.Hour); err != nil && inTime() {
				t.Fatalf("touch within the TTL: %v", err)
			}
			if err := s.PutSession(ctx, gone, auth.Session{Username: "b"}, ttl); err != nil {
				t.Fatal(err)
			}
			_, err := s.GetSession(ctx, gone)
			if !inTime() {
				return false // the TTL may have run out during the setup
			}
			if err != nil {
				t.Fatalf("session within its TTL: %v", err)
			}
			eventually(t, "the session to expire", func() bool {
				_, err := s.GetSession(ctx, gone)
				return errors.Is(err, auth.ErrSessionNotFound)
			})
			if _, err := s.GetSession(ctx, short); err != nil {
				t.Fatalf("touched session expired: %v", err)
			}
			return true
		})
	})
	t.Run("DeleteSession", func(t *testing.T) {
		s := newState(t)
		_ = s.PutSession(ctx, "k", auth.Session{Username: "a"}, time.Minute)
		if err := s.DeleteSession(ctx, "k"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.GetSession(ctx, "k"); !errors.Is(err, auth.ErrSessionNotFound) {
			t.Fatalf("deleted session: %v", err)
		}
	})
	t.Run("FailureCounterWindow", func(t *testing.T) {
		s := newState(t)
		withWindow(t, 400*time.Millisecond, func(try int, window time.Duration, inTime func() bool) bool {
			key := fmt.Sprintf("u:a%d", try)
			var got []int64
			for range 3 {
				n, err := s.AddFailure(ctx, key, window)
				if err != nil {
					t.Fatalf("add failure: %v", err)
				}
				got = append(got, n)
			}
			total, err := s.Failures(ctx, key)
			if err != nil {
				t.Fatal(err)
			}
			if !inTime() {
				return false // the window may have closed during the setup
			}
			if !slices.Equal(got, []int64{1, 2, 3}) || total != 3 {
				t.Fatalf("three failures in one window counted %v, total %d; want 1 2 3, total 3", got, total)
			}
			if n, _ := s.Failures(ctx, "u:other"); n != 0 {
				t.Fatalf("other key failures = %d", n)
			}
			eventually(t, "the failure window to close", func() bool {
				n, err := s.Failures(ctx, key)
				return err == nil && n == 0
			})
			return true
		})
		_, _ = s.AddFailure(ctx, "u:b", time.Minute)
		if err := s.ResetFailures(ctx, "u:b"); err != nil {
			t.Fatal(err)
		}
		if n, _ := s.Failures(ctx, "u:b"); n != 0 {
			t.Fatalf("failures after reset = %d", n)
		}
	})
	t.Run("GenerationIncrements", func(t *testing.T) {
		s := newState(t)
		g0, err := s.Generation(ctx)
		if err != nil || g0 != 0 {
			t.Fatalf("initial generation %d %v", g0, err)
		}
		g1, _ := s.BumpGeneration(ctx)
		g2, _ := s.BumpGeneration(ctx)
		if g1 != 1 || g2 != 2 {
			t.Fatalf("bumps = %d, %d", g1, g2)
		}
		if g, _ := s.Generation(ctx); g != 2 {
			t.Fatalf("generation = %d", g)
		}
	})
	t.Run("TokenLastUseIsMonotonic", func(t *testing.T) {
		s := newState(t)
		t1 := time.UnixMilli(2_000_000).UTC()
		t0 := time.UnixMilli(1_000_000).UTC()
		if err := s.SetTokenUsed(ctx, "tok1", t1); err != nil {
			t.Fatal(err)
		}
		_ = s.SetTokenUsed(ctx, "tok1", t0)
		got, err := s.TokensUsed(ctx, []string{"tok1", "tok2"})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || !got["tok1"].Equal(t1) {
			t.Fatalf("tokens used = %v", got)
		}
	})
	t.Run("PingAndDoubleClose", func(t *testing.T) {
		s := newState(t)
		if err := s.Ping(ctx); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatalf("second close: %v", err)
		}
	})
}

// withWindow runs a check of something that happens after a time window
// (a TTL, a failure window) without depending on the machine's speed. The
// check's setup must finish within the window for its assertions to mean
// anything; inTime reports whether it did (measured by the client, which
// over-estimates the backend's elapsed time). When it did not — a loaded
// machine — check returns false and runs again with fresh keys and a window
// four times longer, up to about a minute.
func withWindow(t *testing.T, window time.Duration, check func(try int, window time.Duration, inTime func() bool) bool) {
	t.Helper()
	for try := 0; ; try++ {
		start := time.Now()
		if check(try, window, func() bool { return time.Since(start) < window }) {
			return
		}
		if window > time.Minute {
			t.Fatalf("setup never finished within a %v window", window)
		}
		t.Logf("setup took longer than the %v window; again with %v", window, 4*window)
		window *= 4
	}
}

// eventually polls cond until it holds. It gives up after a minute: the
// windows it waits for are well under that on any machine, and a backend
// that never expires anything must fail, not hang.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s did not happen within a minute", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
