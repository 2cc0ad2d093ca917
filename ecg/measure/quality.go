package measure

import (
	"fmt"
	"math"
	"slices"

	"github.com/huren-health/huren/ecg/dsp"
)

// Problem codes for a lead's acquisition quality.
const (
	LeadOff       = "lead_off"       // flat line: electrode off or broken cable
	Saturation    = "saturation"     // amplifier clipping
	BaselineDrift = "baseline_drift" // large low-frequency wander (movement, breathing, poor contact)
	EMG           = "emg_noise"      // high-frequency muscle/electrode noise
	Mains         = "mains"          // strong power-line interference (filtered; reported)
	Spikes        = "artefact"       // large non-physiological transients
)

// LeadQuality is the verdict on one lead.
type LeadQuality struct {
	Lead     string   `json:"lead"`
	Good     bool     `json:"good"`
	Problems []string `json:"problems,omitempty"`
	Detail   []string `json:"detail,omitempty"`
	// Measured indices (µV) behind the verdict.
	PeakToPeak float64 `json:"p2p_uv"`
	NoiseRMS   float64 `json:"hf_noise_rms_uv"`
	Wander     float64 `json:"baseline_wander_uv"`
	MainsRMS   float64 `json:"mains_rms_uv"`
}

// Thresholds (µV unless noted), chosen from the AHA/IEC 60601-2-25 notion of
// a readable tracing: at 10 mm/mV, 1 mm = 100 µV.
const (
	flatP2P      = 60.0   // whole-lead p2p below this: no signal
	flatRun      = 0.5    // fraction of 1 s windows with p2p < 20 µV: lead off
	clipFraction = 0.02   // fraction of samples stuck at the extreme value
	wanderMax    = 1500.0 // low-frequency excursion that makes ST unreadable
	emgMax       = 40.0   // median 40–150 Hz RMS in 200 ms windows
	mainsMax     = 100.0  // 50/60 Hz RMS before the notch
	spikeRatio   = 8.0    // |x| over 8× the typical QRS amplitude
)

// AssessLead judges one lead from its raw samples (µV) and its cleaned
// version. mainsHz is the notch frequency in use (50 or 60).
func AssessLead(name string, raw, clean []float64, fs, mainsHz float64) LeadQuality {
	q := LeadQuality{Lead: name, Good: true}
	n := len(raw)
	if n == 0 {
		q.Good = false
		q.Problems = append(q.Problems, LeadOff)
		return q
	}
	mn, mx := slices.Min(clean), slices.Max(clean)
	q.PeakToPeak = mx - mn
	add := func(code, detail string, fatal bool) {
		q.Problems = append(q.Problems, code)
		q.Detail = append(q.Detail, detail)
		if fatal {
			q.Good = false
		}
	}
	// Flat line, whole or in part (an electrode that falls off mid-way).
	win := int(fs)
	flat, wins := 0, 0
	for s := 0; s+win <= n; s += win {
		wins++
		a, b := slices.Min(clean[s:s+win]), slices.Max(clean[s:s+win])
		if b-a < 20 {
			flat++
		}
	}
	if q.PeakToPeak < flatP2P || (wins > 0 && float64(flat)/float64(wins) >= flatRun) {
		add(LeadOff, fmt.Sprintf("flat signal (peak-to-peak %.0f µV, %d of %d seconds flat)", q.PeakToPeak, flat, wins), true)
		return q
	}
	// Saturation: many samples pinned at the raw extreme.
	rmn, rmx := slices.Min(raw), slices.Max(raw)
	pinned := 0
	for i := 1; i < n; i++ {
		if (raw[i] == rmx || raw[i] == rmn) && raw[i] == raw[i-1] {
			pinned++
		}
	}
	if float64(pinned)/float64(n) > clipFraction {
		add(Saturation, fmt.Sprintf("%.1f%% of samples clipped at the amplifier limit", 100*float64(pinned)/float64(n)), true)
	}
	// Baseline wander: excursion of the raw signal's 200 ms block means
	// (a cheap low-pass; a QRS moves a block mean by ~0.1 mV at most).
	bw := max(1, int(0.2*fs))
	bmin, bmax := math.Inf(1), math.Inf(-1)
	for s := 0; s+bw <= n; s += bw {
		m := mean(raw[s : s+bw])
		bmin, bmax = math.Min(bmin, m), math.Max(bmax, m)
	}
	if bmax >= bmin {
		q.Wander = bmax - bmin
	}
	if q.Wander > wanderMax {
		add(BaselineDrift, fmt.Sprintf("baseline wander %.1f mV", q.Wander/1000), true)
	}
	// Mains: amplitude of the single DFT bin at the mains frequency.
	if mainsHz > 0 && mainsHz < fs/2*0.95 {
		q.MainsRMS = toneRMS(raw, mainsHz, fs)
		if q.MainsRMS > mainsMax {
			add(Mains, fmt.Sprintf("%.0f Hz interference %.0f µV RMS (removed by the notch filter)", mainsHz, q.MainsRMS), false)
		}
	}
	// EMG: high-frequency residual, median over 200 ms windows so QRS
	// complexes (which also have HF content) do not count.
	if fs >= 200 {
		lo := 40.0
		// Causal, single pass: phase does not matter for an RMS.
		hp := slices.Clone(clean)
		dsp.HighPass(lo, fs).Apply(hp)
		dsp.HighPass(lo, fs).Apply(hp)
		w := int(0.2 * fs)
		var rms []float64
		for s := 0; s+w <= n; s += w {
			acc := 0.0
			for _, v := range hp[s : s+w] {
				acc += v * v
			}
			rms = append(rms, math.Sqrt(acc/float64(w)))
		}
		if len(rms) > 0 {
			q.NoiseRMS = median(rms)
			if q.NoiseRMS > emgMax {
				add(EMG, fmt.Sprintf("high-frequency noise %.0f µV RMS (muscle tremor or poor electrode contact)", q.NoiseRMS), true)
			}
		}
	}
	// Spikes: transients far above the lead's typical beat amplitude.
	w := int(2 * fs)
	var maxes []float64
	for s := 0; s+w/2 <= n; s += w {
		e := min(s+w, n)
		maxes = append(maxes, slices.Max(absSlice(clean[s:e])))
	}
	if len(maxes) >= 3 {
		typ := median(maxes)
		if typ > 0 && slices.Max(maxes) > spikeRatio*typ && slices.Max(maxes) > 3000 {
			add(Spikes, fmt.Sprintf("transient of %.1f mV, %.0f× the typical amplitude", slices.Max(maxes)/1000, slices.Max(maxes)/typ), true)
		}
	}
	return q
}

func absSlice(x []float64) []float64 {
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = math.Abs(v)
	}
	return out
}

func median(x []float64) float64 {
	if len(x) == 0 {
		return math.NaN()
	}
	c := slices.Clone(x)
	slices.Sort(c)
	if len(c)%2 == 1 {
		return c[len(c)/2]
	}
	return (c[len(c)/2-1] + c[len(c)/2]) / 2
}

// toneRMS is the RMS of the component of x at f Hz (one DFT bin, computed by
// a rotating phasor: O(n), no allocation).
func toneRMS(x []float64, f, fs float64) float64 {
	w := 2 * math.Pi * f / fs
	cr, ci := math.Cos(w), math.Sin(w)
	pr, pi := 1.0, 0.0
	m := mean(x)
	var re, im float64
	for i, v := range x {
		re += (v - m) * pr
		im -= (v - m) * pi
		pr, pi = pr*cr-pi*ci, pr*ci+pi*cr
		if i&1023 == 1023 { // renormalise against rounding drift
			r := math.Hypot(pr, pi)
			pr, pi = pr/r, pi/r
		}
	}
	amp := 2 * math.Hypot(re, im) / float64(len(x))
	return amp / math.Sqrt2
}
