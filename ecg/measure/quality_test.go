package measure

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/huren-health/huren/ecg/dsp"
	"github.com/huren-health/huren/ecg/internal/synth"
)

func TestWindows(t *testing.T) {
	tests := []struct {
		n    int
		fs   float64
		want string
	}{
		{5000, 500, "[[0 5000]]"},             // 10 s resting ECG: one window
		{7000, 500, "[[0 7000]]"},             // 14 s: the 4 s tail joins
		{8000, 500, "[[0 5000] [5000 8000]]"}, // 16 s: the 6 s tail stands
		{15000, 500, "[[0 5000] [5000 10000] [10000 15000]]"},
		{100, 500, "[[0 100]]"},
		{0, 500, "[]"},
	}
	for _, tc := range tests {
		if got := fmt.Sprint(Windows(tc.n, tc.fs)); got != tc.want && !(tc.want == "[]" && got == "[]") {
			t.Errorf("Windows(%d, %g) = %s, want %s", tc.n, tc.fs, got, tc.want)
		}
	}
}

// assess runs the lead and window verdicts the way analysis does, with the
// lead's own QRS detections (the synthetic beat positions here).
func assess(x []float64, beats []int, fs float64) LeadQuality {
	clean := dsp.Clean(x, fs, dsp.DefaultOptions())
	q := AssessLead("II", x, clean, fs, 50)
	AssessWindows(&q, clean, beats, fs)
	return q
}

// TestWindowVerdicts: a 60 s lead with a stretch of each kind of trouble is
// poor exactly in that stretch and usable as a whole; the clean windows are
// good.
func TestWindowVerdicts(t *testing.T) {
	const fs = 500
	rng := rand.New(rand.NewPCG(1, 2))
	tests := []struct {
		name    string
		mutate  func(x []float64) // applied to 20–30 s
		problem string
	}{
		{"muscle noise", func(x []float64) {
			for i := range x {
				x[i] += 150 * rng.NormFloat64()
			}
		}, EMG},
		{"electrode off", func(x []float64) { clear(x) }, LeadOff},
		{"motion artefact", func(x []float64) {
			// 1–8 Hz bursts as large as the QRS: in band, between beats.
			for i := range x {
				tt := float64(i) / fs
				x[i] += 700*math.Sin(2*math.Pi*3.1*tt) + 500*math.Sin(2*math.Pi*7.3*tt+1)
			}
		}, MotionNoise},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec, beats := synth.Make(synth.Spec{FS: fs, Seconds: 60, HR: 70, NoiseuV: 10, Seed: 9})
			x := slices.Clone(rec.Lead("II").Samples)
			tc.mutate(x[20*fs : 30*fs])
			q := assess(x, beats, fs)
			if !q.Good || q.Verdict != VerdictUsable || !slices.Contains(q.Problems, NoisyStretch) {
				t.Fatalf("lead verdict %s good %v problems %v %v", q.Verdict, q.Good, q.Problems, q.Detail)
			}
			for k, w := range q.Windows {
				if k == 2 {
					if w.Verdict != VerdictPoor || !slices.Contains(w.Problems, tc.problem) {
						t.Errorf("20–30 s: %s %v, want poor with %s (%+v)", w.Verdict, w.Problems, tc.problem, w)
					}
					continue
				}
				if w.Verdict == VerdictPoor {
					t.Errorf("%g–%g s: poor %v (%+v)", w.StartS, w.EndS, w.Problems, w)
				}
			}
		})
	}
}

// TestDriftNeverPoor: slow baseline drift (3 mV at 0.1 Hz) and a fast
// regular rhythm are not noise.
func TestDriftNeverPoor(t *testing.T) {
	const fs = 500
	for _, sp := range []synth.Spec{
		{FS: fs, Seconds: 60, HR: 70},
		{FS: fs, Seconds: 10, HR: 190, QTScale: 0.6},
		{FS: fs, Seconds: 10, HR: 230, QRSWidth: 2.5, NoP: true, QTScale: 0.5},
	} {
		rec, beats := synth.Make(sp)
		x := slices.Clone(rec.Lead("II").Samples)
		for i := range x {
			x[i] += 3000 * math.Sin(2*math.Pi*0.1*float64(i)/fs)
		}
		q := assess(x, beats, fs)
		if !q.Good || !slices.Contains(q.Problems, BaselineDrift) {
			t.Errorf("HR %g: verdict %s problems %v: drift must be reported, not fatal", sp.HR, q.Verdict, q.Problems)
		}
		for _, w := range q.Windows {
			if w.Verdict == VerdictPoor {
				t.Errorf("HR %g: window %g–%g s poor %v (%+v)", sp.HR, w.StartS, w.EndS, w.Problems, w)
			}
		}
	}
}

// TestPoorThroughout: a lead noisy in every window is poor as a whole.
func TestPoorThroughout(t *testing.T) {
	const fs = 500
	rec, beats := synth.Make(synth.Spec{FS: fs, Seconds: 40, HR: 70, NoiseuV: 200, Seed: 4})
	q := assess(rec.Lead("II").Samples, beats, fs)
	if q.Good || q.Verdict != VerdictPoor || !slices.Contains(q.Problems, EMG) {
		t.Errorf("verdict %s good %v problems %v", q.Verdict, q.Good, q.Problems)
	}
}
