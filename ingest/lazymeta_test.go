package ingest_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/huren-health/huren/catalog"
	"github.com/huren-health/huren/ingest"
	"github.com/huren-health/huren/storage"
)

// The metadata object is derived and written lazily: whatever happens to it
// (lost in a power cut, damaged, left describing other bytes), reads rebuild
// it from the original, and the provenance that only the upload knew — site,
// transport, peer, time received — comes back from the original's object
// metadata, so access scoping by site survives.
func TestMetadataRebuiltFromOriginal(t *testing.T) { forEachBackend(t, testMetadataRebuilt) }

func testMetadataRebuilt(t *testing.T, b backends) {
	ctx := context.Background()
	received := time.Date(2026, 11, 23, 8, 30, 15, 123456789, time.UTC)
	f := newFixture(t, b, func(c *ingest.Config) { c.Now = func() time.Time { return received } })
	src := ingest.Source{Site: "town-a 乡镇卫生院", Via: "stow", RemoteAddr: "[::1]:40000"}
	var recs []catalog.Record
	for _, p := range seriesFiles(t)[:3] {
		res, err := f.ingest(t, readFile(t, p), src)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, res.Record)
	}
	want := make([]*ingest.Meta, len(recs))
	for i, r := range recs {
		m, err := ingest.ReadMeta(ctx, f.store, r.MetaKey)
		if err != nil {
			t.Fatal(err)
		}
		want[i] = m
	}
	info, err := f.store.Stat(ctx, recs[0].ObjectKey)
	if err != nil {
		t.Fatal(err)
	}
	if info.Metadata["site"] == "" || info.Metadata["received"] == "" {
		t.Fatalf("original carries no provenance: %v", info.Metadata)
	}

	// 0: gone; 1: damaged; 2: describes another instance's bytes.
	if err := f.store.Delete(ctx, recs[0].MetaKey); err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.Put(ctx, recs[1].MetaKey, strings.NewReader(`{"version":1,"dataset":`), storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	stale := *want[2]
	stale.SHA256 = strings.Repeat("0", 64)
	b2, err := jsonMarshal(&stale)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.Put(ctx, recs[2].MetaKey, bytes.NewReader(b2), storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	for i, r := range recs {
		m, err := f.svc.InstanceMeta(ctx, r)
		if err != nil {
			t.Fatalf("InstanceMeta(%d): %v", i, err)
		}
		checkSameMeta(t, want[i], m)
		// Written back: the next read is a plain read.
		again, err := ingest.ReadMeta(ctx, f.store, r.MetaKey)
		if err != nil {
			t.Fatalf("rebuilt metadata %d not stored: %v", i, err)
		}
		checkSameMeta(t, want[i], again)
	}
	if got := metricValue(t, f.reg, "huren_ingest_metadata_rebuilt_total"); got != 3 {
		t.Errorf("metadata_rebuilt_total = %v, want 3", got)
	}

	// Reindex after losing every metadata object restores the same records,
	// site included.
	for _, r := range recs {
		if err := f.store.Delete(ctx, r.MetaKey); err != nil {
			t.Fatal(err)
		}
	}
	st, err := ingest.Reindex(ctx, f.store, f.cat, nil)
	if err != nil {
		t.Fatal(err)
	}
	if st.Rederived != 3 || st.Indexed != 3 {
		t.Fatalf("reindex stats %+v, want 3 indexed, 3 re-derived", st)
	}
	for i, r := range recs {
		got, err := f.cat.Instance(ctx, r.InstanceUID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Site != src.Site || !got.ReceivedAt.Equal(received) {
			t.Errorf("record %d after reindex: site %q received %v, want %q %v", i, got.Site, got.ReceivedAt, src.Site, received)
		}
	}
}

func checkSameMeta(t *testing.T, want, got *ingest.Meta) {
	t.Helper()
	if got.SHA256 != want.SHA256 || got.InstanceUID != want.InstanceUID || got.Site != want.Site || got.Via != want.Via ||
		got.RemoteAddr != want.RemoteAddr || !got.ReceivedAt.Equal(want.ReceivedAt) || len(got.Frames) != len(want.Frames) || len(got.Dataset) != len(want.Dataset) {
		t.Errorf("rebuilt metadata differs:\n got %s %s site=%q via=%q remote=%q at=%v frames=%d elems=%d\nwant %s %s site=%q via=%q remote=%q at=%v frames=%d elems=%d",
			got.InstanceUID, got.SHA256, got.Site, got.Via, got.RemoteAddr, got.ReceivedAt, len(got.Frames), len(got.Dataset),
			want.InstanceUID, want.SHA256, want.Site, want.Via, want.RemoteAddr, want.ReceivedAt, len(want.Frames), len(want.Dataset))
	}
}
