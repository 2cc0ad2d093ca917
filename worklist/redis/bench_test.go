package redis

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/huren-health/huren/internal/testbackend"
	"github.com/huren-health/huren/storage/fs"
	"github.com/huren-health/huren/worklist"
)

// seed creates n routine tasks in group g, pipelined 500 at a time (the
// same upsert script Upsert runs, without waiting for each reply).
func seed(tb testing.TB, q *Queue, g string, n int) {
	tb.Helper()
	ctx := context.Background()
	if err := upsertScript.Load(ctx, q.c).Err(); err != nil {
		tb.Fatal(err)
	}
	doc, _ := json.Marshal(worklist.Doc{Kind: worklist.KindStudy, Site: "bench"})
	now := time.Now()
	for lo := 0; lo < n; lo += 500 {
		pipe := q.c.Pipeline()
		for i := lo; i < min(n, lo+500); i++ {
			ref := fmt.Sprintf("bench-%d", i)
			pipe.EvalSha(ctx, upsertScript.Hash(), []string{q.key()}, q.obMax, q.leaseMS, "study:"+ref,
				worklist.NewID(now), doc, g, i%4, now.Add(time.Duration(i)*time.Second).UnixMilli(), "bench")
		}
		if _, err := pipe.Exec(ctx); err != nil {
			tb.Fatal(err)
		}
	}
}

func benchQueue(b *testing.B, withStore bool) *Queue {
	c := goredis.NewClient(&goredis.Options{Addr: testbackend.RedisAddr(b), PoolSize: 64})
	b.Cleanup(func() { _ = c.Close() })
	cfg := worklist.Config{}
	if withStore {
		st, err := fs.New(fs.Config{Root: b.TempDir()}, nil)
		if err != nil {
			b.Fatal(err)
		}
		cfg.Store = st
	}
	q := New(c, testbackend.UniqueName("wlbench-"), cfg)
	b.Cleanup(func() {
		_ = q.deleteAll(context.Background())
		_ = q.Close()
	})
	return q
}

// BenchmarkClaim measures the Go claim path end to end (ClaimNext through
// go-redis, each call returning its own claimed task) with 1 and 50
// concurrent workers; it reports claims/s, the p50/p99 latency of one
// ClaimNext call, claims per script run (concurrent calls are
// group-committed, claim.go) and Redis time per claim (see evalshaUsec).
func BenchmarkClaim(b *testing.B) {
	for _, tc := range []struct {
		name      string
		workers   int
		withStore bool
	}{{"workers=1", 1, false}, {"workers=50", 50, false}, {"workers=50,outbox", 50, true}} {
		b.Run(tc.name, func(b *testing.B) {
			q := benchQueue(b, tc.withStore)
			seed(b, q, "g", b.N)
			a := worklist.Actor{ID: "bench", Groups: []string{"g"}}
			lat := make([][]time.Duration, tc.workers)
			var wg sync.WaitGroup
			ctx := context.Background()
			scripts0 := q.claimer("g", worklist.StageRead).batches.Load()
			usec0 := evalshaUsec(b, q)
			b.ResetTimer()
			start := time.Now()
			for w := range tc.workers {
				n := b.N / tc.workers
				if w < b.N%tc.workers {
					n++
				}
				wg.Go(func() {
					l := make([]time.Duration, 0, n)
					for range n {
						t0 := time.Now()
						if _, err := q.ClaimNext(ctx, a, "g", worklist.StageRead); err != nil {
							b.Error(err)
							return
						}
						l = append(l, time.Since(t0))
					}
					lat[w] = l
				})
			}
			wg.Wait()
			el := time.Since(start)
			b.StopTimer()
			scripts := q.claimer("g", worklist.StageRead).batches.Load() - scripts0
			usec := evalshaUsec(b, q) - usec0
			all := slices.Concat(lat...)
			slices.Sort(all)
			if len(all) > 0 {
				b.ReportMetric(float64(len(all))/el.Seconds(), "claims/s")
				b.ReportMetric(float64(all[len(all)/2].Microseconds()), "p50-µs")
				b.ReportMetric(float64(all[len(all)*99/100].Microseconds()), "p99-µs")
				b.ReportMetric(float64(len(all))/float64(max(scripts, 1)), "claims/script")
				b.ReportMetric(usec/float64(len(all)), "redis-µs/claim")
			}
		})
	}
}

// evalshaUsec is the time Redis has spent in EVALSHA so far (INFO
// commandstats): the claims' cost inside Redis, Lua and the commands it
// calls included, as long as nothing else runs scripts on that server
// (bench/worklist_claims.sh starts its own).
func evalshaUsec(tb testing.TB, q *Queue) float64 {
	tb.Helper()
	info, err := q.c.Info(context.Background(), "commandstats").Result()
	if err != nil {
		tb.Fatal(err)
	}
	for line := range strings.SplitSeq(info, "\n") {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "cmdstat_evalsha:"); ok {
			for kv := range strings.SplitSeq(rest, ",") {
				if v, ok := strings.CutPrefix(kv, "usec="); ok {
					f, err := strconv.ParseFloat(v, 64)
					if err != nil {
						tb.Fatal(err)
					}
					return f
				}
			}
		}
	}
	return 0
}

// TestSeedForRedisBenchmark seeds tasks for bench/worklist_claims.sh so
// redis-benchmark can drive the very same claim script. It runs only when
// WORKLIST_SEED_PREFIX and WORKLIST_SEED_N are set, and prints the claim
// script's SHA and key base.
func TestSeedForRedisBenchmark(t *testing.T) {
	prefix, ns := os.Getenv("WORKLIST_SEED_PREFIX"), os.Getenv("WORKLIST_SEED_N")
	if prefix == "" || ns == "" {
		t.Skip("only for bench/worklist_claims.sh")
	}
	n, err := strconv.Atoi(ns)
	if err != nil {
		t.Fatal(err)
	}
	c := goredis.NewClient(&goredis.Options{Addr: testbackend.RedisAddr(t)})
	defer c.Close()
	q := New(c, prefix, worklist.Config{})
	defer q.Close()
	seed(t, q, "g", n)
	if err := claimNextScript.Load(context.Background(), c).Err(); err != nil {
		t.Fatal(err)
	}
	fmt.Printf("CLAIM_SHA=%s\nKEY_BASE=%s\nLEASE_MS=%s\n", claimNextScript.Hash(), q.key(), q.leaseMS)
}
