package ingest_test

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/huren-health/huren/catalog"
	"github.com/huren-health/huren/ingest"
	"github.com/huren-health/huren/storage"
)

func TestReconcile(t *testing.T) { forEachBackend(t, testReconcile) }

// A crash between an original's write and its catalog write leaves a
// stored, unindexed instance; on a shared catalog no restart rebuilds it.
// Reconcile indexes exactly those, and leaves the rest alone.
func testReconcile(t *testing.T, b backends) {
	ctx := context.Background()
	f := newFixture(t, b, nil)
	files := seriesFiles(t)
	var stored []ingest.Result
	for _, p := range files[:2] {
		res, err := f.ingest(t, readFile(t, p), ingest.Source{Site: "s1"})
		if err != nil {
			t.Fatal(err)
		}
		stored = append(stored, res)
	}
	// Crash after the metadata write: not in the catalog.
	if err := f.cat.Delete(ctx, stored[1].SOPInstanceUID); err != nil {
		t.Fatal(err)
	}
	// Crash before the metadata write: original only.
	orphan := readFile(t, files[2])
	o := parseUIDs(t, orphan)
	if _, err := f.store.PutIfAbsent(ctx, ingest.ObjectKey(o.StudyUID, o.SeriesUID, o.SOPInstanceUID), bytes.NewReader(orphan), storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	st, err := ingest.Reconcile(ctx, f.store, f.cat, nil)
	if err != nil {
		t.Fatal(err)
	}
	if st.Checked != 3 || st.Indexed != 2 || st.Rederived != 1 || st.Unreadable != 0 {
		t.Fatalf("stats %+v", st)
	}
	for _, uid := range []string{stored[1].SOPInstanceUID, o.SOPInstanceUID} {
		rec, err := f.cat.Instance(ctx, uid)
		if err != nil {
			t.Fatalf("%s not indexed: %v", uid, err)
		}
		if uid == stored[1].SOPInstanceUID && rec.Site != "s1" {
			t.Errorf("reconciled record lost its site: %+v", rec)
		}
	}
	// Nothing left to do.
	st, err = ingest.Reconcile(ctx, f.store, f.cat, nil)
	if err != nil || st.Indexed != 0 {
		t.Fatalf("second reconcile %+v %v", st, err)
	}
	if _, err := f.cat.Instance(ctx, "1.2.3.4.5.6.7"); !errors.Is(err, catalog.ErrNotFound) {
		t.Fatal(err)
	}
}
