// Package dsp holds the ECG filters Huren applies before measuring:
// baseline-wander removal, a mains notch (50 Hz in China, 60 Hz optional),
// a low-pass, and derivation of the limb leads from I and II.
//
// Filters are second-order sections (RBJ audio-EQ cookbook designs) run
// forward and backward (zero phase) so that interval onsets are not
// shifted. Zero phase is not enough for the ST segment: the high-pass
// corner must also be low (DiagnosticHighPassHz), and the remaining wander
// is removed beat-synchronously (SplineBaseline). Functions allocate their output and never modify input;
// they keep no state and are safe for concurrent use.
package dsp

import (
	"math"
)

// Biquad is one second-order IIR section, normalised so a0 == 1.
type Biquad struct{ B0, B1, B2, A1, A2 float64 }

// LowPass returns a Butterworth-Q low-pass section with corner fc (Hz) at fs.
func LowPass(fc, fs float64) Biquad { return rbj(fc, fs, math.Sqrt2/2, 0) }

// HighPass returns a Butterworth-Q high-pass section.
func HighPass(fc, fs float64) Biquad { return rbj(fc, fs, math.Sqrt2/2, 1) }

// Notch returns a notch at f0 with quality q (bandwidth f0/q).
func Notch(f0, fs, q float64) Biquad { return rbj(f0, fs, q, 2) }

func rbj(f, fs, q float64, kind int) Biquad {
	w := 2 * math.Pi * f / fs
	cw, sw := math.Cos(w), math.Sin(w)
	alpha := sw / (2 * q)
	var b0, b1, b2 float64
	switch kind {
	case 0:
		b0, b1, b2 = (1-cw)/2, 1-cw, (1-cw)/2
	case 1:
		b0, b1, b2 = (1+cw)/2, -(1 + cw), (1+cw)/2
	default:
		b0, b1, b2 = 1, -2*cw, 1
	}
	a0, a1, a2 := 1+alpha, -2*cw, 1-alpha
	return Biquad{b0 / a0, b1 / a0, b2 / a0, a1 / a0, a2 / a0}
}

// Apply filters x in place, causally, starting from the steady state for a
// constant input equal to x[0] (so a DC offset causes no start-up transient).
func (q Biquad) Apply(x []float64) {
	if len(x) == 0 {
		return
	}
	// Direct form II transposed; initial state for constant input x0.
	dc := (q.B0 + q.B1 + q.B2) / (1 + q.A1 + q.A2)
	x0 := x[0]
	y0 := dc * x0
	z1 := y0 - q.B0*x0
	z2 := q.B2*x0 - q.A2*y0
	for i, v := range x {
		y := q.B0*v + z1
		z1 = q.B1*v - q.A1*y + z2
		z2 = q.B2*v - q.A2*y
		x[i] = y
	}
}

// FiltFilt runs the sections forward then backward over a copy of x: zero
// phase, squared magnitude response.
func FiltFilt(x []float64, sections ...Biquad) []float64 {
	y := make([]float64, len(x))
	copy(y, x)
	for _, s := range sections {
		s.Apply(y)
	}
	reverse(y)
	for _, s := range sections {
		s.Apply(y)
	}
	reverse(y)
	return y
}

func reverse(x []float64) {
	for i, j := 0, len(x)-1; i < j; i, j = i+1, j-1 {
		x[i], x[j] = x[j], x[i]
	}
}

// Options selects the diagnostic filter chain.
type Options struct {
	// HighPassHz removes baseline wander; 0 disables. The default 0.5 Hz
	// suits QRS detection and quality assessment only: it fails the IEC
	// impulse test even forward-backward (see DiagnosticHighPassHz), so
	// measurement uses DiagnosticOptions.
	HighPassHz float64 `json:"highpass_hz"`
	// MainsHz is the notch frequency: 50 (China, default) or 60; 0 disables.
	MainsHz float64 `json:"notch_hz"`
	// LowPassHz is the upper corner; 0 disables. 150 Hz keeps diagnostic
	// bandwidth; 40 Hz is the "monitor" setting.
	LowPassHz float64 `json:"lowpass_hz"`
}

// DefaultOptions is the detection chain: 0.5 Hz high-pass, 50 Hz notch,
// 150 Hz low-pass (capped below Nyquist). Huren measures on
// DiagnosticOptions(DefaultOptions()) plus SplineBaseline.
func DefaultOptions() Options { return Options{HighPassHz: 0.5, MainsHz: 50, LowPassHz: 150} }

// Clean applies the chain of opts to x sampled at fs and returns a new slice.
// Corners at or above Nyquist are skipped.
func Clean(x []float64, fs float64, opts Options) []float64 {
	var secs []Biquad
	nyq := fs / 2
	if opts.HighPassHz > 0 && opts.HighPassHz < nyq {
		secs = append(secs, HighPass(opts.HighPassHz, fs))
	}
	if opts.MainsHz > 0 && opts.MainsHz < nyq*0.95 {
		secs = append(secs, Notch(opts.MainsHz, fs, 30))
		// The second harmonic is strong on unshielded township carts.
		if 2*opts.MainsHz < nyq*0.95 {
			secs = append(secs, Notch(2*opts.MainsHz, fs, 30))
		}
	}
	if opts.LowPassHz > 0 && opts.LowPassHz < nyq*0.9 {
		secs = append(secs, LowPass(opts.LowPassHz, fs))
	}
	return FiltFilt(x, secs...)
}

// DeriveLimbLeads computes III, aVR, aVL and aVF from I and II (Einthoven's
// and Goldberger's relations). Any of the four already present in have is
// not returned.
func DeriveLimbLeads(i, ii []float64, have map[string]bool) map[string][]float64 {
	out := map[string][]float64{}
	n := len(i)
	if len(ii) < n {
		n = len(ii)
	}
	mk := func(name string, f func(a, b float64) float64) {
		if have[name] {
			return
		}
		y := make([]float64, n)
		for k := 0; k < n; k++ {
			y[k] = f(i[k], ii[k])
		}
		out[name] = y
	}
	mk("III", func(a, b float64) float64 { return b - a })
	mk("aVR", func(a, b float64) float64 { return -(a + b) / 2 })
	mk("aVL", func(a, b float64) float64 { return a - b/2 })
	mk("aVF", func(a, b float64) float64 { return b - a/2 })
	return out
}

// DiagnosticHighPassHz is the high-pass corner of the measurement chain.
// A 0.5 Hz high-pass distorts the ST segment even run forward-backward
// (the forward-backward Butterworth section is a 4th-order response): on
// the IEC 60601-2-25 impulse test (3 mV for 100 ms) it leaves a 330 µV
// displacement and a 475 µV/s slope after the impulse, where the standard
// allows 100 µV and 300 µV/s. At 0.05 Hz the displacement is 33 µV.
const DiagnosticHighPassHz = 0.05

// DiagnosticOptions is opts with the high-pass lowered to
// DiagnosticHighPassHz (when opts has one): the chain for the median beat,
// the ST measurement and the displayed traces. Baseline wander that this
// corner leaves is removed by SplineBaseline.
func DiagnosticOptions(opts Options) Options {
	if opts.HighPassHz > DiagnosticHighPassHz {
		opts.HighPassHz = DiagnosticHighPassHz
	}
	return opts
}

// SplineBaseline subtracts from x a baseline drawn through the isoelectric
// level of every beat: the median of x over [k-before, k-after] for each
// knot k (a sample index in the PR segment), joined by a natural cubic
// spline and held flat before the first and after the last knot. The
// waveform between the knots keeps its shape exactly — no filter response
// spills from the QRS into the ST segment — while wander slower than the
// heart rate goes. Knots must be increasing; fewer than two return a copy
// of x minus the single level (or x itself).
func SplineBaseline(x []float64, knots []int, before, after int) []float64 {
	out := make([]float64, len(x))
	copy(out, x)
	type pt struct {
		t int
		v float64
	}
	var ps []pt
	buf := make([]float64, 0, before-after+1)
	for _, k := range knots {
		a, b := k-before, k-after
		if a < 0 || b >= len(x) || b < a {
			continue
		}
		c := (a + b) / 2 // the level belongs to the window's centre
		if len(ps) > 0 && c <= ps[len(ps)-1].t {
			continue
		}
		buf = append(buf[:0], x[a:b+1]...)
		ps = append(ps, pt{c, medianOf(buf)})
	}
	switch len(ps) {
	case 0:
		return out
	case 1:
		for i := range out {
			out[i] -= ps[0].v
		}
		return out
	}
	// Natural cubic spline through the knots (C2; 4th-order accurate, so
	// respiration-speed wander sampled once a beat is followed closely).
	m := len(ps)
	h := make([]float64, m-1)
	for j := range h {
		h[j] = float64(ps[j+1].t - ps[j].t)
	}
	// Second derivatives M (M[0] = M[m-1] = 0): tridiagonal system.
	M := make([]float64, m)
	if m > 2 {
		diag := make([]float64, m-2)
		rhs := make([]float64, m-2)
		for j := 1; j < m-1; j++ {
			diag[j-1] = 2 * (h[j-1] + h[j])
			rhs[j-1] = 6 * ((ps[j+1].v-ps[j].v)/h[j] - (ps[j].v-ps[j-1].v)/h[j-1])
		}
		// Thomas algorithm; the sub- and super-diagonal of row j are h[j]
		// and h[j+1].
		for j := 1; j < m-2; j++ {
			w := h[j] / diag[j-1]
			diag[j] -= w * h[j]
			rhs[j] -= w * rhs[j-1]
		}
		M[m-2] = rhs[m-3] / diag[m-3]
		for j := m - 4; j >= 0; j-- {
			M[j+1] = (rhs[j] - h[j+1]*M[j+2]) / diag[j]
		}
	}
	j := 0
	for i := range out {
		var base float64
		switch {
		case i <= ps[0].t:
			base = ps[0].v
		case i >= ps[m-1].t:
			base = ps[m-1].v
		default:
			for ps[j+1].t <= i {
				j++
			}
			a, b := float64(ps[j+1].t-i), float64(i-ps[j].t)
			hj := h[j]
			base = (M[j]*a*a*a+M[j+1]*b*b*b)/(6*hj) +
				(ps[j].v/hj-M[j]*hj/6)*a + (ps[j+1].v/hj-M[j+1]*hj/6)*b
		}
		out[i] -= base
	}
	return out
}

func medianOf(x []float64) float64 {
	for i := 1; i < len(x); i++ {
		for j := i; j > 0 && x[j] < x[j-1]; j-- {
			x[j], x[j-1] = x[j-1], x[j]
		}
	}
	if len(x)%2 == 1 {
		return x[len(x)/2]
	}
	return (x[len(x)/2-1] + x[len(x)/2]) / 2
}
