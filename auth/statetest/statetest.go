// Package statetest is the contract suite every auth.State backend runs:
// each subtest checks one sentence of the auth.State documentation.
package statetest

import (
	"context"
	"errors"
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
		if err := s.PutSession(ctx, "short", auth.Session{Username: "a"}, 300*time.Millisecond); err != nil {
			t.Fatal(err)
		}
		if err := s.TouchSession(ctx, "short", time.Minute); err != nil {
			t.Fatal(err)
		}
		if err := s.PutSession(ctx, "gone", auth.Session{Username: "b"}, 300*time.Millisecond); err != nil {
			t.Fatal(err)
		}
		time.Sleep(450 * time.Millisecond)
		if _, err := s.GetSession(ctx, "short"); err != nil {
			t.Fatalf("touched session expired: %v", err)
		}
		if _, err := s.GetSession(ctx, "gone"); !errors.Is(err, auth.ErrSessionNotFound) {
			t.Fatalf("expired session: %v", err)
		}
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
		for i := int64(1); i <= 3; i++ {
			n, err := s.AddFailure(ctx, "u:a", 400*time.Millisecond)
			if err != nil || n != i {
				t.Fatalf("add failure %d: n=%d err=%v", i, n, err)
			}
		}
		if n, _ := s.Failures(ctx, "u:a"); n != 3 {
			t.Fatalf("failures = %d, want 3", n)
		}
		if n, _ := s.Failures(ctx, "u:other"); n != 0 {
			t.Fatalf("other key failures = %d", n)
		}
		time.Sleep(550 * time.Millisecond)
		if n, _ := s.Failures(ctx, "u:a"); n != 0 {
			t.Fatalf("failures after window = %d, want 0", n)
		}
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
