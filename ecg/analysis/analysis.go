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
}

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
	// Signal quality first.
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
	a.Quality.Good, a.Quality.Summary = overall(a.Quality.Leads)
	if a.DurationS < MinSeconds {
		a.notInterpretable(fmt.Sprintf("recording too short: %.2f s (need ≥ %.0f s)", a.DurationS, MinSeconds))
	}
	if !a.Quality.Good {
		a.notInterpretable("poor signal quality: " + a.Quality.Summary)
	}
	if nGood == 0 {
		a.Measurements.Rhythm = []measure.Label{}
		return a, nil
	}
	// QRS detection on usable leads, preferred rhythm leads first.
	order := detectionOrder(leads, usable)
	if len(order) > maxDetectLeads {
		order = order[:maxDetectLeads]
	}
	sig := make([][]float64, len(order))
	for k, i := range order {
		sig[k] = a.Clean[i]
	}
	beats, which := qrs.Consensus(sig, rec.FS)
	if which >= 0 {
		a.BeatLead = leads[order[which]].Name
	}
	if beats == nil {
		beats = []int{}
	}
	a.Beats = beats
	rr := measure.Rates(beats, rec.FS)
	if a.DurationS >= MinSeconds {
		switch {
		case len(beats) < 2:
			a.notInterpretable("no QRS complexes detected")
		case rr.HR > 300:
			a.notInterpretable(fmt.Sprintf("implausible rate %.0f bpm: detections are noise", rr.HR))
		}
	}
	ref := order[max(which, 0)]
	a.Template = measure.MedianBeat(a.Clean, usable, beats, rec.FS, ref)
	// Measure (and display) on the diagnostic chain: the detection
	// filter's 0.5 Hz high-pass distorts the ST segment (see
	// dsp.DiagnosticHighPassHz).
	if meas := measure.DiagnosticLeads(raw, beats, a.Template, rec.FS, fo); meas != nil {
		a.Clean = meas
		a.STFilter = fmt.Sprintf("%g Hz zero-phase high-pass + beat-synchronous spline baseline through the PR segments", dsp.DiagnosticOptions(fo).HighPassHz)
		a.Template = measure.MedianBeat(meas, usable, beats, rec.FS, ref)
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

// Interpretable starts true; notInterpretable clears it. Set in overall().
func overall(ls []measure.LeadQuality) (bool, string) {
	var bad []string
	for _, l := range ls {
		if !l.Good {
			bad = append(bad, fmt.Sprintf("%s (%s)", l.Lead, strings.Join(l.Problems, ", ")))
		}
	}
	n := len(ls)
	switch {
	case len(bad) == 0:
		return true, "all leads acceptable"
	case n <= 2 || len(bad)*4 > n:
		return false, "repeat the ECG — " + strings.Join(bad, "; ")
	default:
		return true, "acceptable; excluded from analysis: " + strings.Join(bad, "; ")
	}
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
