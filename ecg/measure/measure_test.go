package measure

import (
	"math"
	"testing"
)

func TestRates(t *testing.T) {
	// 1 s, 1 s, 3.5 s pause, 1 s at 500 Hz.
	s := Rates([]int{0, 500, 1000, 2750, 3250}, 500)
	if s.Beats != 5 || math.Abs(s.MeanRR-1625) > 1e-9 || s.LongestRR != 3500 || s.LongestRRAt != 5.5 {
		t.Errorf("%+v", s)
	}
	if math.Abs(s.HRMin-60000.0/3500) > 1e-9 || s.HRMax != 60 {
		t.Errorf("%+v", s)
	}
	if r := Rates([]int{10}, 500); r.HR != 0 || r.Beats != 1 {
		t.Errorf("one beat: %+v", r)
	}
}

func TestTangentEnd(t *testing.T) {
	// A triangle T wave: peak 300 µV at 100, descending linearly to 0 at 200.
	l := make([]float64, 300)
	for i := 0; i <= 100; i++ {
		l[i] = 3 * float64(i)
	}
	for i := 100; i <= 200; i++ {
		l[i] = 300 - 3*float64(i-100)
	}
	if e := tangentEnd(l, 0, 100, 250, 500); e < 198 || e > 202 {
		t.Errorf("T end %d, want 200", e)
	}
}

func TestAssessFlatAndClipped(t *testing.T) {
	n := 5000
	flat := make([]float64, n)
	if q := AssessLead("II", flat, flat, 500, 50); q.Good || q.Problems[0] != LeadOff {
		t.Errorf("flat: %+v", q)
	}
	clip := make([]float64, n)
	for i := range clip {
		clip[i] = 800 * math.Sin(2*math.Pi*1.2*float64(i)/500)
		clip[i] = math.Max(-400, math.Min(400, clip[i]))
	}
	q := AssessLead("II", clip, clip, 500, 50)
	if q.Good || q.Problems[0] != Saturation {
		t.Errorf("clipped: %+v", q)
	}
}
