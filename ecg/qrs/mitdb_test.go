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
	"sync"
	"testing"

	"github.com/huren-health/huren/ecg"
	"github.com/huren-health/huren/ecg/internal/shareddata"
	"github.com/huren-health/huren/ecg/qrs"
	"github.com/huren-health/huren/ecg/wfdb"
)

func mitdbRecords(t testing.TB) []string {
	t.Helper()
	dir := shareddata.Dir(t, "ecg/mitdb", "*.hea")
	heas, _ := filepath.Glob(filepath.Join(dir, "*.hea"))
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
	expectedDir := filepath.Join(shareddata.Root(), "expected", "ecg", "mitdb")
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

// mitdbCase is one MIT-BIH record prepared for scoring: the reference beats
// outside VF episodes, the VF episodes, the reference groups it belongs to,
// and its leads after the detector's parameter-independent stages.
type mitdbCase struct {
	name   string
	fs     float64
	ref    []int // every reference beat
	vf     []qrs.Interval
	groups []string
	leads  []*qrs.Prepared
}

var (
	casesOnce sync.Once
	cases     []*mitdbCase
	casesErr  error
)

// loadMITDB reads and prepares every record once per test binary (the
// expensive part of scoring), two records at a time.
func loadMITDB(t *testing.T) []*mitdbCase {
	t.Helper()
	paths := mitdbRecords(t)
	casesOnce.Do(func() {
		out := make([]*mitdbCase, len(paths))
		errs := make([]error, len(paths))
		var wg sync.WaitGroup
		sem := make(chan struct{}, 2)
		for i, p := range paths {
			wg.Add(1)
			go func() {
				defer wg.Done()
				sem <- struct{}{}
				defer func() { <-sem }()
				out[i], errs[i] = prepareCase(p)
			}()
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				casesErr = err
				return
			}
		}
		cases = out
	})
	if casesErr != nil {
		t.Fatal(casesErr)
	}
	return cases
}

func prepareCase(path string) (*mitdbCase, error) {
	rec, err := wfdb.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	c := &mitdbCase{name: filepath.Base(path), fs: rec.FS, ref: beatSamples(rec.Annotations)}
	var codes []string
	var samples []int
	for _, a := range rec.Annotations {
		codes = append(codes, a.Code)
		samples = append(samples, a.Sample)
	}
	c.vf = qrs.VFEpisodes(codes, samples, rec.Len())
	c.groups = referenceGroups(rec.Annotations)
	for _, l := range rec.Leads {
		c.leads = append(c.leads, qrs.Prepare(l.Samples, rec.FS))
	}
	return c, nil
}

// referenceGroups names the record groups a record belongs to, from its
// reference annotations only (never from record numbers or detector
// output): "AF" when a rhythm annotation marks atrial fibrillation or
// flutter, "ectopy" when ≥ 5 % of beats are ectopic (V E F A a J S r e j n),
// "noise" when ≥ 10 signal-quality changes (~) are marked, "paced" when ≥ 50 %
// of beats are paced or fusion-of-paced, "BBB" when ≥ 50 % are L, R or B.
func referenceGroups(anns []ecg.Annotation) []string {
	beats, ectopic, paced, bbb, noise := 0, 0, 0, 0, 0
	af := false
	for _, a := range anns {
		switch {
		case a.Code == "+" && (strings.HasPrefix(a.Aux, "(AFIB") || strings.HasPrefix(a.Aux, "(AFL")):
			af = true
		case a.Code == "~":
			noise++
		case wfdb.IsBeat(a.Code):
			beats++
			switch a.Code {
			case "V", "E", "F", "A", "a", "J", "S", "r", "e", "j", "n":
				ectopic++
			case "/", "f":
				paced++
			case "L", "R", "B":
				bbb++
			}
		}
	}
	var g []string
	if af {
		g = append(g, "AF")
	}
	if beats > 0 && ectopic*20 >= beats {
		g = append(g, "ectopy")
	}
	if noise >= 10 {
		g = append(g, "noise")
	}
	if beats > 0 && paced*2 >= beats {
		g = append(g, "paced")
	}
	if beats > 0 && bbb*2 >= beats {
		g = append(g, "BBB")
	}
	return g
}

// scored is one record's result: whole record and EC57 (VF excluded).
type scored struct {
	whole, ec57 qrs.Score
}

func scoreCase(c *mitdbCase, p qrs.Params) scored {
	det, _ := qrs.ConsensusOf(c.leads, c.fs, p)
	win := int(0.15 * c.fs)
	return scored{
		whole: qrs.Compare(c.ref, det, win),
		ec57:  qrs.Compare(qrs.Exclude(c.ref, c.vf), qrs.Exclude(det, c.vf), win),
	}
}

// fold splits the sorted record list in two: even positions are fold A,
// odd positions fold B (interleaved, so both folds hold 1xx and 2xx
// records).
func fold(i int) string {
	if i%2 == 0 {
		return "A"
	}
	return "B"
}

// recordFloor is the lowest EC57 Se and +P (percent) each record may score
// with the default parameters: the scores of commit "ecg/qrs: …
// cross-validated" minus 0.1 percentage point (about two beats in 2000), so a
// regression on any single record fails even when the gross figures hold.
var recordFloor = map[string][2]float64{
	"100": {99.90, 99.90}, // today 100.00 / 100.00
	"101": {99.84, 99.68}, // today 99.95 / 99.79
	"102": {99.90, 99.90}, // today 100.00 / 100.00
	"103": {99.85, 99.90}, // today 99.95 / 100.00
	"104": {99.81, 99.72}, // today 99.91 / 99.82
	"105": {99.43, 99.12}, // today 99.53 / 99.22
	"106": {99.85, 99.85}, // today 99.95 / 99.95
	"107": {99.75, 99.85}, // today 99.86 / 99.95
	"108": {99.33, 99.38}, // today 99.43 / 99.49
	"109": {99.74, 99.90}, // today 99.84 / 100.00
	"111": {99.85, 99.90}, // today 99.95 / 100.00
	"112": {99.90, 99.90}, // today 100.00 / 100.00
	"113": {99.84, 99.90}, // today 99.94 / 100.00
	"114": {99.74, 99.84}, // today 99.84 / 99.95
	"115": {99.90, 99.90}, // today 100.00 / 100.00
	"116": {98.94, 99.77}, // today 99.05 / 99.87
	"117": {99.90, 99.90}, // today 100.00 / 100.00
	"118": {99.90, 99.90}, // today 100.00 / 100.00
	"119": {99.90, 99.84}, // today 100.00 / 99.95
	"121": {99.84, 99.90}, // today 99.95 / 100.00
	"122": {99.90, 99.90}, // today 100.00 / 100.00
	"123": {99.70, 99.90}, // today 99.80 / 100.00
	"124": {99.46, 99.90}, // today 99.57 / 100.00
	"205": {99.71, 99.90}, // today 99.81 / 100.00
	"207": {99.79, 99.79}, // today 99.89 / 99.89
	"209": {99.90, 99.86}, // today 100.00 / 99.97
	"212": {99.90, 99.90}, // today 100.00 / 100.00
	"214": {99.72, 99.90}, // today 99.82 / 100.00
	"215": {99.87, 99.90}, // today 99.97 / 100.00
	"217": {99.62, 99.85}, // today 99.73 / 99.95
	"220": {99.80, 99.90}, // today 99.90 / 100.00
	"222": {99.57, 99.85}, // today 99.68 / 99.96
	"230": {99.90, 99.90}, // today 100.00 / 100.00
	"231": {99.83, 99.90}, // today 99.94 / 100.00
	"232": {99.90, 99.84}, // today 100.00 / 99.94
	"234": {99.79, 99.90}, // today 99.89 / 100.00
}

// TestMITDBDetection scores QRS detection with the default parameters
// EC57-style (150 ms window, beat labels only, VF episodes excluded; whole
// record, no learning period left out) on every MIT-BIH record in the shared
// data. It fails below 99.5 % gross Se or +P, below 99.5 % in any fold or
// reference group, or below a record's own floor.
func TestMITDBDetection(t *testing.T) {
	cs := loadMITDB(t)
	res := make([]scored, len(cs))
	var wg sync.WaitGroup
	for i, c := range cs {
		wg.Add(1)
		go func() { defer wg.Done(); res[i] = scoreCase(c, qrs.Default) }()
	}
	wg.Wait()
	var gross, whole qrs.Score
	byFold := map[string]qrs.Score{}
	byGroup := map[string]qrs.Score{}
	t.Logf("%-6s %-4s %-18s %6s %5s %5s %5s %8s %8s | whole record: %4s %8s", "record", "fold", "groups", "beats", "TP", "FN", "FP", "Se%", "+P%", "FP", "+P%")
	for i, c := range cs {
		s := res[i]
		gross = gross.Add(s.ec57)
		whole = whole.Add(s.whole)
		byFold[fold(i)] = byFold[fold(i)].Add(s.ec57)
		for _, g := range c.groups {
			byGroup[g] = byGroup[g].Add(s.ec57)
		}
		t.Logf("%-6s %-4s %-18s %6d %5d %5d %5d %8.2f %8.2f | %18d %8.2f", c.name, fold(i), strings.Join(c.groups, ","),
			s.ec57.TP+s.ec57.FN, s.ec57.TP, s.ec57.FN, s.ec57.FP, 100*s.ec57.Se(), 100*s.ec57.PPV(), s.whole.FP, 100*s.whole.PPV())
		if f, ok := recordFloor[c.name]; ok && (100*s.ec57.Se() < f[0] || 100*s.ec57.PPV() < f[1]) {
			t.Errorf("%s: Se %.2f%% +P %.2f%%, below its floor %.2f%% / %.2f%%", c.name, 100*s.ec57.Se(), 100*s.ec57.PPV(), f[0], f[1])
		}
	}
	check := func(what string, s qrs.Score) {
		t.Logf("%-30s %6d %5d %5d %5d %8.2f %8.2f", what, s.TP+s.FN, s.TP, s.FN, s.FP, 100*s.Se(), 100*s.PPV())
		if s.Se() < 0.995 || s.PPV() < 0.995 {
			t.Errorf("%s: Se %.2f%% +P %.2f%%: below the 99.5%% floor", what, 100*s.Se(), 100*s.PPV())
		}
	}
	check("gross (EC57, VF excluded)", gross)
	t.Logf("%-30s %6d %5d %5d %5d %8.2f %8.2f", "gross (whole record)", whole.TP+whole.FN, whole.TP, whole.FN, whole.FP, 100*whole.Se(), 100*whole.PPV())
	for _, f := range []string{"A", "B"} {
		check("fold "+f, byFold[f])
	}
	var names []string
	for g := range byGroup {
		names = append(names, g)
	}
	sort.Strings(names)
	for _, g := range names {
		check("group "+g, byGroup[g])
	}
	if len(recordFloor) != len(cs) {
		t.Errorf("%d records have a floor, %d are scored: set a floor for every record", len(recordFloor), len(cs))
	}
}
