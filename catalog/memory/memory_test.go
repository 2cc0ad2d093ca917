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

// Instances of one series share equal attribute elements inside the
// catalog; what callers get back stays theirs to change, and removing the
// instance others were shared from changes nothing for them.
func TestSharedElementsStayIsolated(t *testing.T) {
	ctx := context.Background()
	c := memory.New(nil)
	base := catalogtest.BenchRecord(rand.New(rand.NewPCG(1, 2)), 1)
	mk := func(n string) catalog.Record {
		r := base
		r.Attrs = base.Attrs.Clone()
		r.InstanceUID = base.SeriesUID + "." + n
		r.Attrs.Set(catalog.TagSOPInstanceUID, "UI", r.InstanceUID)
		return r
	}
	for _, n := range []string{"1", "2", "3"} {
		if err := c.Put(ctx, mk(n)); err != nil {
			t.Fatal(err)
		}
	}
	a, err := c.Instance(ctx, base.SeriesUID+".1")
	if err != nil {
		t.Fatal(err)
	}
	a.Attrs[catalog.TagPatientID].Value[0] = "CHANGED"
	a.Attrs.Set(catalog.TagModality, "CS", "XX")
	if err := c.Delete(ctx, base.SeriesUID+".3"); err != nil { // the last one put
		t.Fatal(err)
	}
	if err := c.Put(ctx, mk("4")); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"1", "2", "4"} {
		r, err := c.Instance(ctx, base.SeriesUID+"."+n)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := r.Attrs.String(catalog.TagPatientID), base.Attrs.String(catalog.TagPatientID); got != want {
			t.Errorf("instance %s: PatientID %q, want %q", n, got, want)
		}
		if got := r.Attrs.String(catalog.TagModality); got != base.Attrs.String(catalog.TagModality) {
			t.Errorf("instance %s: Modality %q", n, got)
		}
	}
}
