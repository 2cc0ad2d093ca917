package eval

import (
	"fmt"
	"io"
	"math"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/huren-health/huren/ecg/analysis"
	"github.com/huren-health/huren/ecg/wfdb"
)

// Tolerances of IEC 60601-2-25 for global interval measurement on the
// CSE/calibration sets: |mean difference| and SD of the differences, ms.
// P duration has no IEC limit; it is reported for information.
var Tolerances = map[string][2]float64{
	"PR":  {10, 10},
	"QRS": {10, 10},
	"QT":  {25, 30},
}

// Result is Huren's output next to the reference for one record.
type Result struct {
	Ref         *RefRecord
	Set         string
	RefInt      Intervals // primary reference (SecondExtreme)
	RefAlt      map[Global]Intervals
	PDur        *float64
	PR          *float64
	QRS         *float64
	QT          *float64
	QTReason    string // why QT was not measured, when it was not
	HR          float64
	Critical    bool
	Flags       []string // rule ids of critical flags
	STEMI       bool     // the stemi rule fired at the critical tier
	STEMIReview bool     // it fired at the major tier (criteria met, mimic pattern)
	Err         error
	STJ         string // ST at J per lead (µV), for the STEMI-labelled records table
}

// RefCritical reports whether the record carries a finding the national
// consensus (心电图危急值 2017 中国专家共识) treats as critical, judged from
// the reference alone: a cardiologist's STEMI label, third-degree or
// high-degree AV block with a mean ventricular rate ≤ 35 bpm, or a QTc
// (Bazett, from the annotated boundaries) ≥ 550 ms.
func (r *Result) RefCritical() bool {
	if r.Ref.STEMI() {
		return true
	}
	if r.Ref.HasDiagnosis("III degree AV-block") && r.RefInt.RR > 0 && 60000/r.RefInt.RR <= 35 {
		return true
	}
	if !math.IsNaN(r.RefInt.QT) && r.RefInt.RR > 0 && r.RefInt.QT/math.Sqrt(r.RefInt.RR/1000) >= 550 {
		return true
	}
	return false
}

// Run analyses every LUDB record of dir with default options.
func Run(dir string) ([]Result, error) {
	ns, err := Records(dir)
	if err != nil {
		return nil, err
	}
	if len(ns) == 0 {
		return nil, fmt.Errorf("no LUDB records (*.hea) in %s", dir)
	}
	var out []Result
	for _, n := range ns {
		ref, err := LoadRef(dir, n)
		if err != nil {
			return nil, err
		}
		res := Result{Ref: ref, Set: SetOf(n), RefInt: ref.Intervals(SecondExtreme), RefAlt: map[Global]Intervals{}}
		for _, g := range []Global{Extreme, MedianLead} {
			res.RefAlt[g] = ref.Intervals(g)
		}
		rec, err := wfdb.Open(filepath.Join(dir, strconv.Itoa(n)))
		if err != nil {
			res.Err = err
			out = append(out, res)
			continue
		}
		// LUDB states age and sex in its own header convention; a cart
		// sends them with the ECG, so give them to the analysis.
		rec.Patient.AgeYears, rec.Patient.Sex = ref.Age, ref.Sex
		a, err := analysis.Analyze(rec, analysis.Options{})
		if err != nil {
			res.Err = err
			out = append(out, res)
			continue
		}
		m := a.Measurements
		res.PDur, res.PR, res.QRS, res.QT = m.PDur, m.PR, m.QRS, m.QT
		res.QTReason = m.QTNotMeasurable
		var sts []string
		for _, st := range m.ST {
			sts = append(sts, fmt.Sprintf("%s %+.0f", st.Lead, st.J))
		}
		res.STJ = strings.Join(sts, ", ")
		if res.QRS != nil {
			res.STJ = fmt.Sprintf("QRS %.0f ms; ", *res.QRS) + res.STJ
		}
		res.HR = m.RR.HR
		res.Critical = a.Critical
		for _, f := range a.Flags {
			if f.Tier == "critical" {
				res.Flags = append(res.Flags, f.RuleID)
			}
			if f.RuleID == "stemi" && f.Tier == "critical" {
				res.STEMI = true
			}
			if f.RuleID == "stemi" && f.Tier != "critical" {
				res.STEMIReview = true
			}
		}
		out = append(out, res)
	}
	return out, nil
}

// Stat is the difference statistic of one interval over a set.
type Stat struct {
	Name      string
	N         int // records with both values
	Missing   int // reference present, Huren did not measure
	Mean, SD  float64
	MeanAbs   float64
	Tolerance [2]float64
	HasTol    bool
}

// OK reports whether the statistic is within its IEC tolerance.
func (s Stat) OK() bool {
	return !s.HasTol || (s.N > 0 && math.Abs(s.Mean) <= s.Tolerance[0] && s.SD <= s.Tolerance[1])
}

// Stats computes Huren − reference statistics for the results of set ("" =
// all).
func Stats(rs []Result, set string, g Global) []Stat {
	ref := func(r *Result) Intervals {
		if g == SecondExtreme {
			return r.RefInt
		}
		return r.RefAlt[g]
	}
	get := []struct {
		name string
		h    func(*Result) *float64
		r    func(*Result) float64
	}{
		{"P duration", func(r *Result) *float64 { return r.PDur }, func(r *Result) float64 { return ref(r).PDur }},
		{"PR", func(r *Result) *float64 { return r.PR }, func(r *Result) float64 { return ref(r).PR }},
		{"QRS", func(r *Result) *float64 { return r.QRS }, func(r *Result) float64 { return ref(r).QRS }},
		{"QT", func(r *Result) *float64 { return r.QT }, func(r *Result) float64 { return ref(r).QT }},
	}
	var out []Stat
	for _, g := range get {
		s := Stat{Name: g.name}
		s.Tolerance, s.HasTol = Tolerances[g.name]
		var d []float64
		for i := range rs {
			r := &rs[i]
			if set != "" && r.Set != set || r.Err != nil {
				continue
			}
			ref := g.r(r)
			if math.IsNaN(ref) {
				continue
			}
			h := g.h(r)
			if h == nil {
				s.Missing++
				continue
			}
			d = append(d, *h-ref)
		}
		s.N = len(d)
		if s.N > 0 {
			for _, v := range d {
				s.Mean += v
				s.MeanAbs += math.Abs(v)
			}
			s.Mean /= float64(s.N)
			s.MeanAbs /= float64(s.N)
			for _, v := range d {
				s.SD += (v - s.Mean) * (v - s.Mean)
			}
			if s.N > 1 {
				s.SD = math.Sqrt(s.SD / float64(s.N-1))
			}
		}
		out = append(out, s)
	}
	return out
}

// Flags summarises the critical flags over a set.
type Flags struct {
	Records         int
	NonCritical     int      // records without a reference critical finding
	FalseCritical   int      // of those, flagged critical
	FalseList       []string // "N: rule,rule"
	TP, FN, FP, TN  int      // STEMI rule vs the STEMI label
	MissedSTEMI     []int
	ReviewSTEMI     []string // "N (labelled|not labelled)": stemi at the major tier
	FalseSTEMI      []int
	NotMeasurableQT int
}

// FalseRate is FalseCritical / NonCritical.
func (f Flags) FalseRate() float64 {
	if f.NonCritical == 0 {
		return 0
	}
	return float64(f.FalseCritical) / float64(f.NonCritical)
}

// FlagStats computes the flag summary for set ("" = all).
func FlagStats(rs []Result, set string) Flags {
	var f Flags
	for i := range rs {
		r := &rs[i]
		if set != "" && r.Set != set || r.Err != nil {
			continue
		}
		f.Records++
		if r.QT == nil {
			f.NotMeasurableQT++
		}
		if !r.RefCritical() {
			f.NonCritical++
			if r.Critical {
				f.FalseCritical++
				f.FalseList = append(f.FalseList, fmt.Sprintf("%d: %s", r.Ref.N, strings.Join(r.Flags, ",")))
			}
		}
		if r.STEMIReview {
			f.ReviewSTEMI = append(f.ReviewSTEMI, fmt.Sprintf("%d (%s)", r.Ref.N, map[bool]string{true: "labelled STEMI", false: "not labelled"}[r.Ref.STEMI()]))
		}
		switch truth := r.Ref.STEMI(); {
		case truth && r.STEMI:
			f.TP++
		case truth:
			f.FN++
			f.MissedSTEMI = append(f.MissedSTEMI, r.Ref.N)
		case r.STEMI:
			f.FP++
			f.FalseSTEMI = append(f.FalseSTEMI, r.Ref.N)
		default:
			f.TN++
		}
	}
	return f
}

// WriteReport prints the Markdown tables for the held-out set, the tuning
// set and all records.
func WriteReport(w io.Writer, rs []Result) error {
	var errs []string
	for _, r := range rs {
		if r.Err != nil {
			errs = append(errs, fmt.Sprintf("%d: %v", r.Ref.N, r.Err))
		}
	}
	p := func(format string, a ...any) { fmt.Fprintf(w, format, a...) }
	for _, set := range []string{HeldOut, Tuning, ""} {
		name := set
		if set == "" {
			name = "all (tuning + held-out)"
		}
		n := 0
		for _, r := range rs {
			if set == "" || r.Set == set {
				n++
			}
		}
		if n == 0 {
			continue
		}
		p("\n### LUDB %s: %d records\n\n", name, n)
		p("Interval differences Huren − cardiologists, ms. Reference per beat: %s over the 12 annotated leads; per record: median over the annotated beats.\n\n", SecondExtreme)
		p("| interval | records | not measured | mean diff | SD | mean abs | IEC 60601-2-25 (mean / SD) | within |\n|---|---:|---:|---:|---:|---:|---|---|\n")
		for _, s := range Stats(rs, set, SecondExtreme) {
			tol, ok := "—", "—"
			if s.HasTol {
				tol = fmt.Sprintf("±%.0f / %.0f", s.Tolerance[0], s.Tolerance[1])
				ok = map[bool]string{true: "yes", false: "**no**"}[s.OK()]
			}
			p("| %s | %d | %d | %+.1f | %.1f | %.1f | %s | %s |\n", s.Name, s.N, s.Missing, s.Mean, s.SD, s.MeanAbs, tol, ok)
		}
		p("\nThe same differences against the other two ways of making a global reference (for information, not tuned on):\n\n| interval | %s: mean / SD | %s: mean / SD |\n|---|---|---|\n", Extreme, MedianLead)
		ex, md := Stats(rs, set, Extreme), Stats(rs, set, MedianLead)
		for i := range ex {
			p("| %s | %+.1f / %.1f | %+.1f / %.1f |\n", ex[i].Name, ex[i].Mean, ex[i].SD, md[i].Mean, md[i].SD)
		}
		f := FlagStats(rs, set)
		p("\nCritical flags: %d of %d records without a critical finding flagged critical (false critical rate %.1f %%)", f.FalseCritical, f.NonCritical, 100*f.FalseRate())
		if len(f.FalseList) > 0 {
			p(": %s", strings.Join(f.FalseList, "; "))
		}
		p(". QT reported as not measurable on %d of %d records.\n\n", f.NotMeasurableQT, f.Records)
		p("STEMI rule vs the cardiologists' \"STEMI: <wall>\" label:\n\n| | labelled STEMI | not labelled |\n|---|---:|---:|\n| flagged | %d | %d |\n| not flagged | %d | %d |\n\n", f.TP, f.FP, f.FN, f.TN)
		se, sp := ratio(f.TP, f.TP+f.FN), ratio(f.TN, f.TN+f.FP)
		p("Sensitivity %s, specificity %s", se, sp)
		if len(f.MissedSTEMI) > 0 {
			p("; missed: %v", f.MissedSTEMI)
		}
		if len(f.FalseSTEMI) > 0 {
			p("; false STEMI: %v", f.FalseSTEMI)
		}
		p(". STEMI criteria met but demoted to review (major tier) as a mimic pattern: %d", len(f.ReviewSTEMI))
		if len(f.ReviewSTEMI) > 0 {
			p(" — %s", strings.Join(f.ReviewSTEMI, ", "))
		}
		p(".\n")
	}
	p("\nWhat Huren measured on the STEMI-labelled records (ST at the J point, µV; 100 µV = 1 mm):\n\n| record | set | diagnoses | measured |\n|---|---|---|---|\n")
	for _, r := range rs {
		if r.Ref.STEMI() && r.Err == nil {
			p("| %d | %s | %s | %s |\n", r.Ref.N, r.Set, strings.Join(r.Ref.Diagnoses, " "), r.STJ)
		}
	}
	if len(errs) > 0 {
		p("\nRecords that failed: %s\n", strings.Join(errs, "; "))
	}
	return nil
}

func ratio(a, b int) string {
	if b == 0 {
		return "n/a (0 records)"
	}
	return fmt.Sprintf("%d/%d = %.1f %%", a, b, 100*float64(a)/float64(b))
}

// PerRecord prints one line per record of set ("" = all): Huren −
// reference differences, ms (for tuning and debugging).
func PerRecord(w io.Writer, rs []Result, set string) {
	d := func(p *float64, ref float64) string {
		switch {
		case p == nil && math.IsNaN(ref):
			return "    ."
		case p == nil:
			return "  nil"
		case math.IsNaN(ref):
			return "  ref"
		}
		return fmt.Sprintf("%+5.0f", *p-ref)
	}
	for _, r := range rs {
		if set != "" && r.Set != set {
			continue
		}
		if r.Err != nil {
			fmt.Fprintf(w, "%3d %s error %v\n", r.Ref.N, r.Set, r.Err)
			continue
		}
		ri := r.RefInt
		fmt.Fprintf(w, "%3d HR %3.0f dP %s dPR %s dQRS %s (ref %3.0f) dQT %s (ref %3.0f) crit=%v %v stemi=%v/%v %s\n",
			r.Ref.N, r.HR, d(r.PDur, ri.PDur), d(r.PR, ri.PR), d(r.QRS, ri.QRS), ri.QRS, d(r.QT, ri.QT), ri.QT,
			r.Critical, r.Flags, r.STEMI, r.Ref.STEMI(), r.QTReason)
	}
}
