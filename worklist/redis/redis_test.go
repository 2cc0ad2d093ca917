package redis_test

import (
	"testing"

	goredis "github.com/redis/go-redis/v9"

	"github.com/huren-health/huren/internal/testbackend"
	"github.com/huren-health/huren/worklist"
	"github.com/huren-health/huren/worklist/redis"
	"github.com/huren-health/huren/worklist/worklisttest"
)

// newClient connects to the test Redis; the pool is sized for the 64
// concurrent readers of the contract suite.
func newClient(t testing.TB) *goredis.Client {
	c := goredis.NewClient(&goredis.Options{Addr: testbackend.RedisAddr(t), PoolSize: 64})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestContract(t *testing.T) {
	worklisttest.Run(t, func(t *testing.T) worklisttest.Replicas {
		prefix := testbackend.UniqueName("wltest-")
		return func(cfg worklist.Config) worklist.Queue { return redis.New(newClient(t), prefix, cfg) }
	})
}
