package measure

import (
	"fmt"
	"math"
	"slices"
	"strings"

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
	// Window-level problem codes.
	MotionNoise  = "motion_noise"  // in-band noise between beats (electrode motion)
	BeatMismatch = "beat_mismatch" // QRS complexes unlike each other: noise taken for beats
	NoisyStretch = "noisy_stretch" // some windows of a long lead are poor
)

// Verdicts, per lead and per window.
const (
	VerdictGood   = "good"   // nothing to remark
	VerdictUsable = "usable" // analysed; the problems are reported
	VerdictPoor   = "poor"   // left out of the analysis
)

// LeadQuality is the verdict on one lead.
type LeadQuality struct {
	Lead string `json:"lead"`
	// Good is true when the lead is analysed (verdict good or usable).
	Good     bool     `json:"good"`
	Verdict  string   `json:"verdict"`
	Problems []string `json:"problems,omitempty"`
	Detail   []string `json:"detail,omitempty"`
	// Measured indices (µV) behind the verdict.
	PeakToPeak float64 `json:"p2p_uv"`
	NoiseRMS   float64 `json:"hf_noise_rms_uv"`
	Wander     float64 `json:"baseline_wander_uv"`
	MainsRMS   float64 `json:"mains_rms_uv"`
	// Windows judges each stretch of the lead (10 s windows); set by
	// AssessWindows.
	Windows []WindowQuality `json:"windows,omitempty"`
}

// setVerdict derives Verdict from Good and Problems.
func (q *LeadQuality) setVerdict() {
	switch {
	case !q.Good:
		q.Verdict = VerdictPoor
	case len(q.Problems) > 0:
		q.Verdict = VerdictUsable
	default:
		q.Verdict = VerdictGood
	}
}

// Thresholds (µV unless noted), chosen from the AHA/IEC 60601-2-25 notion of
// a readable tracing: at 10 mm/mV, 1 mm = 100 µV.
const (
	flatP2P      = 60.0   // whole-lead p2p below this: no signal
	flatRun      = 0.5    // fraction of 1 s windows with p2p < 20 µV: lead off
	clipFraction = 0.02   // fraction of samples stuck at the extreme value
	wanderMax    = 1500.0 // low-frequency excursion worth reporting (the high-pass removes it)
	emgMax       = 40.0   // median 40–150 Hz RMS in 200 ms windows
	mainsMax     = 100.0  // 50/60 Hz RMS before the notch
	spikeRatio   = 8.0    // |x| over 8× the typical QRS amplitude
)

// AssessLead judges one lead from its raw samples (µV) and its cleaned
// version. mainsHz is the notch frequency in use (50 or 60).
//
// Only what makes the whole lead unreadable is fatal here: a flat line,
// clipping, muscle noise over most of the lead, or large artefacts. Baseline
// wander is reported but never fatal: the diagnostic high-pass removes it
// (issue 15: long recordings were refused for drift the filter had already
// taken out). Noise confined to stretches of a long lead is judged per
// window by AssessWindows.
func AssessLead(name string, raw, clean []float64, fs, mainsHz float64) (q LeadQuality) {
	q = LeadQuality{Lead: name, Good: true}
	defer q.setVerdict()
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
	// A long lead whose electrode came off for a while is judged window by
	// window; only a lead flat nearly throughout is off as a whole.
	run := flatRun
	if long := float64(n)/fs > 2*WindowS; long {
		run = 0.9
	}
	if q.PeakToPeak < flatP2P || (wins > 0 && float64(flat)/float64(wins) >= run) {
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
		add(BaselineDrift, fmt.Sprintf("baseline wander %.1f mV (removed by the high-pass filter)", q.Wander/1000), false)
	}
	// Mains: amplitude of the single DFT bin at the mains frequency.
	if mainsHz > 0 && mainsHz < fs/2*0.95 {
		q.MainsRMS = toneRMS(raw, mainsHz, fs)
		if q.MainsRMS > mainsMax {
			add(Mains, fmt.Sprintf("%.0f Hz interference %.0f µV RMS (removed by the notch filter)", mainsHz, q.MainsRMS), false)
		}
	}
	// Muscle noise and artefacts in a long recording are stretches, judged
	// per window (AssessWindows), not reasons to drop the whole lead.
	if float64(n)/fs > 2*WindowS {
		return q
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

// WindowS is the length of the quality windows of a long recording.
const WindowS = 10.0

// Window-level thresholds. noiseRatio is the 20th percentile of the 50 ms
// block peak-to-peak over the 95th (a scale-free in-band noise index: the
// quiet segments between beats against the QRS); beatCorr is the median over
// beats of each QRS's best correlation with another QRS of the window (noise
// taken for beats, or beats buried in noise, match nothing). Chosen from the
// distributions on MIT-BIH 100, 105, 118, 207, 222, 232 and the nstdb
// versions of 118 (clean windows: ratio ≤ 0.13 except genuinely noisy
// stretches, correlation ≥ 0.97; 0 dB noise: ratio 0.16, correlation 0.89 on
// average), and checked against synthetic sinus, narrow- and wide-complex
// tachycardia up to 230 bpm (ratio ≤ 0.11, correlation ≥ 0.99) so a fast
// rhythm is not taken for noise.
const (
	noiseRatioPoor   = 0.18
	noiseRatioUsable = 0.12
	beatCorrPoor     = 0.90
	beatCorrUsable   = 0.97
	emgUsable        = 25.0
)

// WindowQuality is the verdict on one stretch of one lead.
type WindowQuality struct {
	StartS   float64  `json:"start_s"`
	EndS     float64  `json:"end_s"`
	Verdict  string   `json:"verdict"`
	Problems []string `json:"problems,omitempty"`
	// Indices behind the verdict.
	NoiseRatio float64  `json:"noise_ratio"`
	BeatCorr   *float64 `json:"beat_corr,omitempty"` // nil with fewer than 3 beats
	NoiseRMS   float64  `json:"hf_noise_rms_uv"`
}

// Windows splits n samples at fs into WindowS windows; a last window
// shorter than half a window joins the previous one, so a 10–15 s resting
// ECG is one window.
func Windows(n int, fs float64) [][2]int {
	w := int(WindowS * fs)
	if w < 1 || n <= 0 {
		return nil
	}
	var out [][2]int
	for s := 0; s < n; s += w {
		e := min(s+w, n)
		if k := len(out); k > 0 && e-s < w/2 {
			out[k-1][1] = e
			break
		}
		out = append(out, [2]int{s, e})
	}
	return out
}

// AssessWindows judges each window of a lead from its cleaned samples and
// the beats detected in the record, stores the verdicts in q.Windows and
// updates the lead's verdict: a lead poor in every window is poor; a lead
// poor in some windows stays usable with those stretches left out. A lead
// already poor as a whole is left as it is.
func AssessWindows(q *LeadQuality, clean []float64, beats []int, fs float64) {
	if !q.Good {
		return
	}
	n := len(clean)
	var hp []float64
	if fs >= 200 {
		hp = slices.Clone(clean)
		dsp.HighPass(40, fs).Apply(hp)
		dsp.HighPass(40, fs).Apply(hp)
	}
	// The lead's typical amplitude: median of 2 s block maxima.
	var maxes []float64
	for s := 0; s+int(fs) <= n; s += int(2 * fs) {
		maxes = append(maxes, slices.Max(absSlice(clean[s:min(s+int(2*fs), n)])))
	}
	typ := median(maxes)
	poor := 0
	var poorAt []string
	for _, w := range Windows(n, fs) {
		wq := assessWindow(clean[w[0]:w[1]], hp, w, beats, fs, typ)
		q.Windows = append(q.Windows, wq)
		if wq.Verdict == VerdictPoor {
			poor++
			poorAt = append(poorAt, fmt.Sprintf("%.0f–%.0f s", wq.StartS, wq.EndS))
		}
	}
	switch {
	case len(q.Windows) > 0 && poor == len(q.Windows):
		q.Good = false
		seen := map[string]bool{}
		for _, w := range q.Windows {
			for _, p := range w.Problems {
				if !seen[p] {
					seen[p] = true
					q.Problems = append(q.Problems, p)
				}
			}
		}
		q.Detail = append(q.Detail, "poor throughout")
	case poor > 0:
		q.Problems = append(q.Problems, NoisyStretch)
		if len(poorAt) > 6 {
			poorAt = append(poorAt[:6], "…")
		}
		q.Detail = append(q.Detail, fmt.Sprintf("%d of %d windows poor, left out: %s", poor, len(q.Windows), strings.Join(poorAt, ", ")))
	}
	q.setVerdict()
}

func assessWindow(c, hp []float64, w [2]int, beats []int, fs, typ float64) (wq WindowQuality) {
	wq = WindowQuality{StartS: float64(w[0]) / fs, EndS: float64(w[1]) / fs}
	verdict := VerdictGood
	add := func(code, v string) {
		if !slices.Contains(wq.Problems, code) {
			wq.Problems = append(wq.Problems, code)
		}
		if v == VerdictPoor || verdict == VerdictGood {
			verdict = v
		}
	}
	defer func() { wq.Verdict = verdict }()
	// Flat: electrode off in this stretch.
	sec, flat, secs := int(fs), 0, 0
	for s := 0; s+sec <= len(c); s += sec {
		secs++
		if slices.Max(c[s:s+sec])-slices.Min(c[s:s+sec]) < 20 {
			flat++
		}
	}
	if slices.Max(c)-slices.Min(c) < flatP2P || (secs > 0 && float64(flat)/float64(secs) >= flatRun) {
		add(LeadOff, VerdictPoor)
		return wq
	}
	if hp != nil {
		bw := int(0.2 * fs)
		var rms []float64
		for s := w[0]; s+bw <= w[1]; s += bw {
			acc := 0.0
			for _, v := range hp[s : s+bw] {
				acc += v * v
			}
			rms = append(rms, math.Sqrt(acc/float64(bw)))
		}
		if len(rms) > 0 {
			wq.NoiseRMS = median(rms)
			switch {
			case wq.NoiseRMS > emgMax:
				add(EMG, VerdictPoor)
			case wq.NoiseRMS > emgUsable:
				add(EMG, VerdictUsable)
			}
		}
	}
	if mx := slices.Max(absSlice(c)); typ > 0 && mx > spikeRatio*typ && mx > 3000 {
		add(Spikes, VerdictPoor)
	}
	var in []int
	for _, b := range beats {
		if b >= w[0] && b < w[1] {
			in = append(in, b-w[0])
		}
	}
	wq.NoiseRatio = noiseRatio(c, in, fs)
	switch {
	case wq.NoiseRatio > noiseRatioPoor:
		add(MotionNoise, VerdictPoor)
	case wq.NoiseRatio > noiseRatioUsable:
		add(MotionNoise, VerdictUsable)
	}
	if r, ok := beatCorr(c, in, fs); ok {
		wq.BeatCorr = &r
		switch {
		// Unlike beats in an otherwise quiet lead are physiology (an
		// ectopic or aberrant beat, a low-amplitude lead whose QRS changes
		// with breathing), not noise: LUDB 130's III and aVF (correlation
		// 0.65–0.70, noise ratio 0.07–0.08) were left out and its QT moved
		// by 94 ms. Poor needs noise evidence as well.
		case r < beatCorrPoor && wq.NoiseRatio > noiseRatioUsable:
			add(BeatMismatch, VerdictPoor)
		case r < beatCorrPoor:
			add(BeatMismatch, VerdictUsable)
		case r < beatCorrUsable:
			add(BeatMismatch, VerdictUsable)
		}
	}
	return wq
}

// noiseRatio is the 20th percentile of the peak-to-peak of 50 ms blocks
// over the QRS amplitude: the median peak-to-peak within ±50 ms of the
// window's beats, or, without beats, the 95th percentile of the blocks. The
// beats, not the percentile alone: in a slow rhythm (2 beats in 10 s, the
// liryc aECG example) QRS blocks are under 5 % of the window and the 95th
// percentile is a T wave.
func noiseRatio(c []float64, beats []int, fs float64) float64 {
	b := max(2, int(0.05*fs))
	var pp []float64
	for k := 0; k+b <= len(c); k += b {
		pp = append(pp, slices.Max(c[k:k+b])-slices.Min(c[k:k+b]))
	}
	if len(pp) < 5 {
		return 0
	}
	slices.Sort(pp)
	hi := pp[len(pp)*95/100]
	var qrs []float64
	for _, bt := range beats {
		lo, up := max(0, bt-b), min(len(c), bt+b)
		if up > lo {
			qrs = append(qrs, slices.Max(c[lo:up])-slices.Min(c[lo:up]))
		}
	}
	if len(qrs) > 0 {
		hi = max(hi, median(qrs))
	}
	if hi <= 0 {
		return 0
	}
	return pp[len(pp)/5] / hi
}

// beatCorr is the lower quartile over beats of each QRS's (±80 ms) best
// Pearson correlation with another QRS of the window; false with fewer than
// 3 beats (a pause or asystole is not noise). The lower quartile, not the
// median: noise taken for beats in a quarter of the detections must show
// (MIT-BIH NST 118e06, where 10 false detections among 12 beats left the
// median at 0.98); an isolated ectopic beat (< 25 %) does not.
func beatCorr(c []float64, beats []int, fs float64) (float64, bool) {
	h := int(0.08 * fs)
	var segs [][]float64
	for _, b := range beats {
		if b-h < 0 || b+h > len(c) {
			continue
		}
		x := slices.Clone(c[b-h : b+h])
		m := mean(x)
		ss := 0.0
		for i := range x {
			x[i] -= m
			ss += x[i] * x[i]
		}
		if ss <= 0 {
			continue
		}
		inv := 1 / math.Sqrt(ss)
		for i := range x {
			x[i] *= inv
		}
		segs = append(segs, x)
	}
	if len(segs) < 3 {
		return 0, false
	}
	best := make([]float64, len(segs))
	for i := range segs {
		best[i] = -1
		for j := range segs {
			if i == j {
				continue
			}
			d := 0.0
			for k := range segs[i] {
				d += segs[i][k] * segs[j][k]
			}
			best[i] = max(best[i], d)
		}
	}
	slices.Sort(best)
	return best[len(best)/4], true
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
