package redis

import (
	"context"
	"math/rand/v2"
	"net/url"
	"os"
	"sort"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/huren-health/huren/catalog"
	"github.com/huren-health/huren/catalog/catalogtest"
	"github.com/huren-health/huren/internal/testbackend"
)

var benchLoad struct {
	once sync.Once
	red  *Catalog
	err  error
}

// BenchmarkSearch100k loads 100,000 studies into Redis (pipelined Lua
// Puts, once per process) and measures each query type, reporting p50 and
// p99 latency. Set HUREN_BENCH_REDIS_ADDR to use a private server rather
// than the shared test Redis (the data set takes ~750 MB).
//
// Measured 2026-11-23 on the shared 2-core dev VM (load average 4–5,
// Redis 7.0.15 on the same cores), -benchtime 100x, p50/p99 in ms:
// latest101 5.0/14.1 · page11 (offset 1010) 4.8/9.1 · patientID 0.15/1.7 ·
// accession 0.11/0.32 · dateMonth 4.8/10.9 · modalityMR 6.1/14.1 ·
// modalityMG 5.4/10.2 · nameZhang 10.2/19.7 · name张 11.0/17.9 ·
// nameExact 3.8/10.0 · nameInfix 9.8/18.0 · site 7.4/16.1 ·
// siteModality (≈1 % of studies) 24/38. Load: 100,000 studies in 39 s.
func BenchmarkSearch100k(b *testing.B) {
	if testing.Short() {
		b.Skip("loads 100,000 studies")
	}
	addr := os.Getenv("HUREN_BENCH_REDIS_ADDR")
	if addr == "" {
		addr = testbackend.RedisAddr(b)
	}
	ctx := context.Background()
	benchLoad.once.Do(func() {
		rdb := goredis.NewClient(&goredis.Options{Addr: addr})
		c := New(rdb, testbackend.UniqueName("bench:catalog:"), nil)
		c.own = true
		start := time.Now()
		benchLoad.err = loadBench(ctx, c)
		b.Logf("loaded %d studies in %v", catalogtest.BenchStudies, time.Since(start).Round(time.Millisecond))
		benchLoad.red = c
	})
	if benchLoad.err != nil {
		b.Fatal(benchLoad.err)
	}
	for _, bq := range catalogtest.BenchQueries {
		b.Run(bq.Name, func(b *testing.B) {
			v, _ := url.ParseQuery(bq.Query)
			q, err := catalog.ParseQuery(catalog.StudyLevel, v)
			if err != nil {
				b.Fatal(err)
			}
			q.Sites = bq.Sites
			lat := make([]time.Duration, 0, b.N)
			n := 0
			for b.Loop() {
				t0 := time.Now()
				res, err := benchLoad.red.Search(ctx, q)
				lat = append(lat, time.Since(t0))
				if err != nil {
					b.Fatal(err)
				}
				n = len(res)
			}
			sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
			ms := func(q float64) float64 { return float64(lat[int(q*float64(len(lat)-1))].Microseconds()) / 1000 }
			b.ReportMetric(ms(0.5), "p50-ms")
			b.ReportMetric(ms(0.99), "p99-ms")
			b.ReportMetric(float64(n), "results")
		})
	}
}

// loadBench fills c with the benchmark data set, 1,000 pipelined
// EVALSHA per round trip.
func loadBench(ctx context.Context, c *Catalog) error {
	if err := putScript.Load(ctx, c.rdb).Err(); err != nil {
		return err
	}
	r := rand.New(rand.NewPCG(1, 2))
	for start := 0; start < catalogtest.BenchStudies; start += 1000 {
		pipe := c.rdb.Pipeline()
		for i := start; i < start+1000 && i < catalogtest.BenchStudies; i++ {
			rec, err := catalog.Normalize(catalogtest.BenchRecord(r, i))
			if err != nil {
				return err
			}
			keys, args, err := c.putArgs(rec)
			if err != nil {
				return err
			}
			pipe.EvalSha(ctx, putScript.Hash(), keys, args...)
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return err
		}
	}
	return nil
}

// TestMain removes the benchmark data set after the run.
func TestMain(m *testing.M) {
	code := m.Run()
	if benchLoad.red != nil {
		_ = benchLoad.red.Reset(context.Background())
		_ = benchLoad.red.Close()
	}
	os.Exit(code)
}
