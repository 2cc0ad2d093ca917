package qrs_test

import (
	"math"
	"testing"

	"github.com/huren-health/huren/ecg/internal/synth"
	"github.com/huren-health/huren/ecg/qrs"
	"github.com/huren-health/huren/ecg/wfdb"
)

func TestCompare(t *testing.T) {
	tests := []struct {
		ref, det   []int
		tp, fn, fp int
	}{
		{[]int{100, 200, 300}, []int{101, 199, 330}, 2, 1, 1},
		{[]int{100, 200}, nil, 0, 2, 0},
		{nil, []int{5}, 0, 0, 1},
		{[]int{100}, []int{90, 95, 110}, 1, 0, 2},
	}
	for _, tc := range tests {
		s := qrs.Compare(tc.ref, tc.det, 20)
		if s.TP != tc.tp || s.FN != tc.fn || s.FP != tc.fp {
			t.Errorf("Compare(%v, %v) = %+v", tc.ref, tc.det, s)
		}
	}
}

// TestExcerpt runs on the committed 10 s of MIT-BIH 100 (always available).
func TestExcerpt(t *testing.T) {
	rec, err := wfdb.Open("../wfdb/testdata/100s")
	if err != nil {
		t.Fatal(err)
	}
	det := qrs.Detect(rec.Leads[0].Samples, rec.FS)
	s := qrs.Compare(beatSamples(rec.Annotations), det, 54)
	if s.FN != 0 || s.FP != 0 {
		t.Errorf("100s: %+v (det %v)", s, det)
	}
}

func TestSyntheticRates(t *testing.T) {
	for _, hr := range []float64{30, 45, 60, 90, 120, 180, 220} {
		rec, beats := synth.Make(synth.Spec{HR: hr, Seconds: 20, QTScale: math.Min(1, 60/hr+0.2), NoiseuV: 20, Seed: 7})
		det, _ := qrs.Consensus([][]float64{rec.Lead("II").Samples, rec.Lead("V5").Samples, rec.Lead("V2").Samples}, rec.FS)
		s := qrs.Compare(beats, det, int(0.15*rec.FS))
		if s.FN != 0 || s.FP != 0 {
			t.Errorf("HR %g: %+v", hr, s)
		}
	}
}

func TestFlatAndShort(t *testing.T) {
	if d := qrs.Detect(make([]float64, 5000), 500); len(d) != 0 {
		t.Errorf("flat: %v", d)
	}
	if d := qrs.Detect(make([]float64, 100), 500); d != nil {
		t.Errorf("short: %v", d)
	}
	if d := qrs.Detect(make([]float64, 5000), 10); d != nil {
		t.Errorf("10 Hz: %v", d)
	}
}

// tallT builds 30 s of a narrow QRS (R 1 mV, σ 10 ms) with a T wave as tall
// (σ 30 ms, peak 280 ms after R) whose steepest slope after the detector's
// filters is 0.4–0.5× the R wave's (measured: 800 µV stays under the energy
// threshold, 1350 µV is over 0.5×): after integration over 150 ms its energy
// passes the detection threshold, so only the slope test tells it from a
// beat (peaked T of hyperkalaemia, tall T in V2–V3).
func tallT(fs, tuV float64) ([]float64, []int) {
	n := int(30 * fs)
	x := make([]float64, n)
	var beats []int
	for t := 0.5; t < 29.5; t += 0.9 {
		b := int(t * fs)
		beats = append(beats, b)
		for i := max(0, b-int(0.3*fs)); i < min(n, b+int(0.6*fs)); i++ {
			dt := float64(i-b) / fs
			x[i] += 1000*math.Exp(-dt*dt/(2*0.01*0.01)) + tuV*math.Exp(-(dt-0.28)*(dt-0.28)/(2*0.03*0.03))
		}
	}
	return x, beats
}

func TestTallTWavesRejected(t *testing.T) {
	for _, fs := range []float64{250, 360, 500, 1000} {
		x, beats := tallT(fs, 1000)
		s := qrs.Compare(beats, qrs.Detect(x, fs), int(0.15*fs))
		if s.FN != 0 || s.FP != 0 {
			t.Errorf("%g Hz: %+v: T waves taken for beats or beats missed", fs, s)
		}
	}
}
