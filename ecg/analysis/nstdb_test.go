package analysis_test

import (
	"path/filepath"
	"sync"
	"testing"

	"github.com/huren-health/huren/ecg/analysis"
	"github.com/huren-health/huren/ecg/internal/shareddata"
	"github.com/huren-health/huren/ecg/measure"
	"github.com/huren-health/huren/ecg/qrs"
	"github.com/huren-health/huren/ecg/wfdb"
)

// nstdbNoisy reports whether [s, e) seconds lies inside a noise segment of
// the MIT-BIH Noise Stress Test records: noise from minute 5 on, in
// alternating 2-minute segments (noisy 5–7, 9–11, … min), per the
// database's description; the table does not come from the analysis.
func nstdbNoisy(s, e float64) (noisy, clean bool) {
	seg := func(t float64) bool { return t >= 300 && int((t-300)/120)%2 == 0 }
	in := true
	out := true
	for t := s; t < e; t += 1 {
		if seg(t) {
			out = false
		} else {
			in = false
		}
	}
	return in, out
}

type nstdbResult struct {
	name                 string
	snr                  string
	detector, analysed   qrs.Score
	noisy, clean         [3]int // windows judged good, usable, poor
	critical             []string
	interpretable        bool
	analysedS, durationS float64
}

func verdictIndex(v string) int {
	switch v {
	case measure.VerdictGood:
		return 0
	case measure.VerdictUsable:
		return 1
	}
	return 2
}

func runNSTDB(t *testing.T, path, snr string) nstdbResult {
	rec, err := wfdb.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	a, err := analysis.Analyze(rec, analysis.Options{})
	if err != nil {
		t.Fatal(err)
	}
	r := nstdbResult{name: filepath.Base(path), snr: snr, interpretable: a.Interpretable, analysedS: a.Quality.AnalysedS, durationS: a.DurationS}
	var ref []int
	for _, an := range rec.Annotations {
		if wfdb.IsBeat(an.Code) {
			ref = append(ref, an.Sample)
		}
	}
	win := int(0.15 * rec.FS)
	// The detector alone on the whole record (the same consensus the
	// analysis runs, before quality gating).
	det, _ := qrs.Consensus(a.Clean, rec.FS)
	r.detector = qrs.Compare(ref, det, win)
	// The analysis: its reported beats against the reference beats inside
	// the stretches it analysed.
	var refIn []int
	for _, b := range ref {
		t := float64(b) / rec.FS
		for _, w := range a.Quality.Windows {
			if w.Verdict != measure.VerdictPoor && t >= w.StartS && t < w.EndS {
				refIn = append(refIn, b)
				break
			}
		}
	}
	r.analysed = qrs.Compare(refIn, a.Beats, win)
	for _, w := range a.Quality.Windows {
		noisy, clean := nstdbNoisy(w.StartS, w.EndS)
		switch {
		case noisy:
			r.noisy[verdictIndex(w.Verdict)]++
		case clean:
			r.clean[verdictIndex(w.Verdict)]++
		}
	}
	for _, f := range a.Flags {
		r.critical = append(r.critical, f.RuleID+" ("+f.Evidence+")")
	}
	return r
}

// TestNSTDBQuality runs the whole analysis on the six Noise Stress Test
// records (MIT-BIH 118 with electrode-motion noise at 24 … −6 dB from
// minute 5, alternating 2-minute segments) and checks that the clean
// stretches are analysed, the 0 and −6 dB noise stretches are marked poor,
// the beats reported in the analysed stretches match the reference, and
// noise never raises a flag.
func TestNSTDBQuality(t *testing.T) {
	dir := shareddata.Dir(t, "ecg/nstdb", "*.hea")
	recs := []struct{ name, snr string }{{"118e24", "24"}, {"118e18", "18"}, {"118e12", "12"}, {"118e06", "6"}, {"118e00", "0"}, {"118e_6", "-6"}}
	res := make([]nstdbResult, len(recs))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 2)
	for i, r := range recs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			res[i] = runNSTDB(t, filepath.Join(dir, r.name), r.snr)
		}()
	}
	wg.Wait()
	t.Log("| record | SNR dB | detector Se % | detector +P % | analysed s | analysed Se % | analysed +P % | noisy windows good/usable/poor | clean windows good/usable/poor | flags |")
	for _, r := range res {
		t.Logf("| %s | %s | %.2f | %.2f | %.0f of %.0f | %.2f | %.2f | %d / %d / %d | %d / %d / %d | %d |", r.name, r.snr,
			100*r.detector.Se(), 100*r.detector.PPV(), r.analysedS, r.durationS, 100*r.analysed.Se(), 100*r.analysed.PPV(),
			r.noisy[0], r.noisy[1], r.noisy[2], r.clean[0], r.clean[1], r.clean[2], len(r.critical))
		if len(r.critical) > 0 {
			t.Errorf("%s: flags raised on noise: %v", r.name, r.critical)
		}
		if !r.interpretable {
			t.Errorf("%s: refused", r.name)
		}
		cleanN := r.clean[0] + r.clean[1] + r.clean[2]
		if cleanN == 0 || r.clean[2]*50 > cleanN {
			t.Errorf("%s: %d of %d clean windows marked poor (limit 2 %%)", r.name, r.clean[2], cleanN)
		}
		noisyN := r.noisy[0] + r.noisy[1] + r.noisy[2]
		if (r.snr == "0" || r.snr == "-6") && (noisyN == 0 || r.noisy[2]*10 < noisyN*9) {
			t.Errorf("%s: only %d of %d noise windows marked poor (want ≥ 90 %%)", r.name, r.noisy[2], noisyN)
		}
		// At 6 dB the noise stretches are mostly rated usable, and T waves
		// taken for beats in the lead used there cost +P (97.85 % when this
		// floor was set; the weak point of the window lead choice).
		floor := 0.99
		if r.snr == "6" {
			floor = 0.975
		}
		if r.analysed.Se() < floor || r.analysed.PPV() < floor {
			t.Errorf("%s: analysed stretches Se %.2f%% +P %.2f%% (want ≥ %.0f %%)", r.name, 100*r.analysed.Se(), 100*r.analysed.PPV(), 100*floor)
		}
	}
}
