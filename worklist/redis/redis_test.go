package redis_test

import (
	"context"
	"errors"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

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

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	q := redis.New(newClient(t), testbackend.UniqueName("wlmetrics-"), worklist.Config{Registerer: reg})
	defer q.Close()
	_, err := q.ClaimNext(context.Background(), worklist.Actor{ID: "a", Groups: []string{"g"}}, "g", worklist.StageRead)
	if !errors.Is(err, worklist.ErrEmpty) {
		t.Fatal(err)
	}
	n, err := testutil.GatherAndCount(reg, "huren_worklist_ops_total")
	if err != nil || n != 1 {
		t.Fatalf("metric series %d (%v)", n, err)
	}
	if v := testutil.ToFloat64(mustCounter(t, reg)); v != 1 {
		t.Fatalf("claim_next empty count %v", v)
	}
}

func mustCounter(t *testing.T, reg *prometheus.Registry) prometheus.Collector {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "huren_worklist_ops_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["op"] == "claim_next" && labels["result"] == "empty" {
				return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "x"}, func() float64 { return m.GetCounter().GetValue() })
			}
		}
	}
	t.Fatal("no claim_next/empty series")
	return nil
}
