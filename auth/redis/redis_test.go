package redis_test

import (
	"testing"

	"github.com/huren-health/huren/auth"
	"github.com/huren-health/huren/auth/redis"
	"github.com/huren-health/huren/auth/statetest"
	"github.com/huren-health/huren/internal/testbackend"
)

func TestState(t *testing.T) {
	addr := testbackend.RedisAddr(t)
	statetest.Run(t, func(t *testing.T) auth.State {
		s, err := redis.Open("redis://"+addr+"/0", testbackend.UniqueName("huren-test-auth-")+":")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	})
}
