package ecgcli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/huren-health/huren/ecg/internal/shareddata"
	"github.com/huren-health/huren/ecg/qrs"
	"github.com/huren-health/huren/ecg/wfdb"
)

// TestEveryRecord runs `huren ecg analyze FILE --json` on every ECG in the
// shared test data (MIT-BIH, NST, LUDB, aECG, DICOM, SCP) and checks what a
// new user would: no long record refused, beats reported for the analysed
// stretches and matching the reference there (WFDB records with .atr), no
// reader error on a valid file. About a minute of CPU: it runs with
// HUREN_ECG_ALL=1 (the table in bench/ECG_RESULTS_QRS.md); CI runs the
// NST records through the same pipeline in ecg/analysis.
//
//	HUREN_ECG_ALL=1 go test ./ecg/ecgcli -run EveryRecord -v
func TestEveryRecord(t *testing.T) {
	if os.Getenv("HUREN_ECG_ALL") != "1" {
		t.Skip("whole-corpus run: set HUREN_ECG_ALL=1")
	}
	root := filepath.Dir(shareddata.Dir(t, "ecg/mitdb", "*.hea"))
	var files []string
	for _, db := range []string{"mitdb", "nstdb", "ludb"} {
		heas, _ := filepath.Glob(filepath.Join(root, db, "*.hea"))
		for _, h := range heas {
			files = append(files, strings.TrimSuffix(h, ".hea"))
		}
	}
	for _, db := range []string{"aecg", "dicom", "scp"} {
		m, _ := filepath.Glob(filepath.Join(root, db, "*"))
		for _, f := range m {
			if !strings.HasSuffix(f, ".md") {
				files = append(files, f)
			}
		}
	}
	sort.Strings(files)
	t.Log("| file | s | interpretable | reasons | analysed s | windows good/usable/poor | beats | ref beats in analysed | Se % | +P % | flags |")
	refused, noBeats := 0, 0
	for _, f := range files {
		rel, _ := filepath.Rel(root, f)
		var out, errb bytes.Buffer
		if err := Main(context.Background(), []string{"analyze", f, "--json"}, &out, &errb); err != nil {
			t.Logf("| %s | reader error: %v |", rel, err)
			// The readers' own tests judge their errors; a WFDB record of
			// the corpus must read.
			if !strings.HasPrefix(rel, "aecg") && !strings.HasPrefix(rel, "scp") && !strings.HasPrefix(rel, "dicom") {
				t.Errorf("%s: %v", rel, err)
			}
			continue
		}
		var a struct {
			FS            float64  `json:"fs"`
			DurationS     float64  `json:"duration_s"`
			Interpretable bool     `json:"interpretable"`
			Reasons       []string `json:"reasons"`
			Beats         []int    `json:"beats"`
			Quality       struct {
				AnalysedS float64 `json:"analysed_s"`
				Windows   []struct {
					StartS  float64 `json:"start_s"`
					EndS    float64 `json:"end_s"`
					Verdict string  `json:"verdict"`
				} `json:"windows"`
			} `json:"quality"`
			Flags []struct {
				Rule string `json:"rule"`
			} `json:"flags"`
		}
		if err := json.Unmarshal(out.Bytes(), &a); err != nil {
			t.Fatalf("%s: %v", rel, err)
		}
		var vc [3]int
		for _, w := range a.Quality.Windows {
			vc[map[string]int{"good": 0, "usable": 1, "poor": 2}[w.Verdict]]++
		}
		score, refN := "", ""
		if rec, err := wfdb.Open(f); err == nil && len(rec.Annotations) > 0 && !strings.Contains(rel, "ludb") {
			var ref []int
			for _, an := range rec.Annotations {
				ts := float64(an.Sample) / rec.FS
				if !wfdb.IsBeat(an.Code) {
					continue
				}
				for _, w := range a.Quality.Windows {
					if w.Verdict != "poor" && ts >= w.StartS && ts < w.EndS {
						ref = append(ref, an.Sample)
						break
					}
				}
			}
			s := qrs.Compare(ref, a.Beats, int(0.15*rec.FS))
			score = fmt.Sprintf("%.2f | %.2f", 100*s.Se(), 100*s.PPV())
			refN = strconv.Itoa(len(ref))
		} else {
			score = "– | –"
		}
		var flags []string
		for _, fl := range a.Flags {
			flags = append(flags, fl.Rule)
		}
		t.Logf("| %s | %.0f | %v | %s | %.0f | %d / %d / %d | %d | %s | %s | %s |", rel, a.DurationS, a.Interpretable, strings.Join(a.Reasons, "; "),
			a.Quality.AnalysedS, vc[0], vc[1], vc[2], len(a.Beats), refN, score, strings.Join(flags, ", "))
		if a.DurationS > 60 && !a.Interpretable {
			refused++
			t.Errorf("%s: long record refused: %v", rel, a.Reasons)
		}
		if a.DurationS > 60 && len(a.Beats) == 0 {
			noBeats++
			t.Errorf("%s: long record without beats", rel)
		}
	}
	t.Logf("%d files; long records refused: %d; long records without beats: %d", len(files), refused, noBeats)
}
