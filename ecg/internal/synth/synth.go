// Package synth builds synthetic 12-lead ECGs with known properties (rate,
// ST elevation per lead, QRS width, noise, irregular rhythm) for tests and
// benchmarks of the analysis and rule packages. Deterministic for a seed.
package synth

import (
	"math"
	"math/rand/v2"

	"github.com/huren-health/huren/ecg"
)

// Spec describes the recording to build. Zero values give a clean 10 s,
// 500 Hz, 60 bpm sinus ECG.
type Spec struct {
	FS        float64
	Seconds   float64
	HR        float64
	QRSWidth  float64            // multiplier of the normal QRS width (1 = ~80 ms)
	STuV      map[string]float64 // ST elevation (µV) from J to T per lead
	NoiseuV   float64            // white noise σ
	MainsuV   float64            // 50 Hz amplitude
	WanderuV  float64            // 0.3 Hz baseline wander amplitude
	NoP       bool               // no P waves
	Irregular bool               // RR drawn uniformly in [0.6, 1.4]× mean (AF-like)
	PauseAt   float64            // seconds: drop beats to create a pause from here
	PauseS    float64            // pause length
	QTScale   float64            // multiplier of the T-wave delay (1 = default)
	Seed      uint64
	Sex       string
	Age       int
}

type wave struct{ t, sigma float64 }

var waves = [5]wave{{-0.16, 0.022}, {-0.025, 0.008}, {0, 0.010}, {0.025, 0.008}, {0.27, 0.045}}

// amplitudes in µV for P, Q, R, S, T.
var amp = map[string][5]float64{
	"I":  {80, -50, 700, -100, 220},
	"II": {120, -80, 1000, -150, 300},
	"V1": {60, 0, 200, -900, -80},
	"V2": {80, 0, 400, -1100, 300},
	"V3": {80, 0, 700, -700, 350},
	"V4": {80, -50, 1100, -400, 350},
	"V5": {80, -80, 1000, -200, 300},
	"V6": {80, -80, 800, -100, 250},
}

// Beats returns the R-peak sample indices the spec produces.
func (s Spec) defaults() Spec {
	if s.FS == 0 {
		s.FS = 500
	}
	if s.Seconds == 0 {
		s.Seconds = 10
	}
	if s.HR == 0 {
		s.HR = 60
	}
	if s.QRSWidth == 0 {
		s.QRSWidth = 1
	}
	if s.QTScale == 0 {
		s.QTScale = 1
	}
	return s
}

// Make builds the record and returns it with the R-peak sample indices.
func Make(spec Spec) (*ecg.Record, []int) {
	s := spec.defaults()
	rng := rand.New(rand.NewPCG(s.Seed, 0x5eed))
	n := int(s.Seconds * s.FS)
	rr := 60 / s.HR
	var beats []int
	for t := 0.4; t < s.Seconds-0.3; {
		if !(s.PauseS > 0 && t >= s.PauseAt && t < s.PauseAt+s.PauseS) {
			beats = append(beats, int(t*s.FS))
		}
		d := rr
		if s.Irregular {
			d = rr * (0.6 + 0.8*rng.Float64())
		}
		t += d
	}
	raw := map[string][]float64{}
	for name, a := range amp {
		x := make([]float64, n)
		for _, b := range beats {
			for k, w := range waves {
				if k == 0 && s.NoP {
					continue
				}
				sigma, t0 := w.sigma, w.t
				if k >= 1 && k <= 3 {
					sigma *= s.QRSWidth
					t0 *= s.QRSWidth
				}
				if k == 4 {
					t0 = t0*s.QTScale + 0.02*(s.QRSWidth-1)
				}
				lo, hi := b+int((t0-4*sigma)*s.FS), b+int((t0+4*sigma)*s.FS)
				for i := max(lo, 0); i < min(hi, n); i++ {
					dt := float64(i-b)/s.FS - t0
					x[i] += a[k] * math.Exp(-dt*dt/(2*sigma*sigma))
				}
			}
			if st := s.STuV[name]; st != 0 {
				j := 0.04 * s.QRSWidth
				end := 0.27*s.QTScale + 0.06
				for i := max(b+int((j-0.02)*s.FS), 0); i < min(b+int((end+0.1)*s.FS), n); i++ {
					t := float64(i-b) / s.FS
					up := 1 / (1 + math.Exp(-(t-j+0.005)/0.004))
					down := 1 / (1 + math.Exp((t-end)/0.02))
					x[i] += st * up * down
				}
			}
		}
		raw[name] = x
	}
	rec := &ecg.Record{Format: "synthetic", FS: s.FS, Patient: ecg.Patient{Sex: s.Sex, AgeYears: s.Age}}
	I, II := raw["I"], raw["II"]
	derived := map[string]func(i int) float64{
		"III": func(i int) float64 { return II[i] - I[i] },
		"aVR": func(i int) float64 { return -(I[i] + II[i]) / 2 },
		"aVL": func(i int) float64 { return I[i] - II[i]/2 },
		"aVF": func(i int) float64 { return II[i] - I[i]/2 },
	}
	for _, name := range ecg.StandardLeads {
		x := raw[name]
		if f, ok := derived[name]; ok {
			x = make([]float64, n)
			for i := range x {
				x[i] = f(i)
			}
			// Derived limb leads carry the ST of their sources (Einthoven);
			// an explicit STuV adds on top for lead-specific tests.
		}
		out := make([]float64, n)
		for i := range out {
			t := float64(i) / s.FS
			v := x[i]
			if s.NoiseuV > 0 {
				v += rng.NormFloat64() * s.NoiseuV
			}
			v += s.MainsuV * math.Sin(2*math.Pi*50*t)
			v += s.WanderuV * math.Sin(2*math.Pi*0.3*t+1)
			out[i] = v
		}
		rec.Leads = append(rec.Leads, ecg.Lead{Name: name, Samples: out})
	}
	return rec, beats
}
