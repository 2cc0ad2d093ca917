// Package analysis runs Huren's whole ECG pipeline on a Record: lead
// completion, filtering, signal quality first, QRS detection, median beat,
// measurements, rhythm labels and critical-value rules, and compares the
// result with the measurements the acquiring device stored in the file.
//
// Analyze is a pure function of its inputs; it is safe for concurrent use
// with distinct or shared (read-only) Records and rule tables.
package analysis

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/huren-health/huren/ecg"
	"github.com/huren-health/huren/ecg/dsp"
	"github.com/huren-health/huren/ecg/measure"
	"github.com/huren-health/huren/ecg/qrs"
	"github.com/huren-health/huren/ecg/rules"
)

// Options tune the pipeline. The zero value means: default filters (50 Hz
// notch), default rule table.
type Options struct {
	Filter *dsp.Options
	Rules  *rules.Table
}

// Quality is the verdict on the whole recording.
type Quality struct {
	Good    bool                  `json:"good"`
	Summary string                `json:"summary"`
	Leads   []measure.LeadQuality `json:"leads"`
	// Windows is the verdict per 10 s stretch (one window for a resting
	// ECG): good when every analysed lead is good there, poor when no lead
	// is usable (the stretch is left out: no beats, no measurement),
	// usable otherwise.
	Windows []WindowVerdict `json:"windows,omitempty"`
	// AnalysedS is the duration of the stretches that were analysed.
	AnalysedS float64 `json:"analysed_s"`
}

// WindowVerdict is the record-level verdict on one window.
type WindowVerdict struct {
	StartS    float64  `json:"start_s"`
	EndS      float64  `json:"end_s"`
	Verdict   string   `json:"verdict"`
	PoorLeads []string `json:"poor_leads,omitempty"`
	// Agreement is the best beat-by-beat agreement between two analysed
	// detection leads in the window (matched / (n₁ + n₂ − matched), the
	// bSQI of Li, Mark & Clifford 2008); nil with fewer than two.
	Agreement *float64 `json:"lead_agreement,omitempty"`
	Problems  []string `json:"problems,omitempty"`
}

// minAgreement: below it the analysed leads tell different beat stories
// (noise or T waves taken for beats in one of them); with noise in the
// window it is then poor.
const minAgreement = 0.8

// Comparison puts a device-made measurement next to Huren's.
type Comparison struct {
	Name   string   `json:"name"`
	Device float64  `json:"device"`
	Huren  *float64 `json:"huren"`
	Diff   *float64 `json:"diff,omitempty"`
	Unit   string   `json:"unit,omitempty"`
}

// Analysis is the result, serialised as ecg/{id}/analysis.json and returned
// by the CLI's --json and POST /api/ecg.
type Analysis struct {
	ID        string      `json:"id,omitempty"`
	Format    ecg.Format  `json:"format"`
	FS        float64     `json:"fs"`
	Samples   int         `json:"samples"`
	DurationS float64     `json:"duration_s"`
	Leads     []string    `json:"leads"`
	Derived   []string    `json:"derived_leads,omitempty"`
	Acquired  *time.Time  `json:"acquired,omitempty"`
	Device    string      `json:"device,omitempty"`
	Patient   ecg.Patient `json:"patient"`

	// Interpretable is false when the recording cannot support a
	// diagnosis; Reasons say why and RepeatECG asks for a new recording.
	Interpretable bool     `json:"interpretable"`
	RepeatECG     bool     `json:"repeat_ecg"`
	Reasons       []string `json:"reasons,omitempty"`
	Quality       Quality  `json:"quality"`

	BeatLead     string               `json:"beat_lead,omitempty"`
	Beats        []int                `json:"beats"`
	Measurements measure.Measurements `json:"measurements"`
	Flags        []rules.Flag         `json:"flags"`
	Critical     bool                 `json:"critical"`
	Filter       dsp.Options          `json:"filter"`
	// STFilter describes the measurement chain (median beat, intervals,
	// ST) and the stored Clean traces when it differs from Filter, which
	// then only served detection and quality.
	STFilter    string `json:"measurement_filter,omitempty"`
	RuleTable   string `json:"rule_table"`
	RuleVersion string `json:"rule_table_version"`

	DeviceStatements []string     `json:"device_statements,omitempty"`
	DeviceCompare    []Comparison `json:"device_comparison,omitempty"`
	Notes            []string     `json:"notes,omitempty"`

	// For rendering: the filtered leads (same order as Leads) and the
	// median beats. Not serialised.
	Clean    [][]float64       `json:"-"`
	Template *measure.Template `json:"-"`
}

// maxDetectLeads bounds the leads QRS detection runs on (the preferred
// rhythm leads first): eight leads give the consensus enough votes.
const maxDetectLeads = 8

// MinSeconds is the shortest recording Huren will interpret.
const MinSeconds = 4.0

// preferred rhythm leads, in order, for QRS detection tie-breaks.
var preferred = []string{"II", "MLII", "V5", "I", "V2", "aVF", "V1"}

// Analyze runs the pipeline. It returns an error only when the record itself
// is invalid (ecg.ErrInvalid etc.); a poor recording is a successful
// Analysis with Interpretable == false.
func Analyze(rec *ecg.Record, opts Options) (*Analysis, error) {
	if err := rec.Validate(); err != nil {
		return nil, err
	}
	fo := dsp.DefaultOptions()
	if opts.Filter != nil {
		fo = *opts.Filter
	}
	table := opts.Rules
	if table == nil {
		table = rules.Default()
	}
	a := &Analysis{
		Format: rec.Format, FS: rec.FS, Samples: rec.Len(),
		DurationS: float64(rec.Len()) / rec.FS, Device: rec.Device, Patient: rec.Patient,
		RuleTable: table.Name, RuleVersion: table.Version,
		DeviceStatements: rec.DeviceStatements, Notes: slices.Clone(rec.Notes),
		Beats: []int{}, Flags: []rules.Flag{}, Filter: fo,
	}
	if !rec.Acquired.IsZero() {
		t := rec.Acquired
		a.Acquired = &t
	}
	leads := completeLeads(rec, a)
	raw := make([][]float64, len(leads))
	a.Clean = make([][]float64, len(leads))
	for i, l := range leads {
		a.Leads = append(a.Leads, l.Name)
		raw[i] = l.Samples
		a.Clean[i] = dsp.Clean(l.Samples, rec.FS, fo)
	}
	// Signal quality first: what makes a whole lead unreadable.
	usable := make([]bool, len(leads))
	nGood := 0
	for i, l := range leads {
		q := measure.AssessLead(l.Name, raw[i], a.Clean[i], rec.FS, fo.MainsHz)
		a.Quality.Leads = append(a.Quality.Leads, q)
		usable[i] = q.Good
		if q.Good {
			nGood++
		}
	}
	if a.DurationS < MinSeconds {
		a.notInterpretable(fmt.Sprintf("recording too short: %.2f s (need ≥ %.0f s)", a.DurationS, MinSeconds))
	}
	if nGood == 0 {
		a.Quality.Good, a.Quality.Summary = overall(a.Quality.Leads)
		a.notInterpretable("poor signal quality: " + a.Quality.Summary)
		a.Measurements.Rhythm = []measure.Label{}
		return a, nil
	}
	// QRS detection on each usable lead (preferred rhythm leads first),
	// then every lead is judged window by window with its own beats; a
	// lead poor throughout is dropped.
	order := detectionOrder(leads, usable)
	if len(order) > maxDetectLeads {
		order = order[:maxDetectLeads]
	}
	perLead := make([][]int, len(order))
	for k, i := range order {
		perLead[k] = qrs.Detect(a.Clean[i], rec.FS)
		measure.AssessWindows(&a.Quality.Leads[i], a.Clean[i], perLead[k], rec.FS)
		if !a.Quality.Leads[i].Good {
			usable[i], perLead[k] = false, nil
		}
	}
	which := qrs.Best(perLead, rec.FS)
	var consensus []int
	if which >= 0 {
		consensus = perLead[which]
	}
	for i := range leads {
		if !slices.Contains(order, i) {
			measure.AssessWindows(&a.Quality.Leads[i], a.Clean[i], consensus, rec.FS)
			usable[i] = a.Quality.Leads[i].Good
		}
	}
	a.Quality.Good, a.Quality.Summary = overall(a.Quality.Leads)
	stretches := a.windowVerdicts(rec.FS, order, perLead)
	if !a.Quality.Good {
		a.notInterpretable("poor signal quality: " + a.Quality.Summary)
	} else if len(stretches) == 0 {
		a.notInterpretable("poor signal quality throughout: repeat the ECG")
	}
	beats := fillGaps(windowBeats(a.Quality.Leads, order, perLead, which, rec.FS), perLead, rec.FS)
	if which >= 0 {
		a.BeatLead = leads[order[which]].Name
	}
	// Beats are reported for the analysed stretches only.
	beats = inStretches(beats, stretches)
	if beats == nil {
		beats = []int{}
	}
	a.Beats = beats
	rr := stretchRates(beats, stretches, rec.FS)
	if a.DurationS >= MinSeconds && len(stretches) > 0 {
		switch {
		case len(beats) < 2:
			a.notInterpretable("no QRS complexes detected")
		case rr.HR > 300:
			a.notInterpretable(fmt.Sprintf("implausible rate %.0f bpm: detections are noise", rr.HR))
		}
	}
	ref := 0
	if which >= 0 {
		ref = order[which]
	}
	tb := spread(beats, maxTemplateBeats)
	a.Template = measure.MedianBeat(a.Clean, usable, tb, rec.FS, ref)
	// Measure (and display) on the diagnostic chain: the detection
	// filter's 0.5 Hz high-pass distorts the ST segment (see
	// dsp.DiagnosticHighPassHz).
	if meas := measure.DiagnosticLeads(raw, beats, a.Template, rec.FS, fo); meas != nil {
		a.Clean = meas
		a.STFilter = fmt.Sprintf("%g Hz zero-phase high-pass + beat-synchronous spline baseline through the PR segments", dsp.DiagnosticOptions(fo).HighPassHz)
		a.Template = measure.MedianBeat(meas, usable, tb, rec.FS, ref)
	}
	a.Measurements = measure.Measure(a.Template, a.Leads, rr)
	if len(leads) < 3 {
		a.Notes = append(a.Notes, fmt.Sprintf("%d-lead recording: axis and ST analysis need the 12-lead set", len(leads)))
	}
	a.compareDevice(rec)
	if rec.FS < 250 {
		a.Notes = append(a.Notes, fmt.Sprintf("sampled at %g Hz: below the 250 Hz needed for reliable interval measurement", rec.FS))
	}
	timingSuspect := ""
	for _, c := range a.DeviceCompare {
		if strings.EqualFold(c.Name, "Heart Rate") && c.Huren != nil && c.Device > 0 && math.Abs(*c.Huren-c.Device) > 0.2*c.Device {
			a.Notes = append(a.Notes, fmt.Sprintf("the device reports HR %.0f bpm but the stored waveform shows %.0f bpm: check the recording", c.Device, *c.Huren))
			timingSuspect = fmt.Sprintf("the device's own heart rate (%.0f bpm) contradicts the stored waveform's (%.0f bpm): the file's timing or sampling rate is suspect, not critical until checked", c.Device, *c.Huren)
		}
	}
	if !a.Interpretable {
		// A poor recording gets no rhythm statement and no critical flag.
		a.Measurements.Rhythm = []measure.Label{}
		return a, nil
	}
	a.Flags = table.Evaluate(a.facts(usable))
	if a.Flags == nil {
		a.Flags = []rules.Flag{}
	}
	for i, f := range a.Flags {
		if f.Tier == rules.Critical && timingSuspect != "" {
			// Nobody is paged on intervals the file itself disowns.
			a.Flags[i].Tier = rules.Major
			a.Flags[i].Evidence += "; " + timingSuspect
			continue
		}
		if f.Tier == rules.Critical {
			a.Critical = true
		}
	}
	return a, nil
}

func (a *Analysis) notInterpretable(reason string) {
	a.Interpretable = false
	a.RepeatECG = true
	a.Reasons = append(a.Reasons, reason)
}

// overall is the lead-level verdict. A 12-lead-style recording (8 leads or
// more) needs most leads for axis and ST analysis: more than a quarter
// unusable means repeating it. A recording with fewer leads (a Holter or
// monitoring strip) is analysed as long as one lead is usable, and says
// which leads were left out.
func overall(ls []measure.LeadQuality) (bool, string) {
	var bad, remarks []string
	for _, l := range ls {
		if !l.Good {
			bad = append(bad, fmt.Sprintf("%s (%s)", l.Lead, strings.Join(l.Problems, ", ")))
		} else if len(l.Problems) > 0 {
			remarks = append(remarks, fmt.Sprintf("%s (%s)", l.Lead, strings.Join(l.Problems, ", ")))
		}
	}
	n := len(ls)
	note := ""
	if len(remarks) > 0 {
		note = "; remarks: " + strings.Join(remarks, "; ")
	}
	switch {
	case len(bad) == 0 && len(remarks) == 0:
		return true, "all leads acceptable"
	case len(bad) == 0:
		return true, "acceptable" + note
	case len(bad) == n || (n >= 8 && len(bad)*4 > n):
		return false, "repeat the ECG — " + strings.Join(bad, "; ")
	default:
		return true, "acceptable; excluded from analysis: " + strings.Join(bad, "; ") + note
	}
}

// windowBeats assembles the beat list window by window from the detection
// leads not poor there. The consensus lead is kept while at least half of
// the others agree with it; when they do not
// (one lead takes T waves or noise for beats, or misses a run of beats: MIT-BIH
// NST 118e06, MIT-BIH 116, 212, 214), the lead without a long gap, then
// with the better verdict, then with the least variable RR is taken. Where two
// leads meet at a window edge, a beat closer than 240 ms to the previous one
// is the same complex seen twice and dropped.
func windowBeats(qs []measure.LeadQuality, order []int, perLead [][]int, which int, fs float64) []int {
	if which < 0 {
		return nil
	}
	rank := func(v string) int {
		switch v {
		case measure.VerdictGood:
			return 0
		case measure.VerdictUsable:
			return 1
		}
		return 2
	}
	var out []int
	nw := len(qs[order[which]].Windows)
	for k := 0; k < nw; k++ {
		w := qs[order[which]].Windows[k]
		lo, hi := int(math.Round(w.StartS*fs)), int(math.Round(w.EndS*fs))
		var cands []int
		for j, i := range order {
			if perLead[j] != nil && k < len(qs[i].Windows) && rank(qs[i].Windows[k].Verdict) < 2 {
				cands = append(cands, j)
			}
		}
		best := -1
		if slices.Contains(cands, which) {
			// Kept while at least half of the other leads agree with it
			// (one odd lead of a 12-lead set does not overrule seven).
			ref := inStretches(perLead[which], [][2]int{{lo, hi}})
			agree := 0
			for _, j := range cands {
				if j != which && agreement(ref, inStretches(perLead[j], [][2]int{{lo, hi}}), fs) >= minAgreement {
					agree++
				}
			}
			if 2*agree >= len(cands)-1 {
				best = which
			}
		}
		if best < 0 {
			// The leads disagree. A run of missed beats shows as a long
			// RR, T waves or noise taken for beats as variable RR: take the
			// lead without a gap 1.5× longer than another's, then the
			// better verdict, then the least variable RR. Context of 2 s
			// before the window so a gap at its start counts.
			type score struct {
				long, cv float64
				rank     int
			}
			var bs score
			for _, j := range cands {
				b := inStretches(perLead[j], [][2]int{{lo - int(2*fs), hi}})
				sc := score{longestRR(b, lo-int(2*fs), hi), rrVariation(b), rank(qs[order[j]].Windows[k].Verdict)}
				switch {
				case best < 0, sc.long*1.5 < bs.long:
				case sc.long > 1.5*bs.long:
					continue
				case sc.rank < bs.rank, sc.rank == bs.rank && sc.cv < bs.cv:
				default:
					continue
				}
				best, bs = j, sc
			}
		}
		if best < 0 {
			continue
		}
		for _, b := range perLead[best] {
			if b < lo || b >= hi {
				continue
			}
			if n := len(out); n > 0 && b-out[n-1] < int(0.24*fs) {
				continue
			}
			out = append(out, b)
		}
	}
	return out
}

// fillGaps guards the pause flag: a gap in the beat list longer than 2 s
// and 1.8 median RRs is filled from another detection lead (even one rated
// poor in that window, e.g. for muscle noise) when that lead's detections in
// the gap continue the rhythm: every interval from the beat before the gap
// within 0.6–1.5 median RRs, and the last one at most 1.5 median RRs before
// the beat that ends the gap (which may itself be an artefact of the lead
// that went silent). Noise or a real pause does not fill a gap that regularly; a
// lead that missed a run of beats (MIT-BIH 212: V1 silent for 4 s while MLII,
// noisy there, kept counting) does.
func fillGaps(beats []int, perLead [][]int, fs float64) []int {
	if len(beats) < 3 {
		return beats
	}
	rr := make([]float64, len(beats)-1)
	for i := range rr {
		rr[i] = float64(beats[i+1] - beats[i])
	}
	slices.Sort(rr)
	med := rr[len(rr)/2]
	limit := max(2*fs, 1.8*med)
	edge := int(0.24 * fs)
	out := make([]int, 0, len(beats))
	out = append(out, beats[0])
	for i := 1; i < len(beats); i++ {
		a, b := beats[i-1], beats[i]
		if float64(b-a) > limit {
			for _, det := range perLead {
				fill := inStretches(det, [][2]int{{a + edge, b - edge + 1}})
				if len(fill) == 0 {
					continue
				}
				seq := append([]int{a}, fill...)
				ok := float64(b-fill[len(fill)-1]) <= 1.5*med
				for k := 1; k < len(seq) && ok; k++ {
					if d := float64(seq[k] - seq[k-1]); d < 0.6*med || d > 1.5*med {
						ok = false
					}
				}
				if ok {
					out = append(out, fill...)
					break
				}
			}
		}
		out = append(out, b)
	}
	return out
}

// longestRR is the longest interval between beats in [lo, hi), counting the
// stretches before the first and after the last beat.
func longestRR(beats []int, lo, hi int) float64 {
	prev, long := lo, 0
	for _, b := range beats {
		long = max(long, b-prev)
		prev = b
	}
	return float64(max(long, hi-prev))
}

// rrVariation is the coefficient of variation of the RR intervals of beats
// (+Inf with fewer than two intervals).
func rrVariation(beats []int) float64 {
	if len(beats) < 3 {
		return math.Inf(1)
	}
	var s, ss float64
	n := float64(len(beats) - 1)
	for i := 1; i < len(beats); i++ {
		d := float64(beats[i] - beats[i-1])
		s += d
		ss += d * d
	}
	m := s / n
	return math.Sqrt(max(0, ss/n-m*m)) / m
}

// windowVerdicts fills a.Quality.Windows from the per-lead windows and
// returns the analysed stretches (sample ranges, adjacent windows merged).
func (a *Analysis) windowVerdicts(fs float64, order []int, perLead [][]int) [][2]int {
	wins := measure.Windows(a.Samples, fs)
	var out [][2]int
	for k, w := range wins {
		var dets [][]int
		for j, i := range order {
			if q := a.Quality.Leads[i]; perLead[j] != nil && k < len(q.Windows) && q.Windows[k].Verdict != measure.VerdictPoor {
				dets = append(dets, inStretches(perLead[j], [][2]int{w}))
			}
		}
		v := WindowVerdict{StartS: float64(w[0]) / fs, EndS: float64(w[1]) / fs, Verdict: measure.VerdictGood}
		analysed := 0
		for _, q := range a.Quality.Leads {
			if !q.Good || k >= len(q.Windows) {
				continue // excluded leads are reported at the lead level
			}
			switch q.Windows[k].Verdict {
			case measure.VerdictPoor:
				v.PoorLeads = append(v.PoorLeads, q.Lead)
			case measure.VerdictUsable:
				analysed++
				v.Verdict = measure.VerdictUsable
			default:
				analysed++
			}
		}
		if len(dets) >= 2 {
			best := 0.0
			for x := range dets {
				for y := x + 1; y < len(dets); y++ {
					best = max(best, agreement(dets[x], dets[y], fs))
				}
			}
			v.Agreement = &best
			if best < minAgreement {
				v.Problems = append(v.Problems, "leads_disagree")
				// With noise in the window the beat list cannot be
				// trusted; between clean leads the disagreement is the
				// detector's (e.g. paced complexes, MIT-BIH 102) and the
				// consensus lead's beats stand.
				if v.Verdict != measure.VerdictGood {
					analysed = 0
				} else {
					v.Verdict = measure.VerdictUsable
				}
			}
		}
		if analysed == 0 {
			v.Verdict = measure.VerdictPoor
		} else if len(v.PoorLeads) > 0 {
			v.Verdict = measure.VerdictUsable
		}
		a.Quality.Windows = append(a.Quality.Windows, v)
		if analysed == 0 {
			continue
		}
		a.Quality.AnalysedS += v.EndS - v.StartS
		if n := len(out); n > 0 && out[n-1][1] == w[0] {
			out[n-1][1] = w[1]
		} else {
			out = append(out, w)
		}
	}
	if len(out) < len(wins) && len(out) > 0 {
		a.Notes = append(a.Notes, fmt.Sprintf("%.0f s of %.0f s analysed: poor-quality stretches left out (see quality.windows)", a.Quality.AnalysedS, a.DurationS))
	}
	return out
}

// agreement is matched / (n₁ + n₂ − matched) with the EC57 150 ms
// tolerance (the fiducial of a wide paced or ventricular complex can sit
// over 100 ms apart in two leads: MIT-BIH 102); 1 when both lists are
// empty.
func agreement(x, y []int, fs float64) float64 {
	if len(x)+len(y) == 0 {
		return 1
	}
	m := qrs.Compare(x, y, int(0.15*fs)).TP
	return float64(m) / float64(len(x)+len(y)-m)
}

// maxTemplateBeats bounds the beats the median beat is built from: a
// 30-minute Holter has 2,000 or more, and the median of an evenly spread
// 240 represents the dominant morphology as well at a tenth of the cost
// (the median beat was 90 % of the analysis time of an MIT-BIH record).
const maxTemplateBeats = 240

// spread returns at most n beats evenly spread over beats.
func spread(beats []int, n int) []int {
	if len(beats) <= n {
		return beats
	}
	out := make([]int, n)
	for k := range out {
		out[k] = beats[k*len(beats)/n]
	}
	return out
}

// inStretches keeps the beats inside the stretches.
func inStretches(beats []int, st [][2]int) []int {
	var out []int
	for _, b := range beats {
		for _, s := range st {
			if b >= s[0] && b < s[1] {
				out = append(out, b)
				break
			}
		}
	}
	return out
}

// stretchRates is measure.Rates over several stretches: no RR interval
// spans a left-out stretch (that gap is not a pause), and the statistics
// are pooled.
func stretchRates(beats []int, st [][2]int, fs float64) measure.RRStats {
	if len(st) <= 1 {
		return measure.Rates(beats, fs)
	}
	var parts []measure.RRStats
	for _, s := range st {
		parts = append(parts, measure.Rates(inStretches(beats, [][2]int{s}), fs))
	}
	out := measure.RRStats{Beats: len(beats)}
	var n, sumRR, irr float64
	for _, p := range parts {
		k := float64(p.Beats - 1)
		if k < 1 {
			continue
		}
		n += k
		sumRR += k * p.MeanRR
		if p.Beats > 2 {
			irr += float64(p.Beats-2) * p.Irregularity * p.MeanRR
		}
		if p.LongestRR > out.LongestRR {
			out.LongestRR, out.LongestRRAt = p.LongestRR, p.LongestRRAt
		}
		if out.HRMin == 0 || p.HRMin < out.HRMin {
			out.HRMin = p.HRMin
		}
		out.HRMax = max(out.HRMax, p.HRMax)
	}
	if n == 0 {
		return out
	}
	out.MeanRR = sumRR / n
	out.HR = 60000 / out.MeanRR
	v, diffs := 0.0, 0.0
	for _, p := range parts {
		if k := float64(p.Beats - 1); k >= 1 {
			v += k * (p.SDRR*p.SDRR + (p.MeanRR-out.MeanRR)*(p.MeanRR-out.MeanRR))
			diffs += max(0, k-1)
		}
	}
	out.SDRR = math.Sqrt(v / n)
	if diffs > 0 {
		out.Irregularity = irr / diffs / out.MeanRR
	}
	return out
}

// completeLeads returns the record's leads plus III, aVR, aVL, aVF derived
// from I and II when missing.
func completeLeads(rec *ecg.Record, a *Analysis) []ecg.Lead {
	a.Interpretable = true
	leads := slices.Clone(rec.Leads)
	I, II := rec.Lead("I"), rec.Lead("II")
	if I != nil && II != nil {
		have := map[string]bool{}
		for _, l := range leads {
			have[l.Name] = true
		}
		d := dsp.DeriveLimbLeads(I.Samples, II.Samples, have)
		for _, name := range []string{"III", "aVR", "aVL", "aVF"} {
			if x, ok := d[name]; ok {
				leads = append(leads, ecg.Lead{Name: name, Samples: x, Derived: true})
				a.Derived = append(a.Derived, name)
			}
		}
	}
	// Standard order when the set is the 12-lead set.
	slices.SortStableFunc(leads, func(x, y ecg.Lead) int { return stdIndex(x.Name) - stdIndex(y.Name) })
	return leads
}

func stdIndex(n string) int {
	if i := slices.Index(ecg.StandardLeads, n); i >= 0 {
		return i
	}
	return len(ecg.StandardLeads)
}

func detectionOrder(leads []ecg.Lead, usable []bool) []int {
	var order []int
	for _, p := range preferred {
		for i, l := range leads {
			if usable[i] && l.Name == p {
				order = append(order, i)
			}
		}
	}
	for i := range leads {
		if usable[i] && !slices.Contains(order, i) {
			order = append(order, i)
		}
	}
	return order
}

func (a *Analysis) facts(usable []bool) rules.Facts {
	m := a.Measurements
	f := rules.Facts{Values: map[string]float64{}, Sex: a.Patient.Sex, Age: a.Patient.AgeYears, QRSMS: math.NaN()}
	if m.RR.Beats >= 2 {
		f.Values["hr_bpm"] = m.RR.HR
		f.Values["hr_min_bpm"] = m.RR.HRMin
		f.Values["hr_max_bpm"] = m.RR.HRMax
		f.Values["rr_longest_ms"] = m.RR.LongestRR
		if m.RR.HRMax > 0 {
			f.Values["rr_shortest_ms"] = 60000 / m.RR.HRMax
		}
	}
	set := func(k string, p *float64) {
		if p != nil {
			f.Values[k] = *p
		}
	}
	set("qtc_bazett_ms", m.QTcB)
	set("qtc_fridericia_ms", m.QTcF)
	set("qt_ms", m.QT)
	set("qrs_ms", m.QRS)
	set("pr_ms", m.PR)
	if m.QRS != nil {
		f.QRSMS = *m.QRS
	}
	for _, l := range m.Rhythm {
		f.Labels = append(f.Labels, l.Code)
	}
	for _, s := range m.ST {
		i := slices.Index(a.Leads, s.Lead)
		if i >= 0 && usable[i] {
			f.ST = append(f.ST, rules.LeadST{Lead: s.Lead, J: s.J, J40: s.J40, J60: s.J60, J80: s.J80, R: s.R, S: s.S, Concave: s.Concave, Notch: s.Notch})
		}
	}
	return f
}

// compareDevice lines up device measurements with Huren's.
func (a *Analysis) compareDevice(rec *ecg.Record) {
	m := a.Measurements
	ours := map[string]*float64{
		"PR Interval": m.PR, "QRS Duration": m.QRS, "QT Interval": m.QT, "QTc Interval": m.QTcB,
		"QRS Axis": m.QRSAxis, "P Axis": m.PAxis, "T Axis": m.TAxis, "P Duration": m.PDur,
	}
	if m.RR.Beats >= 2 {
		hr, rr := math.Round(m.RR.HR), math.Round(m.RR.MeanRR)
		ours["Heart Rate"], ours["RR Interval"] = &hr, &rr
	}
	for _, d := range rec.DeviceMeasurements {
		var h *float64
		ok := false
		for k, v := range ours {
			if strings.EqualFold(k, d.Name) {
				h, ok = v, true
			}
		}
		if !ok {
			continue
		}
		c := Comparison{Name: d.Name, Device: d.Value, Huren: h, Unit: d.Unit}
		if h != nil && d.Value != 0 {
			diff := math.Round((*h-d.Value)*10) / 10
			c.Diff = &diff
		}
		a.DeviceCompare = append(a.DeviceCompare, c)
	}
}
