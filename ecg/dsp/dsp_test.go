package dsp

import (
	"math"
	"testing"
)

func tone(f, fs float64, n int) []float64 {
	x := make([]float64, n)
	for i := range x {
		x[i] = 1000 * math.Sin(2*math.Pi*f*float64(i)/fs)
	}
	return x
}

func rms(x []float64) float64 {
	s := 0.0
	for _, v := range x[len(x)/4 : 3*len(x)/4] { // skip edges
		s += v * v
	}
	return math.Sqrt(s / float64(len(x)/2))
}

func TestCleanResponse(t *testing.T) {
	fs := 500.0
	tests := []struct {
		name     string
		f        float64
		opts     Options
		min, max float64 // gain bounds
	}{
		{"50 Hz removed", 50, DefaultOptions(), 0, 0.02},
		{"100 Hz harmonic removed", 100, DefaultOptions(), 0, 0.02},
		{"60 Hz option", 60, Options{MainsHz: 60}, 0, 0.02},
		{"10 Hz kept", 10, DefaultOptions(), 0.97, 1.01},
		{"0.1 Hz wander removed", 0.1, DefaultOptions(), 0, 0.1},
		{"2 Hz kept", 2, DefaultOptions(), 0.95, 1.01},
		{"40 Hz low-pass", 80, Options{LowPassHz: 40}, 0, 0.3},
	}
	for _, tc := range tests {
		x := tone(tc.f, fs, 20000)
		g := rms(Clean(x, fs, tc.opts)) / rms(x)
		if g < tc.min || g > tc.max {
			t.Errorf("%s: gain %.3f not in [%g, %g]", tc.name, g, tc.min, tc.max)
		}
	}
}

func TestDCStartsSteady(t *testing.T) {
	x := make([]float64, 1000)
	for i := range x {
		x[i] = 500
	}
	LowPass(40, 500).Apply(x)
	if math.Abs(x[0]-500) > 1e-6 || math.Abs(x[999]-500) > 1e-6 {
		t.Errorf("DC transient: %v %v", x[0], x[999])
	}
}

func TestDeriveLimbLeads(t *testing.T) {
	i, ii := []float64{100, -50}, []float64{300, 20}
	d := DeriveLimbLeads(i, ii, map[string]bool{"aVR": true})
	if _, ok := d["aVR"]; ok {
		t.Error("aVR derived although present")
	}
	want := map[string][]float64{"III": {200, 70}, "aVL": {-50, -60}, "aVF": {250, 45}}
	for k, w := range want {
		for j := range w {
			if math.Abs(d[k][j]-w[j]) > 1e-9 {
				t.Errorf("%s = %v, want %v", k, d[k], w)
			}
		}
	}
}

// impulseResponse runs the IEC 60601-2-25 low-frequency test: a 3 mV,
// 100 ms rectangular impulse (0.3 mV·s); it returns the largest
// displacement (µV) and slope (µV/s) after the impulse.
func impulseResponse(opts Options, fs float64) (disp, slope float64) {
	n := int(20 * fs)
	x := make([]float64, n)
	s, e := n/2, n/2+int(0.1*fs)
	for i := s; i < e; i++ {
		x[i] = 3000
	}
	y := Clean(x, fs, opts)
	for i := e + 1; i < n-1; i++ {
		disp = math.Max(disp, math.Abs(y[i]))
		slope = math.Max(slope, math.Abs(y[i+1]-y[i])*fs)
	}
	return disp, slope
}

// TestDiagnosticChainPassesImpulseTest: the measurement chain must meet
// the IEC 60601-2-25 limits (≤ 100 µV displacement, ≤ 300 µV/s slope after
// the impulse); the detection chain's 0.5 Hz high-pass does not, which is
// why ST is never measured on it.
func TestDiagnosticChainPassesImpulseTest(t *testing.T) {
	for _, fs := range []float64{250, 500, 1000} {
		// The impulse test is about the low-frequency response: high-pass
		// only (a rectangular edge would just ring the mains notch).
		d, s := impulseResponse(Options{HighPassHz: DiagnosticOptions(DefaultOptions()).HighPassHz}, fs)
		if d > 100 || s > 300 {
			t.Errorf("%g Hz: diagnostic chain displacement %.0f µV, slope %.0f µV/s (limits 100, 300)", fs, d, s)
		}
		if d, _ := impulseResponse(Options{HighPassHz: DefaultOptions().HighPassHz}, fs); d <= 100 {
			t.Errorf("%g Hz: the 0.5 Hz chain now passes (%.0f µV): update DiagnosticHighPassHz's comment", fs, d)
		}
	}
}

// TestSplineBaseline: 1 mV of 0.3 Hz wander under beats with a 150 µV ST
// elevation; knots in the PR segment. The spline removes the wander and
// keeps the ST elevation relative to the PR level.
func TestSplineBaseline(t *testing.T) {
	fs := 500.0
	n := int(10 * fs)
	x := make([]float64, n)
	var knots []int
	for b := 250; b+300 < n; b += 400 { // 75 bpm; QRS onset at b
		knots = append(knots, b)
		for i := b; i < b+40; i++ { // QRS
			x[i] = 1000
		}
		for i := b + 40; i < b+140; i++ { // ST segment, 150 µV up
			x[i] = 150
		}
	}
	wander := make([]float64, n)
	for i := range x {
		wander[i] = 1000 * math.Sin(2*math.Pi*0.3*float64(i)/fs)
		wander[i] += x[i]
	}
	y := SplineBaseline(wander, knots, 10, 3)
	// The natural spline's free ends follow the wander less closely over
	// the first and last two beats.
	for _, k := range knots[2 : len(knots)-2] {
		pr := y[k-5]
		st := y[k+60] - pr
		if math.Abs(st-150) > 20 || math.Abs(pr) > 20 {
			t.Errorf("beat at %d: PR level %.0f µV, ST %.0f µV (want 0, 150)", k, pr, st)
		}
	}
	// Fewer than two knots: a single level or nothing; never a panic.
	if y := SplineBaseline([]float64{5, 5, 5}, []int{1}, 1, 0); y[2] != 0 {
		t.Errorf("one knot: %v", y)
	}
	if y := SplineBaseline([]float64{5, 5}, nil, 1, 0); y[0] != 5 {
		t.Errorf("no knot: %v", y)
	}
}
