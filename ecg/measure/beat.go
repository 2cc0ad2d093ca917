package measure

import (
	"math"
)

// Template is the median beat of every lead, aligned on the QRS fiducial.
type Template struct {
	FS    float64
	Fid   int         // index of the QRS fiducial in each lead's samples
	Leads [][]float64 // same order as the input leads; nil for unusable leads
	Beats []int       // the beats (sample indices) that went into the median
	// RR is the median RR interval in samples (0 when unknown): it bounds
	// the T-wave search so the next beat's P wave is never taken for T.
	RR int
}

// MedianBeat builds the median beat from the dominant beats: beats after a
// premature interval (< 80 % of the median RR) or whose QRS correlates
// poorly (< 0.9) with the preliminary template are left out, so ectopic
// beats do not distort the intervals. ref is the lead used for alignment.
func MedianBeat(leads [][]float64, usable []bool, beats []int, fs float64, ref int) *Template {
	if len(beats) < 1 || len(leads) == 0 {
		return nil
	}
	n := len(leads[ref])
	rrs := rrList(beats)
	rrMed := 1.0 * fs
	if len(rrs) > 0 {
		rrMed = median(rrs)
	}
	pre := int(math.Min(0.45*fs, 0.6*rrMed))
	post := int(math.Min(0.65*fs, 0.95*rrMed))
	if post < int(0.3*fs) {
		post = int(0.3 * fs)
	}
	// Candidate beats: full window inside the record, not premature.
	var cand []int
	for i, b := range beats {
		if b-pre < 0 || b+post > n {
			continue
		}
		if i > 0 && float64(beats[i]-beats[i-1]) < 0.8*rrMed {
			continue
		}
		cand = append(cand, b)
	}
	if len(cand) == 0 {
		for _, b := range beats {
			if b-pre >= 0 && b+post <= n {
				cand = append(cand, b)
			}
		}
	}
	if len(cand) == 0 {
		return nil
	}
	// Align each candidate on the preliminary QRS template of the reference
	// lead (±20 ms cross-correlation), then keep well-correlated beats.
	qw := int(0.06 * fs)
	x := leads[ref]
	prelim := make([]float64, 2*qw+1)
	col := make([]float64, len(cand))
	for k := -qw; k <= qw; k++ {
		for j, b := range cand {
			col[j] = x[b+k]
		}
		prelim[k+qw] = median(col)
	}
	shift := int(0.02 * fs)
	var kept []int
	for _, b := range cand {
		best, bestC := 0, -2.0
		for s := -shift; s <= shift; s++ {
			if b+s-qw < 0 || b+s+qw >= n || b+s-pre < 0 || b+s+post > n {
				continue
			}
			c := corr(x[b+s-qw:b+s+qw+1], prelim)
			if c > bestC {
				best, bestC = s, c
			}
		}
		if bestC >= 0.9 {
			kept = append(kept, b+best)
		}
	}
	if len(kept) < min(3, len(cand)) {
		kept = cand
	}
	t := &Template{FS: fs, Fid: pre, Leads: make([][]float64, len(leads)), Beats: kept}
	if len(rrs) > 0 {
		t.RR = int(math.Round(rrMed))
	}
	col = make([]float64, len(kept))
	for li, l := range leads {
		if !usable[li] {
			continue
		}
		m := make([]float64, pre+post)
		for k := -pre; k < post; k++ {
			for j, b := range kept {
				col[j] = l[b+k]
			}
			m[k+pre] = medianInPlace(col)
		}
		t.Leads[li] = m
	}
	return t
}

func rrList(beats []int) []float64 {
	var out []float64
	for i := 1; i < len(beats); i++ {
		out = append(out, float64(beats[i]-beats[i-1]))
	}
	return out
}

func medianInPlace(c []float64) float64 {
	// Insertion sort: the beat count is small (≤ ~30 in 10 s).
	for i := 1; i < len(c); i++ {
		for j := i; j > 0 && c[j] < c[j-1]; j-- {
			c[j], c[j-1] = c[j-1], c[j]
		}
	}
	if len(c)%2 == 1 {
		return c[len(c)/2]
	}
	return (c[len(c)/2-1] + c[len(c)/2]) / 2
}

func corr(a, b []float64) float64 {
	var ma, mb float64
	for i := range a {
		ma += a[i]
		mb += b[i]
	}
	ma /= float64(len(a))
	mb /= float64(len(b))
	var sab, saa, sbb float64
	for i := range a {
		da, db := a[i]-ma, b[i]-mb
		sab += da * db
		saa += da * da
		sbb += db * db
	}
	if saa == 0 || sbb == 0 {
		return 0
	}
	return sab / math.Sqrt(saa*sbb)
}

func below(x []float64, thr float64) bool {
	for _, v := range x {
		if v >= thr {
			return false
		}
	}
	return true
}

func smooth(x []float64, w int) []float64 {
	out := make([]float64, len(x))
	var s float64
	for i := range x {
		s += x[i]
		if i >= w {
			s -= x[i-w]
		}
		out[i] = s / float64(min(i+1, w))
	}
	// shift by w/2 to keep it centred
	h := w / 2
	res := make([]float64, len(x))
	for i := range res {
		j := min(i+h, len(x)-1)
		res[i] = out[j]
	}
	return res
}

func mean(x []float64) float64 {
	if len(x) == 0 {
		return 0
	}
	s := 0.0
	for _, v := range x {
		s += v
	}
	return s / float64(len(x))
}
