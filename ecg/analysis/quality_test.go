package analysis_test

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/huren-health/huren/ecg"
	"github.com/huren-health/huren/ecg/analysis"
	"github.com/huren-health/huren/ecg/internal/synth"
	"github.com/huren-health/huren/ecg/measure"
	"github.com/huren-health/huren/ecg/qrs"
)

// holter is a 2-lead, 120 s recording (II, V5) at 360 Hz with slow drift on
// both leads and the given damage applied.
func holter(t *testing.T, damage func(r *ecg.Record)) (*analysis.Analysis, []int) {
	t.Helper()
	rec, beats := synth.Make(synth.Spec{FS: 360, Seconds: 120, HR: 72, NoiseuV: 10, Seed: 5})
	rec.Leads = []ecg.Lead{*rec.Lead("II"), *rec.Lead("V5")}
	for i := range rec.Leads {
		for j := range rec.Leads[i].Samples {
			rec.Leads[i].Samples[j] += 2500 * math.Sin(2*math.Pi*0.08*float64(j)/rec.FS+float64(i))
		}
	}
	if damage != nil {
		damage(rec)
	}
	a, err := analysis.Analyze(rec, analysis.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return a, beats
}

// TestLongRecordNotRefused: drift is reported, not refused, and every beat
// is reported.
func TestLongRecordNotRefused(t *testing.T) {
	a, beats := holter(t, nil)
	if !a.Interpretable || a.RepeatECG || len(a.Flags) != 0 {
		t.Fatalf("interpretable %v repeat %v reasons %v flags %v", a.Interpretable, a.RepeatECG, a.Reasons, a.Flags)
	}
	if s := qrs.Compare(beats, a.Beats, 54); s.FN != 0 || s.FP != 0 {
		t.Errorf("beats: %+v", s)
	}
	if a.Quality.AnalysedS != a.DurationS || len(a.Quality.Windows) != 12 {
		t.Errorf("analysed %.0f of %.0f s, %d windows", a.Quality.AnalysedS, a.DurationS, len(a.Quality.Windows))
	}
	for _, l := range a.Quality.Leads {
		if !slices.Contains(l.Problems, measure.BaselineDrift) {
			t.Errorf("%s: drift not reported: %v", l.Lead, l.Problems)
		}
	}
}

// TestNoisyStretchLeftOut: 30 s of heavy noise on both leads of a Holter
// strip is marked poor and left out; the rest is analysed, no beat is
// reported inside it, and the gap is not taken for a pause.
func TestNoisyStretchLeftOut(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	a, beats := holter(t, func(r *ecg.Record) {
		for i := range r.Leads {
			x := r.Leads[i].Samples[int(40*r.FS):int(70*r.FS)]
			for j := range x {
				x[j] += 300*rng.NormFloat64() + 1500*math.Sin(2*math.Pi*4*float64(j)/r.FS)
			}
		}
	})
	if !a.Interpretable || len(a.Flags) != 0 {
		t.Fatalf("interpretable %v reasons %v flags %v", a.Interpretable, a.Reasons, a.Flags)
	}
	for _, w := range a.Quality.Windows {
		inNoise := w.StartS >= 40 && w.EndS <= 70
		if inNoise != (w.Verdict == measure.VerdictPoor) {
			t.Errorf("window %g–%g s: %s", w.StartS, w.EndS, w.Verdict)
		}
	}
	if a.Quality.AnalysedS != 90 {
		t.Errorf("analysed %.0f s, want 90", a.Quality.AnalysedS)
	}
	var want []int
	for _, b := range beats {
		if tt := float64(b) / a.FS; tt < 40 || tt >= 70 {
			want = append(want, b)
		}
	}
	if s := qrs.Compare(want, a.Beats, 54); s.FN != 0 || s.FP != 0 {
		t.Errorf("beats outside the noise: %+v", s)
	}
	if rr := a.Measurements.RR; rr.LongestRR > 1000 || math.Abs(rr.HR-72) > 2 {
		t.Errorf("RR across the left-out stretch: %+v", rr)
	}
}

// TestOneLeadOffHolter: a 2-lead strip with one lead off is analysed on the
// other and says which lead was left out.
func TestOneLeadOffHolter(t *testing.T) {
	a, beats := holter(t, func(r *ecg.Record) { clear(r.Leads[1].Samples) })
	if !a.Interpretable || a.RepeatECG {
		t.Fatalf("refused: %v", a.Reasons)
	}
	if s := qrs.Compare(beats, a.Beats, 54); s.FN != 0 || s.FP != 0 {
		t.Errorf("beats: %+v", s)
	}
	if sm := a.Quality.Summary; !strings.Contains(sm, "excluded") || !strings.Contains(sm, "V5") || !strings.Contains(sm, measure.LeadOff) {
		t.Errorf("summary %q does not name the excluded lead", a.Quality.Summary)
	}
}

// TestLeadLosesBeats: when lead II's QRS shrinks for 15 s (electrode
// half off), its detector misses that run of beats while V5 sees them;
// the beat list must come from V5 there, and no pause is reported.
func TestLeadLosesBeats(t *testing.T) {
	a, beats := holter(t, func(r *ecg.Record) {
		x := r.Leads[0].Samples[int(50*r.FS):int(65*r.FS)]
		for j := range x {
			x[j] *= 0.08
		}
	})
	if !a.Interpretable || len(a.Flags) != 0 {
		t.Fatalf("interpretable %v reasons %v flags %v (longest RR %.0f ms)", a.Interpretable, a.Reasons, ruleIDs(a), a.Measurements.RR.LongestRR)
	}
	if s := qrs.Compare(beats, a.Beats, 54); s.FN != 0 || s.FP != 0 {
		t.Errorf("beats: %+v", s)
	}
}

// TestGapFilledFromNoisyLead: lead II loses its QRS for 15 s while V5 has
// muscle noise there (rated poor in those windows, beats still detected):
// the gap is filled from V5 and no pause is reported (MIT-BIH 212).
func TestGapFilledFromNoisyLead(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	a, beats := holter(t, func(r *ecg.Record) {
		lo, hi := int(50*r.FS), int(70*r.FS)
		ramp := int(0.3 * r.FS) // the electrode fades, no step edge
		for j := lo - ramp; j < hi+ramp; j++ {
			g := 0.05
			if j < lo {
				g = 1 - 0.95*float64(j-lo+ramp)/float64(ramp)
			} else if j >= hi {
				g = 0.05 + 0.95*float64(j-hi)/float64(ramp)
			}
			r.Leads[0].Samples[j] *= g
			if j >= lo && j < hi {
				r.Leads[1].Samples[j] += 80 * rng.NormFloat64()
			}
		}
	})
	if len(a.Flags) != 0 {
		t.Errorf("flags %v (longest RR %.0f ms at %.1f s)", ruleIDs(a), a.Measurements.RR.LongestRR, a.Measurements.RR.LongestRRAt)
	}
	var want []int
	for _, b := range beats {
		for _, w := range a.Quality.Windows {
			if tt := float64(b) / a.FS; w.Verdict != measure.VerdictPoor && tt >= w.StartS && tt < w.EndS {
				want = append(want, b)
			}
		}
	}
	if s := qrs.Compare(want, a.Beats, 54); s.FN != 0 || s.FP != 0 {
		t.Errorf("beats in the analysed stretches: %+v", s)
	}
}

// TestRealPauseKept: a real 3.5 s pause stays a pause, also with noise in
// one lead.
func TestRealPauseKept(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	rec, _ := synth.Make(synth.Spec{FS: 360, Seconds: 60, HR: 72, NoiseuV: 10, PauseAt: 30, PauseS: 3, Seed: 6})
	rec.Leads = []ecg.Lead{*rec.Lead("II"), *rec.Lead("V5")}
	x := rec.Leads[1].Samples[int(25*rec.FS):int(40*rec.FS)]
	for j := range x {
		x[j] += 80 * rng.NormFloat64()
	}
	a, err := analysis.Analyze(rec, analysis.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(ruleIDs(a), "pause-3s") {
		t.Errorf("flags %v, longest RR %.0f ms: the pause was lost", ruleIDs(a), a.Measurements.RR.LongestRR)
	}
}
