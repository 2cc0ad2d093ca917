package qrs_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/huren-health/huren/ecg"
	"github.com/huren-health/huren/ecg/qrs"
	"github.com/huren-health/huren/ecg/wfdb"
)

// mitdbDir is the shared MIT-BIH folder relative to this package
// (repo root ../shared/testdata/ecg/mitdb); present in CI, maybe not locally.
const mitdbDir = "../../../shared/testdata/ecg/mitdb"
const expectedDir = "../../../shared/testdata/expected/ecg/mitdb"

func mitdbRecords(t *testing.T) []string {
	t.Helper()
	heas, _ := filepath.Glob(filepath.Join(mitdbDir, "*.hea"))
	if len(heas) == 0 {
		t.Skipf("MIT-BIH records not found in %s", mitdbDir)
	}
	var recs []string
	for _, h := range heas {
		recs = append(recs, strings.TrimSuffix(h, ".hea"))
	}
	sort.Strings(recs)
	return recs
}

func beatSamples(anns []ecg.Annotation) []int {
	var out []int
	for _, a := range anns {
		if wfdb.IsBeat(a.Code) {
			out = append(out, a.Sample)
		}
	}
	return out
}

// TestMITDBAnnotationsMatchOracle verifies the .atr reader against the
// independent oracle before the annotations are used as ground truth.
func TestMITDBAnnotationsMatchOracle(t *testing.T) {
	for _, rec := range mitdbRecords(t) {
		name := filepath.Base(rec)
		f, err := os.Open(rec + ".atr")
		if err != nil {
			t.Fatal(err)
		}
		anns, err := wfdb.ReadAnnotations(f)
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		raw, err := os.ReadFile(filepath.Join(expectedDir, name+".json"))
		if err != nil {
			t.Fatalf("%s: oracle: %v", name, err)
		}
		var want struct {
			Count  int            `json:"beat_annotation_count"`
			Labels map[string]int `json:"beat_counts_by_label"`
			SHA    string         `json:"beat_samples_sha256"`
		}
		if err := json.Unmarshal(raw, &want); err != nil {
			t.Fatal(err)
		}
		beats := beatSamples(anns)
		labels := map[string]int{}
		for _, a := range anns {
			if wfdb.IsBeat(a.Code) {
				labels[a.Code]++
			}
		}
		var parts []string
		for _, b := range beats {
			parts = append(parts, strconv.Itoa(b))
		}
		sum := sha256.Sum256([]byte(strings.Join(parts, ",")))
		if len(beats) != want.Count || hex.EncodeToString(sum[:]) != want.SHA {
			t.Errorf("%s: %d beats sha %x, oracle %d beats sha %s", name, len(beats), sum[:6], want.Count, want.SHA[:12])
		}
		if fmt.Sprint(labels) != fmt.Sprint(want.Labels) {
			t.Errorf("%s: labels %v, oracle %v", name, labels, want.Labels)
		}
	}
}

// TestMITDBDetection scores QRS detection EC57-style (150 ms window, beat
// labels only, whole record) and fails below 99.5 % gross Se or +P.
func TestMITDBDetection(t *testing.T) {
	var gross qrs.Score
	t.Logf("%-6s %6s %5s %5s %5s %8s %8s", "record", "beats", "TP", "FN", "FP", "Se%", "+P%")
	for _, path := range mitdbRecords(t) {
		rec, err := wfdb.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		var leads [][]float64
		for _, l := range rec.Leads {
			leads = append(leads, l.Samples)
		}
		det, _ := qrs.Consensus(leads, rec.FS)
		ref := beatSamples(rec.Annotations)
		s := qrs.Compare(ref, det, int(0.15*rec.FS))
		gross = gross.Add(s)
		t.Logf("%-6s %6d %5d %5d %5d %8.2f %8.2f", filepath.Base(path), len(ref), s.TP, s.FN, s.FP, 100*s.Se(), 100*s.PPV())
	}
	t.Logf("%-6s %6d %5d %5d %5d %8.2f %8.2f", "gross", gross.TP+gross.FN, gross.TP, gross.FN, gross.FP, 100*gross.Se(), 100*gross.PPV())
	if gross.Se() < 0.995 || gross.PPV() < 0.995 {
		t.Errorf("gross Se %.2f%% +P %.2f%%: below the 99.5%% floor", 100*gross.Se(), 100*gross.PPV())
	}
}
