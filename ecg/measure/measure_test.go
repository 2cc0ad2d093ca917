package measure

import (
	"math"
	"strings"
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

func TestLeadSTShape(t *testing.T) {
	fs := 500.0
	// QRS from 100 to 150 (R 1200 µV at 120), J at 150; the ST then rises
	// either concave (sagging) or straight to 300 µV at J+80 ms.
	mk := func(concave, notch bool) []float64 {
		l := make([]float64, 400)
		for i := 100; i <= 120; i++ {
			l[i] = 1200 * float64(i-100) / 20
		}
		for i := 120; i <= 150; i++ {
			l[i] = 1200 - 1100*float64(i-120)/30
		}
		if notch {
			for i := 138; i <= 150; i++ { // a J wave on the downstroke
				l[i] = l[138] + 80*math.Sin(math.Pi*float64(i-138)/12)
			}
		}
		for i := 150; i < 400; i++ {
			x := math.Min(1, float64(i-150)/40)
			if concave {
				l[i] = 100 + 200*x*x
			} else {
				l[i] = 100 + 200*x
			}
		}
		return l
	}
	f := Fiducials{QRSOn: 100, QRSOff: 150}
	st := leadST("V3", mk(true, true), 0, f, fs)
	if !st.Concave || !st.Notch || st.J != 100 || st.J80 != 300 || st.R < 1100 || st.S != 0 {
		t.Errorf("concave notched: %+v", st)
	}
	if st := leadST("V3", mk(false, false), 0, f, fs); st.Concave || st.Notch {
		t.Errorf("straight: %+v", st)
	}
}

// TestDelineateRejectsImplausibleQRS: a "QRS" running 300 ms (slopes
// that never settle) is a delineation failure, not a measurement.
func TestDelineateRejectsImplausibleQRS(t *testing.T) {
	fs := 500.0
	l := make([]float64, 600)
	for i := 150; i < 300; i++ { // 300 ms of steep oscillation around the fiducial
		l[i] = 800 * math.Sin(2*math.Pi*float64(i)/20)
	}
	tm := &Template{FS: fs, Fid: 225, Leads: [][]float64{l, l}}
	if f := Delineate(tm); f.QRSOn >= 0 || f.QRSOff >= 0 {
		t.Errorf("QRS %d..%d accepted", f.QRSOn, f.QRSOff)
	}
}

// beatLead is a synthetic median beat at 500 Hz: fiducial at 200, QRS
// 185–225, T wave a half sine of amplitude tAmp from 300 to 400 (T end at
// 400 = 400 ms after the fiducial... 200 samples).
func beatLead(tAmp float64) []float64 {
	l := make([]float64, 600)
	for i := 185; i <= 205; i++ {
		l[i] = 1200 * float64(i-185) / 20
	}
	for i := 205; i <= 225; i++ {
		l[i] = 1200 * float64(225-i) / 20
	}
	for i := 300; i <= 400; i++ {
		l[i] = tAmp * math.Sin(math.Pi*float64(i-300)/100)
	}
	return l
}

// TestQTNeedsTwoLeads: the T end is found when two leads show it, and is
// "not measurable" (with the reason) when only one lead has a T wave.
func TestQTNeedsTwoLeads(t *testing.T) {
	two := &Template{FS: 500, Fid: 200, RR: 500, Leads: [][]float64{beatLead(300), beatLead(280)}}
	f := Delineate(two)
	if f.TEnd < 385 || f.TEnd > 410 || f.TEndReason != "" {
		t.Errorf("two leads: T end %d (%q), want ≈ 400", f.TEnd, f.TEndReason)
	}
	one := &Template{FS: 500, Fid: 200, RR: 500, Leads: [][]float64{beatLead(300), beatLead(0)}}
	if f := Delineate(one); f.TEnd >= 0 || !strings.Contains(f.TEndReason, "one lead") {
		t.Errorf("one lead: T end %d (%q)", f.TEnd, f.TEndReason)
	}
	flat := &Template{FS: 500, Fid: 200, RR: 500, Leads: [][]float64{beatLead(40), beatLead(30)}}
	if f := Delineate(flat); f.TEnd >= 0 || !strings.Contains(f.TEndReason, "flat") {
		t.Errorf("flat T: T end %d (%q)", f.TEnd, f.TEndReason)
	}
}
