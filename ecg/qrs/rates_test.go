package qrs_test

import (
	"fmt"
	"math"
	"path/filepath"
	"testing"

	"github.com/huren-health/huren/ecg/dsp"
	"github.com/huren-health/huren/ecg/internal/shareddata"
	"github.com/huren-health/huren/ecg/internal/synth"
	"github.com/huren-health/huren/ecg/qrs"
	"github.com/huren-health/huren/ecg/wfdb"
)

// rates are the sampling rates Huren must handle: Holter (128, 250, 257 —
// the St Petersburg INCART database), MIT-BIH (360), resting 12-lead (500,
// 1000).
var rates = []float64{128, 250, 257, 360, 500, 1000}

// resample converts x from rate from to rate to: an anti-alias low-pass
// (zero-phase, 0.4·to) when going down, then linear interpolation.
func resample(x []float64, from, to float64) []float64 {
	if to < from {
		x = dsp.FiltFilt(x, dsp.LowPass(0.4*to, from), dsp.LowPass(0.4*to, from))
	}
	n := int(float64(len(x)) * to / from)
	out := make([]float64, n)
	for i := range out {
		t := float64(i) * from / to
		k := int(t)
		if k+1 >= len(x) {
			out[i] = x[len(x)-1]
			continue
		}
		f := t - float64(k)
		out[i] = (1-f)*x[k] + f*x[k+1]
	}
	return out
}

func rescale(beats []int, from, to float64) []int {
	out := make([]int, len(beats))
	for i, b := range beats {
		out[i] = int(math.Round(float64(b) * to / from))
	}
	return out
}

// TestSamplingRates runs the detector at every supported rate on a
// synthetic 12-lead ECG made at that rate, on the committed 10 s of MIT-BIH
// 100 resampled to it, and (shared data) on the first 5 minutes of four
// MIT-BIH records (normal, noisy, bigeminy, AF/flutter) resampled to it.
func TestSamplingRates(t *testing.T) {
	excerpt, err := wfdb.Open("../wfdb/testdata/100s")
	if err != nil {
		t.Fatal(err)
	}
	for _, fs := range rates {
		t.Run(fmt.Sprintf("%gHz", fs), func(t *testing.T) {
			rec, beats := synth.Make(synth.Spec{FS: fs, HR: 75, Seconds: 20, NoiseuV: 20, Seed: 3})
			det, _ := qrs.Consensus([][]float64{rec.Lead("II").Samples, rec.Lead("V5").Samples, rec.Lead("V1").Samples}, fs)
			if s := qrs.Compare(beats, det, int(0.15*fs)); s.FN != 0 || s.FP != 0 {
				t.Errorf("synthetic: %+v", s)
			}
			x := resample(excerpt.Leads[0].Samples, excerpt.FS, fs)
			ref := rescale(beatSamples(excerpt.Annotations), excerpt.FS, fs)
			if s := qrs.Compare(ref, qrs.Detect(x, fs), int(0.15*fs)); s.FN != 0 || s.FP != 0 {
				t.Errorf("MIT-BIH 100, 10 s: %+v", s)
			}
		})
	}
	t.Run("MIT-BIH", func(t *testing.T) {
		dir := shareddata.Dir(t, "ecg/mitdb", "*.hea")
		type leadSet struct {
			leads [][]float64
			ref   []int
		}
		var recs []leadSet
		for _, name := range []string{"100", "105", "119", "222"} {
			rec, err := wfdb.Open(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			n := int(300 * rec.FS)
			var ls leadSet
			for _, l := range rec.Leads {
				ls.leads = append(ls.leads, l.Samples[:n])
			}
			for _, b := range beatSamples(rec.Annotations) {
				if b < n {
					ls.ref = append(ls.ref, b)
				}
			}
			recs = append(recs, ls)
		}
		for _, fs := range rates {
			var gross qrs.Score
			for _, r := range recs {
				var leads [][]float64
				for _, l := range r.leads {
					leads = append(leads, resample(l, 360, fs))
				}
				det, _ := qrs.Consensus(leads, fs)
				gross = gross.Add(qrs.Compare(rescale(r.ref, 360, fs), det, int(0.15*fs)))
			}
			t.Logf("%6g Hz: %d beats, FN %d, FP %d, Se %.2f%% +P %.2f%%", fs, gross.TP+gross.FN, gross.FN, gross.FP, 100*gross.Se(), 100*gross.PPV())
			if gross.Se() < 0.995 || gross.PPV() < 0.995 {
				t.Errorf("%g Hz: Se %.2f%% +P %.2f%% below 99.5%%", fs, 100*gross.Se(), 100*gross.PPV())
			}
		}
	})
}
