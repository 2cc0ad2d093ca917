// Package qrs detects QRS complexes and scores detections against reference
// annotations the way ANSI/AAMI EC57 does.
//
// The detector follows Pan & Tompkins (1985) — band-pass (5–20 Hz here),
// a 200 ms refractory period, detections merged below 240 ms (250 bpm), derivative,
// squaring, moving-window integration, two adaptive thresholds with
// search-back and T-wave discrimination — with three changes that matter on
// real recordings: it runs offline with zero-phase filters (no group delay to
// undo), it normalises by a robust amplitude (median of 2 s block maxima) so a
// few artefact spikes do not raise the thresholds, and it
// refines each detection to the steepest point of the complex so fiducials
// are consistent for beat averaging. Multi-lead recordings are handled by
// Consensus: detect per lead, keep the lead the others agree with most.
//
// Detect is a pure function: safe for concurrent use.
package qrs

import (
	"math"
	"slices"

	"github.com/huren-health/huren/ecg/dsp"
)

// Params are the detector's decision constants (the filter and window
// lengths are fixed physiology, scaled by the sampling rate). Default holds
// the values Detect uses; DetectWith exists so the MIT-BIH cross-validation
// (mitdb_test.go) can tune them on one half of the records and report the
// other half.
type Params struct {
	// Threshold places the detection threshold between the noise and
	// signal peak levels: npk + Threshold·(spk − npk) (Pan–Tompkins 0.25).
	Threshold float64
	// SearchBack is the RR multiple after which the gap is searched for a
	// missed beat (Pan–Tompkins 1.66).
	SearchBack float64
	// TWaveSlope: a candidate within 360 ms of the last beat whose maximum
	// slope is below TWaveSlope × that beat's is taken as a T wave.
	TWaveSlope float64
	// SignalCap bounds the running QRS level at SignalCap × the record's
	// typical QRS energy (median of 2 s block maxima): a burst of large
	// artefact accepted as beats would otherwise raise the threshold above
	// every real QRS that follows, and the detector goes deaf until the
	// next artefact (MIT-BIH NST 118e_6: 20 % of beats lost in the clean
	// stretches after the noise). 0 disables the bound.
	SignalCap float64
}

// Default are the parameters Detect and Consensus use.
var Default = Params{Threshold: 0.25, SearchBack: 1.66, TWaveSlope: 0.5, SignalCap: 2}

// Detect returns the sample index of every QRS complex in x (one lead,
// microvolts or any linear unit, sampled at fs), in increasing order. A flat
// or too-short signal yields nil.
func Detect(x []float64, fs float64) []int { return DetectWith(x, fs, Default) }

// DetectWith is Detect with explicit decision parameters.
func DetectWith(x []float64, fs float64, p Params) []int {
	pr := Prepare(x, fs)
	if pr == nil {
		return nil
	}
	return pr.Detect(p)
}

// Prepared is one lead after the parameter-independent stages (filtering,
// slope, energy integration), so several Params can be tried on it cheaply.
type Prepared struct {
	mwi, slope []float64
	fs         float64
	typical    float64 // median of 2 s block maxima of mwi
}

// Prepare runs the parameter-independent stages; nil for a flat or short
// lead. Every window is a duration scaled by fs, so any rate from 50 Hz up
// is handled without resampling.
func Prepare(x []float64, fs float64) *Prepared {
	n := len(x)
	if fs < 50 || n < int(fs) {
		return nil
	}
	f := dsp.FiltFilt(x, dsp.HighPass(5, fs), dsp.LowPass(20, fs))
	// 5-point derivative with a step of h samples: about the same ±11 ms
	// span at 360 Hz and above (h = 1 up to 540 Hz, 3 at 1000 Hz), so a
	// high rate does not turn the slope into sample-to-sample noise.
	h := max(1, int(math.Round(fs/360)))
	slope := make([]float64, n) // |derivative|, normalised
	for i := 2 * h; i < n-2*h; i++ {
		slope[i] = (f[i+2*h] + 2*f[i+h] - 2*f[i-h] - f[i-2*h]) / 8
	}
	scale := robustPeak(slope, int(2*fs))
	if scale <= 1e-9 {
		return nil // flat lead
	}
	energy := make([]float64, n)
	inv := 1 / scale
	for i := range slope {
		v := slope[i] * inv
		energy[i] = v * v
		slope[i] = math.Abs(v)
	}
	mwi := movingAverage(energy, int(0.15*fs)|1)
	return &Prepared{mwi: mwi, slope: slope, fs: fs, typical: robustPeak(mwi, int(2*fs))}
}

// Detect runs the decision stage with p.
func (pr *Prepared) Detect(p Params) []int {
	if pr == nil {
		return nil
	}
	return threshold(pr.mwi, pr.slope, pr.fs, pr.typical, p)
}

// robustPeak is the median over 2 s blocks of the block's max |x|: the
// typical QRS slope, insensitive to a few artefact spikes.
func robustPeak(x []float64, block int) float64 {
	if block < 1 {
		block = 1
	}
	var m []float64
	for s := 0; s < len(x); s += block {
		e := s + block
		if e > len(x) {
			e = len(x)
		}
		mx := 0.0
		for _, v := range x[s:e] {
			if a := math.Abs(v); a > mx {
				mx = a
			}
		}
		m = append(m, mx)
	}
	slices.Sort(m)
	return m[len(m)/2]
}

// movingAverage is a centred running mean over w samples (w odd).
func movingAverage(x []float64, w int) []float64 {
	out := make([]float64, len(x))
	h := w / 2
	var s float64
	for i := 0; i < len(x)+h; i++ {
		if i < len(x) {
			s += x[i]
		}
		if i-w >= 0 {
			s -= x[i-w]
		}
		if j := i - h; j >= 0 && j < len(x) {
			out[j] = s / float64(w)
		}
	}
	return out
}

type peak struct {
	i   int
	amp float64
}

func threshold(mwi, slope []float64, fs, typical float64, p Params) []int {
	n := len(mwi)
	refr := int(0.2 * fs)
	// Candidate peaks: local maxima of the integrated energy, the larger of
	// any two closer than the refractory period.
	var cand []peak
	for i := 1; i < n-1; i++ {
		if mwi[i] > mwi[i-1] && mwi[i] >= mwi[i+1] {
			if k := len(cand) - 1; k >= 0 && i-cand[k].i < refr {
				if mwi[i] > cand[k].amp {
					cand[k] = peak{i, mwi[i]}
				}
				continue
			}
			cand = append(cand, peak{i, mwi[i]})
		}
	}
	if len(cand) == 0 {
		return nil
	}
	// Learning phase: the first 2 s set the initial signal and noise levels.
	learn := int(2 * fs)
	if learn > n {
		learn = n
	}
	mx, mean := 0.0, 0.0
	for _, v := range mwi[:learn] {
		mx = math.Max(mx, v)
		mean += v
	}
	mean /= float64(learn)
	spk, npk := 0.5*mx, 0.5*mean
	if p.SignalCap > 0 {
		spk = min(spk, p.SignalCap*typical)
	}
	thr := func() float64 { return npk + p.Threshold*(spk-npk) }

	var beats []int
	var beatSlope []float64
	rr := make([]float64, 0, 8)
	rrAvg := 0.0
	lastCand := -1 // index into cand of the last accepted beat
	maxSlope := func(c int) float64 {
		lo, hi := c-int(0.075*fs), c+int(0.075*fs)
		if lo < 0 {
			lo = 0
		}
		if hi > n {
			hi = n
		}
		m := 0.0
		for _, v := range slope[lo:hi] {
			m = math.Max(m, v)
		}
		return m
	}
	accept := func(k int, searchback bool) {
		c := cand[k]
		if searchback {
			spk = 0.25*c.amp + 0.75*spk
		} else {
			spk = 0.125*c.amp + 0.875*spk
		}
		if p.SignalCap > 0 {
			spk = min(spk, p.SignalCap*typical)
		}
		if len(beats) > 0 {
			iv := float64(c.i - beats[len(beats)-1])
			// Only RR intervals near the running mean update it, so an
			// ectopic pair does not drag the search-back horizon.
			if rrAvg == 0 || (iv > 0.92*rrAvg*0.5 && iv < 1.66*rrAvg) {
				if len(rr) == 8 {
					rr = rr[1:]
				}
				rr = append(rr, iv)
				s := 0.0
				for _, v := range rr {
					s += v
				}
				rrAvg = s / float64(len(rr))
			}
		}
		beats = append(beats, c.i)
		beatSlope = append(beatSlope, maxSlope(c.i))
		lastCand = k
	}
	for k := 0; k < len(cand); k++ {
		c := cand[k]
		// Search-back: a long gap since the last beat means one was missed;
		// take the largest candidate in the gap above half the threshold.
		if rrAvg > 0 && len(beats) > 0 && float64(c.i-beats[len(beats)-1]) > p.SearchBack*rrAvg {
			best := -1
			for j := lastCand + 1; j < k; j++ {
				if cand[j].i-beats[len(beats)-1] < int(0.36*fs) {
					continue
				}
				if cand[j].amp > 0.5*thr() && (best < 0 || cand[j].amp > cand[best].amp) {
					best = j
				}
			}
			if best >= 0 {
				accept(best, true)
			}
		}
		if c.amp > thr() {
			if len(beats) > 0 {
				gap := c.i - beats[len(beats)-1]
				if gap < refr {
					continue
				}
				// T-wave discrimination: a candidate within 360 ms of the
				// last beat with a much smaller slope is a T wave.
				if gap < int(0.36*fs) && maxSlope(c.i) < p.TWaveSlope*beatSlope[len(beatSlope)-1] {
					npk = 0.125*c.amp + 0.875*npk
					continue
				}
			}
			accept(k, false)
		} else {
			npk = 0.125*c.amp + 0.875*npk
		}
	}
	beats = pruneSplits(beats, mwi, 1.2, 0.8)
	// Refine to the point of maximum combined slope near the energy peak.
	out := make([]int, 0, len(beats))
	w := int(0.08 * fs)
	for _, b := range beats {
		lo, hi := b-w, b+w
		if lo < 0 {
			lo = 0
		}
		if hi > n {
			hi = n
		}
		bi, bv := b, -1.0
		for i := lo; i < hi; i++ {
			if slope[i] > bv {
				bi, bv = i, slope[i]
			}
		}
		// Two complexes closer than 240 ms (> 250 bpm) are one complex
		// detected twice (e.g. a wide or notched QRS).
		if len(out) > 0 && bi-out[len(out)-1] < int(0.24*fs) {
			continue
		}
		out = append(out, bi)
	}
	return out
}

// pruneSplits removes detections that split a normal RR interval in two
// (previous-to-next distance under sum× the local median RR) while carrying
// less energy than their neighbours: that is noise between two beats. An
// ectopic beat is followed by a compensatory pause (the distance is about
// two RRs) or carries more energy, so it stays.
func pruneSplits(beats []int, mwi []float64, sum, amp float64) []int {
	if len(beats) < 5 {
		return beats
	}
	out := make([]int, 0, len(beats))
	out = append(out, beats[0])
	for i := 1; i < len(beats)-1; i++ {
		lo, hi := max(1, i-8), min(len(beats)-1, i+8)
		rr := make([]float64, 0, hi-lo+1)
		for k := lo; k <= hi; k++ {
			rr = append(rr, float64(beats[k]-beats[k-1]))
		}
		slices.Sort(rr)
		med := rr[len(rr)/2]
		prev := out[len(out)-1]
		span := float64(beats[i+1] - prev)
		a := mwi[beats[i]]
		na := (mwi[prev] + mwi[beats[i+1]]) / 2
		if span < sum*med && a < amp*na {
			continue
		}
		out = append(out, beats[i])
	}
	return append(out, beats[len(beats)-1])
}
