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
