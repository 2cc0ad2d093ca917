package ingest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/huren-health/huren/catalog"
	"github.com/huren-health/huren/ingest"
)

func TestSeriesBundle(t *testing.T) { forEachBackend(t, testSeriesBundle) }

func testSeriesBundle(t *testing.T, b backends) {
	ctx := context.Background()
	f := newFixture(t, b, nil)
	files := seriesFiles(t)
	var res ingest.Result
	for _, p := range files[:2] {
		r, err := f.ingest(t, readFile(t, p), ingest.Source{})
		if err != nil {
			t.Fatal(err)
		}
		res = r
	}
	const base = "https://hub.example/dicom-web"
	metadata := func() []map[string]any {
		t.Helper()
		recs, err := f.cat.Instances(ctx, res.StudyUID, res.SeriesUID)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := f.svc.WriteMetadata(ctx, &buf, recs, base); err != nil {
			t.Fatal(err)
		}
		var out []map[string]any
		if err := json.Unmarshal(buf.Bytes(), &out); err != nil {
			t.Fatalf("metadata is not a JSON array: %v\n%s", err, buf.String())
		}
		return out
	}
	assembled := metadata()
	if len(assembled) != 2 {
		t.Fatalf("assembled %d items", len(assembled))
	}
	if got := metricValue(t, f.reg, "huren_ingest_series_bundles_total"); got != 1 { // one miss
		t.Fatalf("bundle counter %v before any bundle", got)
	}
	if err := f.svc.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.Stat(ctx, ingest.BundleKey(res.StudyUID, res.SeriesUID)); err != nil {
		t.Fatalf("no bundle after flush: %v", err)
	}
	fromBundle := metadata()
	if !equalJSON(t, assembled, fromBundle) {
		t.Fatalf("bundle differs from assembly")
	}
	if hits := hitCount(t, f); hits != 1 {
		t.Fatalf("bundle not used (hits %v)", hits)
	}
	pix := fromBundle[0]["7FE00010"].(map[string]any)["BulkDataURI"].(string)
	if !strings.HasPrefix(pix, base+"/studies/"+res.StudyUID+"/series/"+res.SeriesUID+"/instances/") || !strings.HasSuffix(pix, "/bulk/7FE00010") {
		t.Fatalf("BulkDataURI %q", pix)
	}

	// A third instance arrives; the bundle (2 items) is now stale and must
	// not be served even though no rebuild ran yet.
	if _, err := f.ingest(t, readFile(t, files[2]), ingest.Source{}); err != nil {
		t.Fatal(err)
	}
	if got := metadata(); len(got) != 3 {
		t.Fatalf("stale bundle served: %d items, want 3", len(got))
	}
	if err := f.svc.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	before := hitCount(t, f)
	if got := metadata(); len(got) != 3 || hitCount(t, f) != before+1 {
		t.Fatalf("rebuilt bundle not used: %d items", len(got))
	}
}

func hitCount(t *testing.T, f *fixture) float64 {
	t.Helper()
	mfs, _ := f.reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() != "huren_ingest_series_bundles_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetValue() == "hit" {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

func equalJSON(t *testing.T, a, b any) bool {
	t.Helper()
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

// A rebuild reuses the old bundle's items of unchanged instances (reading
// no metadata object for them), skips removed ones and reads only the new
// instance's metadata.
func TestSeriesBundleIncremental(t *testing.T) { forEachBackend(t, testSeriesBundleIncremental) }

func testSeriesBundleIncremental(t *testing.T, b backends) {
	ctx := context.Background()
	f := newFixture(t, b, nil)
	files := seriesFiles(t)
	if len(files) < 3 {
		t.Fatalf("need 3 instances of one series, testdata has %d", len(files))
	}
	recs := ingestFiles(t, f, files[:2])
	study, series := recs[0].StudyUID, recs[0].SeriesUID
	metadata := func() []map[string]any {
		t.Helper()
		var out []map[string]any
		if err := json.Unmarshal([]byte(seriesMetadata(t, f, study, series)), &out); err != nil {
			t.Fatalf("metadata is not a JSON array: %v", err)
		}
		return out
	}
	if err := f.svc.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	before := metadata()
	bySOP := map[string]map[string]any{}
	for _, item := range before {
		bySOP[sopOf(item)] = item
	}
	for _, r := range recs {
		if err := f.store.Delete(ctx, r.MetaKey); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.cat.Delete(ctx, recs[0].InstanceUID); err != nil {
		t.Fatal(err)
	}
	added, err := f.ingest(t, readFile(t, files[2]), ingest.Source{})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.svc.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	hits := hitCount(t, f)
	after := metadata()
	if hitCount(t, f) != hits+1 {
		t.Fatal("rebuilt bundle not served")
	}
	if got := metricValue(t, f.reg, "huren_ingest_metadata_rebuilt_total"); got != 0 {
		t.Errorf("%v metadata objects were rebuilt: the old bundle's items were not reused", got)
	}
	if len(after) != 2 {
		t.Fatalf("%d items after rebuild, want 2 (1 kept + 1 new)", len(after))
	}
	for _, item := range after {
		sop := sopOf(item)
		switch {
		case sop == recs[0].InstanceUID:
			t.Errorf("removed instance %s still in the bundle", sop)
		case sop == added.SOPInstanceUID:
		case !equalJSON(t, bySOP[sop], item):
			t.Errorf("reused item %s differs from the old bundle's", sop)
		}
	}
}

func sopOf(item map[string]any) string {
	v, _ := item["00080018"].(map[string]any)["Value"].([]any)
	if len(v) == 0 {
		return ""
	}
	s, _ := v[0].(string)
	return s
}

// A served bundle is kept in memory under its etag: the next request does
// not read storage, and a new instance (a new etag) is never answered from
// the cached copy.
func TestSeriesBundleCache(t *testing.T) { forEachBackend(t, testSeriesBundleCache) }

func testSeriesBundleCache(t *testing.T, b backends) {
	ctx := context.Background()
	f := newFixture(t, b, nil)
	files := seriesFiles(t)
	recs := ingestFiles(t, f, files[:2])
	study, series := recs[0].StudyUID, recs[0].SeriesUID
	if err := f.svc.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	metadata := func() string { return seriesMetadata(t, f, study, series) }
	first := metadata() // from storage, now cached
	if err := f.store.Delete(ctx, ingest.BundleKey(study, series)); err != nil {
		t.Fatal(err)
	}
	hits := hitCount(t, f)
	if again := metadata(); again != first || hitCount(t, f) != hits+1 {
		t.Fatalf("second request not served from the cached bundle (hits %v → %v)", hits, hitCount(t, f))
	}
	if _, err := f.ingest(t, readFile(t, files[2]), ingest.Source{}); err != nil {
		t.Fatal(err)
	}
	var items []map[string]any
	if err := json.Unmarshal([]byte(metadata()), &items); err != nil || len(items) != 3 {
		t.Fatalf("after a new instance: %d items (%v), want 3 — a cached bundle of the old list was served", len(items), err)
	}
}

// ingestFiles ingests files in order and returns their catalog records.
func ingestFiles(t *testing.T, f *fixture, files []string) []catalog.Record {
	t.Helper()
	var recs []catalog.Record
	for _, p := range files {
		r, err := f.ingest(t, readFile(t, p), ingest.Source{})
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, r.Record)
	}
	return recs
}

// seriesMetadata is WADO-RS series metadata as the service writes it.
func seriesMetadata(t *testing.T, f *fixture, study, series string) string {
	t.Helper()
	ctx := context.Background()
	cur, err := f.cat.Instances(ctx, study, series)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := f.svc.WriteMetadata(ctx, &buf, cur, "http://h/dicom-web"); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}
