package memory_test

import (
	"context"
	"math/rand/v2"
	"net/url"
	"sort"
	"testing"
	"time"

	"github.com/huren-health/huren/catalog"
	"github.com/huren-health/huren/catalog/catalogtest"
	"github.com/huren-health/huren/catalog/memory"
)

func TestContract(t *testing.T) {
	catalogtest.Run(t, func(t *testing.T) catalog.Catalog { return memory.New(nil) })
}

// BenchmarkSearch100k measures the QIDO study searches of
// catalogtest.BenchQueries on 100,000 studies, reporting p50/p99.
func BenchmarkSearch100k(b *testing.B) {
	if testing.Short() {
		b.Skip("loads 100,000 studies")
	}
	ctx := context.Background()
	c := memory.New(nil)
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < catalogtest.BenchStudies; i++ {
		if err := c.Put(ctx, catalogtest.BenchRecord(r, i)); err != nil {
			b.Fatal(err)
		}
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
				res, err := c.Search(ctx, q)
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
