package measure

import (
	"fmt"
	"math"
	"slices"
)

// RRStats summarises the beat-to-beat intervals.
type RRStats struct {
	Beats        int     `json:"beats"`
	HR           float64 `json:"hr_bpm"`     // 60000 / mean RR
	HRMin        float64 `json:"hr_min_bpm"` // from the longest RR
	HRMax        float64 `json:"hr_max_bpm"` // from the shortest RR
	MeanRR       float64 `json:"rr_mean_ms"`
	SDRR         float64 `json:"rr_sd_ms"`
	LongestRR    float64 `json:"rr_longest_ms"`
	LongestRRAt  float64 `json:"rr_longest_at_s"` // time of the beat ending it
	Irregularity float64 `json:"irregularity"`    // mean |ΔRR| / mean RR
}

// LeadST is the ST deviation of one lead's median beat relative to the PR
// segment, in µV (100 µV = 1 mm at 10 mm/mV).
type LeadST struct {
	Lead string  `json:"lead"`
	J    float64 `json:"st_j_uv"`
	J40  float64 `json:"st_j40_uv"`
	J60  float64 `json:"st_j60_uv"`
	J80  float64 `json:"st_j80_uv"`
	// R and S are the largest deflections of the QRS above and below the
	// PR level (both ≥ 0), µV: the QRS polarity the STEMI safeguards need
	// (Sgarbossa concordance, ST/S ratio in LVH).
	R float64 `json:"r_uv"`
	S float64 `json:"s_uv"`
	// Concave: the ST segment sags below the chord from J to J+80 ms
	// (concave upward, the "smile" of early repolarisation and
	// pericarditis; STEMI is straight or convex).
	Concave bool `json:"st_concave,omitempty"`
	// Notch: a notch (terminal positive deflection) on the downstroke of a
	// dominant R wave at the end of the QRS — the J wave of the early
	// repolarisation pattern.
	Notch bool `json:"j_notch,omitempty"`
}

// Label is one rhythm statement, with the numbers that justify it.
type Label struct {
	Code string `json:"code"`
	Text string `json:"text"`
	Why  string `json:"why"`
}

// Measurements are the global values. Pointers are nil when the value could
// not be measured (no P wave, no T end, too few leads for an axis).
type Measurements struct {
	RR   RRStats  `json:"rr"`
	PR   *float64 `json:"pr_ms"`
	PDur *float64 `json:"p_ms"`
	QRS  *float64 `json:"qrs_ms"`
	QT   *float64 `json:"qt_ms"`
	// QTNotMeasurable says why QT (and so QTc) was not reported when the
	// T wave end cannot be located reliably (flat T, T merged with U or
	// the next P, fibrillatory baseline). Empty when QT was measured.
	QTNotMeasurable string    `json:"qt_not_measurable,omitempty"`
	QTcB            *float64  `json:"qtc_bazett_ms"`
	QTcF            *float64  `json:"qtc_fridericia_ms"`
	PAxis           *float64  `json:"p_axis_deg"`
	QRSAxis         *float64  `json:"qrs_axis_deg"`
	TAxis           *float64  `json:"t_axis_deg"`
	ST              []LeadST  `json:"st"`
	Rhythm          []Label   `json:"rhythm"`
	Fid             Fiducials `json:"-"`
	// Wave boundaries on the median beat, ms relative to the QRS
	// fiducial (negative = before it); nil when not found.
	Waves *Waves `json:"median_beat,omitempty"`
}

// Waves are the median-beat fiducials in milliseconds from the QRS fiducial.
type Waves struct {
	POn    *float64 `json:"p_on_ms"`
	POff   *float64 `json:"p_off_ms"`
	QRSOn  *float64 `json:"qrs_on_ms"`
	QRSOff *float64 `json:"qrs_off_ms"`
	TPeak  *float64 `json:"t_peak_ms"`
	TEnd   *float64 `json:"t_end_ms"`
	Beats  int      `json:"beats_averaged"`
}

// Rates computes RR statistics from beat sample indices.
func Rates(beats []int, fs float64) RRStats {
	s := RRStats{Beats: len(beats)}
	rr := rrList(beats)
	if len(rr) == 0 {
		return s
	}
	for i := range rr {
		rr[i] *= 1000 / fs
	}
	s.MeanRR = mean(rr)
	s.HR = 60000 / s.MeanRR
	mx, mn := slices.Max(rr), slices.Min(rr)
	s.HRMin, s.HRMax = 60000/mx, 60000/mn
	s.LongestRR = mx
	s.LongestRRAt = float64(beats[slices.Index(rr, mx)+1]) / fs
	v := 0.0
	for _, x := range rr {
		v += (x - s.MeanRR) * (x - s.MeanRR)
	}
	s.SDRR = math.Sqrt(v / float64(len(rr)))
	if len(rr) > 1 {
		d := 0.0
		for i := 1; i < len(rr); i++ {
			d += math.Abs(rr[i] - rr[i-1])
		}
		s.Irregularity = d / float64(len(rr)-1) / s.MeanRR
	}
	return s
}

func ptr(v float64) *float64 { v = math.Round(v*10) / 10; return &v }

// Measure computes intervals, axes and ST from the template, and rhythm
// labels from the intervals and RR statistics. names index the template's
// leads.
func Measure(t *Template, names []string, rr RRStats) Measurements {
	m := Measurements{RR: rr}
	if t == nil {
		m.Rhythm = rhythm(m)
		return m
	}
	f := Delineate(t)
	// In atrial fibrillation the T wave of the averaged beat mixes
	// repolarisation after different RR intervals with fibrillatory waves:
	// its end is not a QT anyone should act on.
	if f.TEnd > 0 && irregularRR(rr) && f.POn < 0 {
		f.TEnd = -1
		f.TEndReason = fmt.Sprintf("irregular rhythm without P waves (RR irregularity %.2f): QT on an averaged beat is unreliable in atrial fibrillation", rr.Irregularity)
	}
	m.Fid = f
	toMS := 1000 / t.FS
	rel := func(i int) *float64 {
		if i < 0 {
			return nil
		}
		return ptr(float64(i-t.Fid) * toMS)
	}
	m.Waves = &Waves{POn: rel(f.POn), POff: rel(f.POff), QRSOn: rel(f.QRSOn), QRSOff: rel(f.QRSOff), TPeak: rel(f.TPeak), TEnd: rel(f.TEnd), Beats: len(t.Beats)}
	if f.QRSOn >= 0 && f.QRSOff > f.QRSOn {
		m.QRS = ptr(float64(f.QRSOff-f.QRSOn) * toMS)
	}
	if f.POn >= 0 && f.QRSOn > f.POn {
		m.PR = ptr(float64(f.QRSOn-f.POn) * toMS)
		m.PDur = ptr(float64(f.POff-f.POn) * toMS)
	}
	if f.QRSOn >= 0 && f.TEnd < 0 {
		m.QTNotMeasurable = f.TEndReason
	}
	if f.TEnd > f.QRSOn && f.QRSOn >= 0 {
		qt := float64(f.TEnd-f.QRSOn) * toMS
		m.QT = ptr(qt)
		if rr.MeanRR > 0 {
			r := rr.MeanRR / 1000
			m.QTcB = ptr(qt / math.Sqrt(r))
			m.QTcF = ptr(qt / math.Cbrt(r))
		}
	}
	idx := map[string]int{}
	for i, n := range names {
		if t.Leads[i] != nil {
			idx[n] = i
		}
	}
	ms := func(v float64) int { return int(math.Round(v * t.FS / 1000)) }
	// Per-lead PR-segment level.
	iso := func(l []float64) float64 {
		a, b := max(0, f.QRSOn-ms(20)), max(1, f.QRSOn-ms(6))
		return mean(l[a:b])
	}
	area := func(l []float64, a, b int) float64 {
		if a < 0 || b <= a || b > len(l) {
			return math.NaN()
		}
		z := iso(l)
		s := 0.0
		for _, v := range l[a:b] {
			s += v - z
		}
		return s
	}
	axis := func(a, b int) *float64 {
		iI, ok1 := idx["I"]
		iF, ok2 := idx["aVF"]
		if !ok1 || !ok2 {
			return nil
		}
		x, y := area(t.Leads[iI], a, b), area(t.Leads[iF], a, b)
		if math.IsNaN(x) || math.IsNaN(y) || (x == 0 && y == 0) {
			return nil
		}
		return ptr(math.Atan2(y, x) * 180 / math.Pi)
	}
	if f.QRSOn >= 0 && f.QRSOff > f.QRSOn {
		m.QRSAxis = axis(f.QRSOn, f.QRSOff)
		for i, n := range names {
			l := t.Leads[i]
			if l == nil {
				continue
			}
			m.ST = append(m.ST, leadST(n, l, iso(l), f, t.FS))
		}
	}
	if f.POn >= 0 {
		m.PAxis = axis(f.POn, f.POff+1)
	}
	if f.TEnd > 0 && f.QRSOff > 0 {
		m.TAxis = axis(f.QRSOff, f.TEnd)
	}
	m.Rhythm = rhythm(m)
	return m
}

// Rhythm label codes.
const (
	SinusRhythm  = "sinus_rhythm"
	SinusBrady   = "sinus_bradycardia"
	SinusTachy   = "sinus_tachycardia"
	Bradycardia  = "bradycardia"
	Tachycardia  = "tachycardia"
	IrregularAF  = "irregular_suggestive_of_af"
	Irregular    = "irregular_rhythm"
	Pause2s      = "pause_over_2s"
	Pause3s      = "pause_over_3s"
	WideComplexT = "wide_complex_tachycardia"
	WideQRS      = "wide_qrs"
	LongQTc      = "long_qtc"
)

// irregularRR: the RR intervals vary beat to beat and overall. It needs
// enough intervals to mean anything: 8 RRs.
func irregularRR(rr RRStats) bool {
	return rr.Beats >= 9 && rr.MeanRR > 0 && rr.Irregularity > 0.10 && rr.SDRR/rr.MeanRR > 0.08
}

func rhythm(m Measurements) []Label {
	var out []Label
	rr := m.RR
	if rr.Beats < 3 {
		return out
	}
	hasP := m.PR != nil && *m.PR >= 100 && *m.PR <= 300
	hr := rr.HR
	irregular := irregularRR(rr)
	wide := m.QRS != nil && *m.QRS >= 120
	switch {
	case irregular && !hasP:
		out = append(out, Label{IrregularAF, "irregularly irregular rhythm without P waves, suggestive of atrial fibrillation",
			fmt.Sprintf("RR irregularity %.2f, RR SD %.0f ms, no P wave on the median beat", rr.Irregularity, rr.SDRR)})
	case irregular:
		out = append(out, Label{Irregular, "irregular rhythm", fmt.Sprintf("RR irregularity %.2f, RR SD %.0f ms", rr.Irregularity, rr.SDRR)})
	case hasP && hr < 60:
		out = append(out, Label{SinusBrady, "sinus bradycardia", fmt.Sprintf("HR %.0f bpm, P before each QRS, PR %.0f ms", hr, *m.PR)})
	case hasP && hr > 100:
		out = append(out, Label{SinusTachy, "sinus tachycardia", fmt.Sprintf("HR %.0f bpm, PR %.0f ms", hr, *m.PR)})
	case hasP:
		out = append(out, Label{SinusRhythm, "sinus rhythm", fmt.Sprintf("HR %.0f bpm, regular, PR %.0f ms", hr, *m.PR)})
	case hr < 60:
		out = append(out, Label{Bradycardia, "bradycardia (no clear P waves)", fmt.Sprintf("HR %.0f bpm", hr)})
	case hr > 100:
		out = append(out, Label{Tachycardia, "tachycardia (no clear P waves)", fmt.Sprintf("HR %.0f bpm", hr)})
	}
	if wide && hr > 100 {
		out = append(out, Label{WideComplexT, "wide-complex tachycardia", fmt.Sprintf("HR %.0f bpm with QRS %.0f ms", hr, *m.QRS)})
	} else if wide {
		out = append(out, Label{WideQRS, "wide QRS (conduction delay / bundle branch block pattern)", fmt.Sprintf("QRS %.0f ms", *m.QRS)})
	}
	if rr.LongestRR > 3000 {
		out = append(out, Label{Pause3s, "pause over 3 s", fmt.Sprintf("longest RR %.0f ms at %.1f s", rr.LongestRR, rr.LongestRRAt)})
	} else if rr.LongestRR > 2000 {
		out = append(out, Label{Pause2s, "pause over 2 s", fmt.Sprintf("longest RR %.0f ms at %.1f s", rr.LongestRR, rr.LongestRRAt)})
	}
	if m.QTcB != nil && *m.QTcB >= 480 {
		out = append(out, Label{LongQTc, "prolonged QTc", fmt.Sprintf("QTc (Bazett) %.0f ms", *m.QTcB)})
	}
	return out
}

// leadST measures one lead's ST segment and QRS polarity on its median
// beat; z is the lead's PR-segment level.
func leadST(name string, l []float64, z float64, f Fiducials, fs float64) LeadST {
	ms := func(v float64) int { return int(math.Round(v * fs / 1000)) }
	at := func(i int) float64 {
		if i < 0 || i >= len(l) {
			return math.NaN()
		}
		return math.Round(l[i] - z)
	}
	j := f.QRSOff
	st := LeadST{Lead: name, J: at(j), J40: at(j + ms(40)), J60: at(j + ms(60)), J80: at(j + ms(80))}
	for _, p := range []*float64{&st.J40, &st.J60, &st.J80} {
		if math.IsNaN(*p) {
			*p = 0
		}
	}
	rPeak := f.QRSOn
	for i := f.QRSOn; i <= f.QRSOff && i < len(l); i++ {
		if d := l[i] - z; d > st.R {
			st.R, rPeak = d, i
		}
		st.S = math.Max(st.S, z-l[i])
	}
	st.R, st.S = math.Round(st.R), math.Round(st.S)
	// Concave upward: the mid-point sags 20 µV (0.2 mm) below the chord.
	if j+ms(80) < len(l) {
		st.Concave = st.J40 < (st.J+st.J80)/2-20
	}
	// J notch: after the R peak of an R-dominant lead, the downstroke
	// turns up again by ≥ 50 µV above its local minimum while still above
	// the PR level, within the last part of the QRS (to J+10 ms).
	if st.R > 300 && st.R > st.S {
		lo := l[rPeak] - z
		for i := rPeak + 1; i <= min(len(l)-1, j+ms(10)); i++ {
			d := l[i] - z
			lo = math.Min(lo, d)
			if lo > 0 && d-lo >= 50 && i > rPeak+ms(10) {
				st.Notch = true
				break
			}
		}
	}
	return st
}
