package ingest_test

import (
	"bytes"
	"context"
	"math/rand"
	"path/filepath"
	"testing"

	"github.com/huren-health/huren/ingest"
)

// TestIngestMutations complements FuzzIngest with a deterministic stream of
// mutated instances (runs in every go test): ingest must return for each,
// and an accepted instance must be stored byte for byte.
func TestIngestMutations(t *testing.T) {
	seeds, _ := filepath.Glob("testdata/*/*.dcm")
	st, cat := openMemory(t)
	svc, err := ingest.New(ingest.Config{Store: st, Catalog: cat, MaxInstanceBytes: 4 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	r := rand.New(rand.NewSource(2))
	for i := 0; i < 3000; i++ {
		b := bytes.Clone(readFile(t, seeds[r.Intn(len(seeds))]))
		for k := 0; k < 1+r.Intn(8); k++ {
			switch r.Intn(3) {
			case 0:
				b[r.Intn(len(b))] = byte(r.Intn(256))
			case 1:
				b = b[:r.Intn(len(b))+1]
			case 2:
				j := r.Intn(len(b))
				b[j] = 0xFF
			}
		}
		res, err := svc.Ingest(context.Background(), bytes.NewReader(b), int64(len(b)), ingest.Source{})
		if err != nil || res.Duplicate {
			continue
		}
		info, err := st.Stat(context.Background(), ingest.ObjectKey(res.StudyUID, res.SeriesUID, res.SOPInstanceUID))
		if err != nil || info.SHA256 != sum(b) {
			t.Fatalf("input %d accepted but not stored as sent: %v", i, err)
		}
	}
}
