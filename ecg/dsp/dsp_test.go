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
