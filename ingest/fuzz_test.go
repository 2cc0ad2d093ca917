package ingest_test

import (
	"bytes"
	"context"
	"io"
	"path/filepath"
	"testing"

	"github.com/huren-health/huren/ingest"
)

// FuzzIngest feeds arbitrary bytes to the ingest path (spool, parse,
// validate, store): it must never panic; when it accepts an instance, the
// stored original must be exactly the input, and when it refuses one,
// nothing may be stored.
func FuzzIngest(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*/*.dcm")
	for _, p := range seeds {
		f.Add(readFile(f, p))
	}
	f.Add([]byte{})
	f.Add([]byte("DICM"))
	st, cat := memoryBackends.openTB(f)
	svc, err := ingest.New(ingest.Config{Store: st, Catalog: cat, MaxInstanceBytes: 4 << 20})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { svc.Close() })
	f.Fuzz(func(t *testing.T, data []byte) {
		ctx := context.Background()
		res, err := svc.Ingest(ctx, bytes.NewReader(data), int64(len(data)), ingest.Source{Via: "fuzz"})
		if err != nil {
			if res.SOPInstanceUID != "" && res.StudyUID != "" && res.SeriesUID != "" && ingest.ValidUID(res.StudyUID) && ingest.ValidUID(res.SeriesUID) && ingest.ValidUID(res.SOPInstanceUID) {
				// A refused instance must not have left a new original
				// (an earlier accepted one with the same UIDs may exist).
				if info, err2 := st.Stat(ctx, ingest.ObjectKey(res.StudyUID, res.SeriesUID, res.SOPInstanceUID)); err2 == nil && info.SHA256 == res.SHA256 && !isConflict(err) {
					t.Fatalf("refused (%v) but stored", err)
				}
			}
			return
		}
		rc, _, err := st.Get(ctx, ingest.ObjectKey(res.StudyUID, res.SeriesUID, res.SOPInstanceUID))
		if err != nil {
			t.Fatalf("accepted but not stored: %v", err)
		}
		got, _ := io.ReadAll(rc)
		rc.Close()
		if !res.Duplicate && !bytes.Equal(got, data) {
			t.Fatal("stored bytes differ from the input")
		}
	})
}

func isConflict(err error) bool { return ingest.Reason(err) == ingest.ReasonProcessingFailure }
