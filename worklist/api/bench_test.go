package api_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/huren-health/huren/internal/testbackend"
	"github.com/huren-health/huren/worklist"
	wlredis "github.com/huren-health/huren/worklist/redis"
)

// BenchmarkStudyToSSE measures, per study, the time from the end of its
// quiet period (last instance + Quiet) to the "created" event arriving at
// an SSE client over HTTP. Reports p50/p99 in ms.
func BenchmarkStudyToSSE(b *testing.B) {
	b.Run("memory", func(b *testing.B) { benchStudyToSSE(b, newEnv(b, true, quiet)) })
	b.Run("redis-2-replicas", func(b *testing.B) {
		c := goredis.NewClient(&goredis.Options{Addr: testbackend.RedisAddr(b)})
		b.Cleanup(func() { _ = c.Close() })
		prefix := testbackend.UniqueName("wlsse-")
		// The task is created through replica A; the SSE client is served
		// by replica B, which sees it through Redis pub/sub.
		a := wlredis.New(c, prefix, worklist.Config{})
		srv := wlredis.New(c, prefix, worklist.Config{})
		benchStudyToSSE(b, newEnvWith(b, true, quiet, srv, a))
	})
}

const quiet = 100 * time.Millisecond

func benchStudyToSSE(b *testing.B, e *env) {
	ch, stop := openSSE(b, e, "group=ct")
	defer stop()
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		uid := fmt.Sprintf("1.2.840.%d", i)
		for j := range 3 {
			if err := e.tr.Observe(worklist.Stored{StudyUID: uid, SeriesUID: uid + ".1", InstanceUID: fmt.Sprintf("%s.1.%d", uid, j), Site: "s", Modality: "CT"}); err != nil {
				b.Fatal(err)
			}
		}
		quietEnds := time.Now().Add(quiet)
		for {
			ev := <-ch
			if ev.Type == worklist.EvCreated && ev.Doc != nil && ev.Doc.Ref == uid {
				lat = append(lat, time.Since(quietEnds))
				break
			}
		}
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}
