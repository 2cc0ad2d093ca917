package redis_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/huren-health/huren/auth"
	"github.com/huren-health/huren/auth/redis"
	"github.com/huren-health/huren/auth/statetest"
	"github.com/huren-health/huren/internal/testbackend"
)

func TestState(t *testing.T) {
	addr := testbackend.RedisAddr(t)
	statetest.Run(t, func(t *testing.T) auth.State {
		prefix := testbackend.UniqueName("huren-test-auth-") + ":"
		s, err := redis.Open("redis://"+addr+"/0", prefix)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_ = s.Close()
			// A fresh client: the suite may have closed s already.
			p, err := redis.Open("redis://"+addr+"/0", prefix)
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			if err := p.Purge(context.Background()); err != nil {
				t.Errorf("purge: %v", err)
			}
		})
		return s
	})
}

func TestPurge(t *testing.T) {
	addr := testbackend.RedisAddr(t)
	ctx := context.Background()
	s, err := redis.Open("redis://"+addr+"/0", testbackend.UniqueName("huren-test-auth-")+":")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_ = s.PutSession(ctx, "k", auth.Session{Username: "a"}, time.Minute)
	_, _ = s.BumpGeneration(ctx)
	if err := s.Purge(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetSession(ctx, "k"); !errors.Is(err, auth.ErrSessionNotFound) {
		t.Fatalf("session after purge: %v", err)
	}
	if g, _ := s.Generation(ctx); g != 0 {
		t.Fatalf("generation after purge: %d", g)
	}
}
