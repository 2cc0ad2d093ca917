package measure

import (
	"fmt"
	"math"
	"slices"
)

// Fiducials are positions in the template (sample indices), -1 when absent.
type Fiducials struct {
	POn, PPeak, POff, QRSOn, QRSOff, TPeak, TEnd int
	// TEndReason says why TEnd is -1 although the QRS was delineated: the
	// QT is then "not measurable", never a guess.
	TEndReason string
}

// Delineation constants. They were chosen on the LUDB tuning records only
// (record numbers ≡ 0 mod 4, see ecg/eval); the other records are the
// held-out report set.
const (
	// qrsOnFrac and qrsOffFrac: fractions of the peak combined slope that
	// mark QRS onset and offset.
	qrsOnFrac  = 0.05
	qrsOffFrac = 0.02
	// qrsKneeFrac: a local minimum of the combined slope below this
	// fraction also ends (or starts) the QRS.
	qrsKneeFrac = 0.1
	// qrsRiseFrac: no slope above this fraction may follow a knee within
	// 40 ms (else it is a notch inside the QRS).
	qrsRiseFrac = 0.2
	// qrsMaxMS bounds the search for QRS onset before, and offset after,
	// the fiducial (paced and LBBB complexes reach 180+ ms in total).
	qrsMaxMS = 200
	// qrsMaxTotalMS: a longer QRS is a delineation failure.
	qrsMaxTotalMS = 240
	qrsPerLead    = true
	// qrsMinContrast: the QRS slope must exceed the slope floor this many
	// times, else the "median beat" is averaged noise.
	qrsMinContrast = 5.0
	qrsLeadOnFrac  = 0.1
	qrsLeadOffFrac = 0.03
	// tMinAmp: the largest T wave (µV from the PR level) below which no
	// lead has a T wave whose end can be located.
	tMinAmp = 80.0
	// tLeadFrac: leads whose T wave is at least this fraction of the
	// largest take part in the global T end.
	tLeadFrac = 0.3
	// tMaxSpreadMS: when the T ends of the participating leads spread more
	// than this (interquartile range) the end is ambiguous (T–U fusion,
	// T merged with the next P, noise) and QT is not measurable.
	tMaxSpreadMS = 60.0
	// tMaxMethodMS: the trapezium and tangent T ends may differ by this
	// much before the end is called ambiguous.
	tMaxMethodMS = 60.0
	// pOnFrac, pOffFrac: fractions of the P-wave peak deviation marking
	// P onset and offset.
	pOnFrac  = 0.2
	pOffFrac = 0.1
)

// Delineate finds the global P, QRS and T boundaries on the median beats of
// all usable leads (a global measurement: earliest onset, latest offset):
//
//   - QRS on/offset where the combined absolute slope of all leads
//     leaves/returns below a fraction of its QRS maximum;
//   - T end per lead by the trapezium-area method (Vázquez-Seisdedos et
//     al., 2011) on the leads with a clear T wave, searched only before the
//     next beat's P wave can start; the global end is the latest of the
//     consistent lead ends. When no lead has a T wave large enough, or the
//     leads disagree, TEnd stays -1 with TEndReason set;
//   - P from the combined deviation of all leads from a line joining the
//     TP and PR levels.
func Delineate(t *Template) Fiducials {
	f := Fiducials{-1, -1, -1, -1, -1, -1, -1, ""}
	fs := t.FS
	var ls [][]float64
	for _, l := range t.Leads {
		if l != nil {
			ls = append(ls, l)
		}
	}
	if len(ls) == 0 {
		return f
	}
	m := len(ls[0])
	ms := func(v float64) int { return int(math.Round(v * fs / 1000)) }
	// Combined absolute slope, smoothed over ~8 ms.
	slope := make([]float64, m)
	for _, l := range ls {
		for i := 1; i < m-1; i++ {
			slope[i] += math.Abs(l[i+1]-l[i-1]) / 2
		}
	}
	slope = smooth(slope, max(1, ms(8)))
	fid := t.Fid
	lo, hi := max(1, fid-ms(60)), min(m-1, fid+ms(60))
	if hi <= lo {
		return f
	}
	smax := slices.Max(slope[lo:hi])
	if smax <= 0 {
		return f
	}
	// The slope floor (noise, P and T slopes) is the 20th percentile of
	// the combined slope over the template: thresholds are a fraction of
	// the QRS slope above that floor, so noisy leads do not stop the
	// search before the true boundary.
	floor := percentile(slope, 0.2)
	if smax < qrsMinContrast*floor {
		// No complex stands out of the template: noise, not a QRS.
		return f
	}
	thrOn := floor + qrsOnFrac*(smax-floor)
	thrOff := floor + qrsOffFrac*(smax-floor)
	hold := max(1, ms(8))
	// Onset: walking back from the fiducial, the first run of `hold`
	// samples below threshold.
	// A boundary is also where the slope, already low, has a local
	// minimum: the J point of a steep ST segment (or an onset on a
	// sloping PR segment) never falls below the threshold.
	knee := floor + qrsKneeFrac*(smax-floor)
	// A notch inside the QRS is a local minimum too: it only counts when
	// no QRS-sized slope follows (offset) or precedes (onset) it.
	look := ms(40)
	localMin := func(i int, after bool) bool {
		if slope[i] >= knee || i-hold < 0 || i+hold >= m || slope[i] > slices.Min(slope[i-hold:i+hold+1]) {
			return false
		}
		a, b := max(0, i-look), i
		if after {
			a, b = i, min(m, i+look)
		}
		return slices.Max(slope[a:b]) < qrsRiseFrac*smax
	}
	for i := fid; i >= max(hold, fid-ms(qrsMaxMS)); i-- {
		if below(slope[i-hold:i+1], thrOn) {
			f.QRSOn = i
			break
		}
	}
	for i := fid; i+hold < min(m, fid+ms(qrsMaxMS)); i++ {
		if below(slope[i:i+hold+1], thrOff) || localMin(i, true) {
			f.QRSOff = i
			break
		}
	}
	if qrsPerLead {
		if on, off := perLeadQRS(ls, fid, fs); on >= 0 && off > on {
			f.QRSOn, f.QRSOff = (on+f.QRSOn+1)/2, (off+f.QRSOff+1)/2
		}
	}
	if f.QRSOn < 0 || f.QRSOff < 0 {
		return f
	}
	if f.QRSOff-f.QRSOn > ms(qrsMaxTotalMS) {
		// Longer than any conducted, bundle-branch-blocked or paced QRS:
		// the boundaries ran into the P or T wave (or a pacing artefact
		// dominated the slope). No QRS, no J point, no ST.
		f.QRSOn, f.QRSOff = -1, -1
		return f
	}
	// Isoelectric level per lead: just before QRS onset (PR segment).
	iso := make([]float64, len(ls))
	for k, l := range ls {
		a, b := max(0, f.QRSOn-ms(20)), max(1, f.QRSOn-ms(6))
		iso[k] = mean(l[a:b])
	}
	f.TPeak, f.TEnd, f.TEndReason = tEnd(t, ls, iso, f.QRSOn, f.QRSOff)
	f.POn, f.PPeak, f.POff = pWave(ls, iso, f.QRSOn, fs)
	return f
}

// tEnd locates the global T end; see Delineate.
func tEnd(t *Template, ls [][]float64, iso []float64, qrsOn, qrsOff int) (peak, end int, reason string) {
	fs := t.FS
	m := len(ls[0])
	ms := func(v float64) int { return int(math.Round(v * fs / 1000)) }
	// The T wave must end before the next P wave may begin: 120 ms before
	// the next QRS fiducial is a conservative bound (short PR); without an
	// RR the template end bounds the search.
	endMax := m - 1
	if t.RR > 0 {
		endMax = min(endMax, t.Fid+t.RR-ms(120))
	}
	peakLo := qrsOff + ms(60)
	peakHi := min(endMax-ms(40), qrsOn+ms(450))
	if peakHi-peakLo < ms(40) {
		return -1, -1, fmt.Sprintf("RR %.0f ms too short to separate the T wave from the next P wave", float64(t.RR)*1000/fs)
	}
	type tw struct {
		amp  float64
		peak int
	}
	tws := make([]tw, len(ls))
	best, bestK := 0.0, -1
	for k, l := range ls {
		pk, a := peakLo, 0.0
		for i := peakLo; i < peakHi; i++ {
			if d := math.Abs(l[i] - iso[k]); d > a {
				pk, a = i, d
			}
		}
		tws[k] = tw{a, pk}
		if a > best {
			best, bestK = a, k
		}
	}
	// Anchor every lead's T peak within ±80 ms of the dominant lead's: a
	// U wave or the next P wave in a lead with a small T is not its T.
	if bestK >= 0 {
		a, b := max(peakLo, tws[bestK].peak-ms(80)), min(peakHi, tws[bestK].peak+ms(80))
		for k, l := range ls {
			pk, amp := a, 0.0
			for i := a; i < b; i++ {
				if d := math.Abs(l[i] - iso[k]); d > amp {
					pk, amp = i, d
				}
			}
			tws[k] = tw{amp, pk}
		}
	}
	if best < tMinAmp {
		return -1, -1, fmt.Sprintf("T waves too flat to locate their end (largest %.0f µV)", best)
	}
	var ends, tangents []int
	for k, l := range ls {
		if tws[k].amp < tLeadFrac*best || tws[k].amp < tMinAmp/2 {
			continue
		}
		if e := trapeziumEnd(l, iso[k], tws[k].peak, endMax, fs); e > 0 {
			ends = append(ends, e)
		}
		if e := tangentEnd(l, iso[k], tws[k].peak, min(endMax, tws[k].peak+ms(120)), fs); e > 0 && e <= endMax {
			tangents = append(tangents, e)
		}
	}
	if len(ends) == 0 {
		return tws[bestK].peak, -1, "T wave does not return to baseline before the next beat"
	}
	if len(ends) == 1 {
		// The global end is the latest that two leads agree on; one lead
		// (a 1- or 2-lead strip, or one clear T in twelve) cannot show it.
		return tws[bestK].peak, -1, "T end located in one lead only: a global QT needs two"
	}
	slices.Sort(ends)
	if n := len(ends); n >= 4 {
		iqr := float64(ends[(3*n)/4]-ends[n/4]) * 1000 / fs
		if iqr > tMaxSpreadMS {
			return tws[bestK].peak, -1, fmt.Sprintf("T end differs by %.0f ms between leads (T–U fusion or noise)", iqr)
		}
	}
	// The second latest end: the latest that two leads agree on, so one
	// lead's U wave or noise does not lengthen the QT.
	end = ends[max(0, len(ends)-2)]
	// A second, independent locator (the tangent at the steepest descent
	// meeting the PR level) must agree: when the two disagree the T wave
	// has no clear end (a slow tail, a U wave, a notched T).
	if len(tangents) > 0 {
		slices.Sort(tangents)
		tg := tangents[max(0, len(tangents)-2)]
		d := math.Abs(float64(end-tg)) * 1000 / fs
		if d > tMaxMethodMS {
			return tws[bestK].peak, -1, fmt.Sprintf("T end ambiguous: two locators disagree by %.0f ms", d)
		}
	}
	return tws[bestK].peak, end, ""
}

// trapeziumEnd is the trapezium-area T-end locator: xm is the steepest
// point of the descending limb after the peak, xr a point surely past the
// T end; the end is the xi in [xm, xr] maximising the area of the
// trapezium (xm, l[xm]) (xi, l[xi]) (xr, l[xi]) (xr, l[xm]). It needs no
// baseline level and is insensitive to a slow return to baseline.
func trapeziumEnd(l []float64, iso float64, peak, limit int, fs float64) int {
	sign := 1.0
	if l[peak] < iso {
		sign = -1
	}
	if limit >= len(l)-1 {
		limit = len(l) - 2
	}
	xm, best := -1, 0.0
	// The steepest descent belongs to the T wave only close to its peak;
	// further on it could be a U wave or the next P.
	for i := peak + 1; i < min(limit, peak+int(0.12*fs)); i++ {
		d := -sign * (l[i+1] - l[i-1]) / 2 // descending towards baseline is positive
		if d > best {
			best, xm = d, i
		}
	}
	if xm < 0 {
		return -1
	}
	xr := min(limit, xm+int(0.15*fs))
	if xr <= xm+1 {
		return -1
	}
	bi, ba := -1, 0.0
	for xi := xm + 1; xi <= xr; xi++ {
		a := sign * (l[xm] - l[xi]) * float64(2*xr-xi-xm)
		if a > ba {
			bi, ba = xi, a
		}
	}
	return bi
}

// tangentEnd: the T end is where the tangent at the steepest point of the
// descending limb (between the peak and limit) meets the isoelectric level.
func tangentEnd(l []float64, iso float64, peak, limit int, fs float64) int {
	sign := 1.0
	if l[peak] < iso {
		sign = -1
	}
	best, bi := 0.0, -1
	for i := peak + 1; i < limit; i++ {
		d := -sign * (l[i+1] - l[i-1]) / 2
		if d > best {
			best, bi = d, i
		}
	}
	if bi < 0 || best <= 0 {
		return -1
	}
	x := float64(bi) + (l[bi]-iso)*sign/best
	if x < float64(bi) || x > float64(len(l)-1) {
		return -1
	}
	return int(math.Round(x))
}

// pWave: combined RMS deviation from a linear baseline joining the TP
// level (300 ms before QRS onset) and the PR level, so atrial
// repolarisation shifting the PR segment does not hide the P onset.
func pWave(ls [][]float64, iso []float64, qrsOn int, fs float64) (on, pk, off int) {
	ms := func(v float64) int { return int(math.Round(v * fs / 1000)) }
	m := len(ls[0])
	pLo, pHi := max(0, qrsOn-ms(300)), qrsOn-ms(20)
	if pHi-pLo <= ms(60) {
		return -1, -1, -1
	}
	tp := make([]float64, len(ls))
	for k, l := range ls {
		tp[k] = mean(l[pLo:min(pLo+ms(10)+1, pHi)])
	}
	span := float64(qrsOn - ms(13) - pLo)
	e := make([]float64, m)
	for i := pLo; i < qrsOn; i++ {
		fr := math.Min(1, float64(i-pLo)/span)
		s := 0.0
		for k, l := range ls {
			d := l[i] - (tp[k] + fr*(iso[k]-tp[k]))
			s += d * d
		}
		e[i] = math.Sqrt(s / float64(len(ls)))
	}
	pk = pLo
	for i := pLo; i < pHi; i++ {
		if e[i] > e[pk] {
			pk = i
		}
	}
	if e[pk] < 20 || pk <= pLo+ms(20) || pk >= pHi-ms(10) {
		return -1, -1, -1
	}
	on, off = -1, -1
	for i := pk; i > pLo; i-- {
		if e[i] < pOnFrac*e[pk] {
			on = i
			break
		}
	}
	for i := pk; i < qrsOn; i++ {
		if e[i] < pOffFrac*e[pk] {
			off = i
			break
		}
	}
	if on > 0 && off > 0 && off-on >= ms(40) && off-on <= ms(180) {
		return on, pk, off
	}
	return -1, -1, -1
}

// percentile returns the p-quantile (0..1) of x without modifying it.
func percentile(x []float64, p float64) float64 {
	if len(x) == 0 {
		return 0
	}
	s := slices.Clone(x)
	slices.Sort(s)
	return s[min(len(s)-1, int(p*float64(len(s))))]
}

// perLeadQRS delineates the QRS in every lead with a clear QRS (its peak
// slope at least a fifth of the largest) against that lead's own slope,
// and returns the second earliest onset and second latest offset: the
// global boundary that at least two leads show.
func perLeadQRS(ls [][]float64, fid int, fs float64) (int, int) {
	ms := func(v float64) int { return int(math.Round(v * fs / 1000)) }
	m := len(ls[0])
	hold := max(1, ms(8))
	lo, hi := max(1, fid-ms(60)), min(m-1, fid+ms(60))
	type lead struct {
		s   []float64
		max float64
	}
	var leads []lead
	best := 0.0
	for _, l := range ls {
		sl := make([]float64, m)
		for i := 1; i < m-1; i++ {
			sl[i] = math.Abs(l[i+1]-l[i-1]) / 2
		}
		sl = smooth(sl, max(1, ms(8)))
		mx := slices.Max(sl[lo:hi])
		leads = append(leads, lead{sl, mx})
		best = math.Max(best, mx)
	}
	var ons, offs []int
	for _, ld := range leads {
		if ld.max < 0.2*best || ld.max <= 0 {
			continue
		}
		floor := percentile(ld.s, 0.2)
		thrOn := floor + qrsLeadOnFrac*(ld.max-floor)
		thrOff := floor + qrsLeadOffFrac*(ld.max-floor)
		for i := fid; i >= max(hold, fid-ms(qrsMaxMS)); i-- {
			if below(ld.s[i-hold:i+1], thrOn) {
				ons = append(ons, i)
				break
			}
		}
		for i := fid; i+hold < min(m, fid+ms(qrsMaxMS)); i++ {
			if below(ld.s[i:i+hold+1], thrOff) {
				offs = append(offs, i)
				break
			}
		}
	}
	if len(ons) < 2 || len(offs) < 2 {
		return -1, -1
	}
	slices.Sort(ons)
	slices.Sort(offs)
	return ons[1], offs[len(offs)-2]
}
