// Package rules evaluates critical-value (危急值) rule tables against an ECG's
// measurements. Provinces publish different thresholds and some add a
// second tier (重大阳性, major positive), so the table is data: a versioned
// JSON document. Default() is Huren's built-in table; Load reads a
// deployment's own. Every Flag names the table version, the rule that fired
// and its evidence.
//
// A Table is immutable after Load/Default and safe for concurrent use.
package rules

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"

	"github.com/huren-health/huren/errkind"
)

// ErrInvalidTable: the JSON is malformed or a rule is inconsistent.
var ErrInvalidTable = errkind.New(errkind.Unprocessable, "rules: invalid rule table")

// Tiers.
const (
	Critical = "critical" // 危急值
	Major    = "major"    // 重大阳性
)

// Rule kinds.
const (
	KindThreshold = "threshold" // Measure Op Value
	KindSTEMI     = "stemi"     // ST elevation in contiguous leads (4th UDMI)
	KindRhythm    = "rhythm"    // a rhythm label is present
)

// Rule is one line of a table.
type Rule struct {
	ID    string `json:"id"`
	Tier  string `json:"tier"`
	Kind  string `json:"kind"`
	Title string `json:"title"`
	// Threshold rules.
	Measure string  `json:"measure,omitempty"`
	Op      string  `json:"op,omitempty"` // < <= > >=
	Value   float64 `json:"value,omitempty"`
	// Rhythm rules: any of these label codes.
	Labels []string `json:"labels,omitempty"`
	// STEMI rules.
	STEMI *STEMIParams `json:"stemi,omitempty"`
}

// STEMIParams are the 4th Universal Definition of MI ST-elevation
// thresholds (mm at 10 mm/mV, measured at the J point) and the contiguous
// lead pairs, configurable per province.
type STEMIParams struct {
	DefaultMM        float64     `json:"default_mm"`           // all leads except V2–V3: 1 mm
	V2V3Men40MM      float64     `json:"v2v3_men_ge40_mm"`     // 2 mm
	V2V3MenUnder40MM float64     `json:"v2v3_men_lt40_mm"`     // 2.5 mm
	V2V3WomenMM      float64     `json:"v2v3_women_mm"`        // 1.5 mm
	Point            string      `json:"point"`                // "j" (UDMI) or "j60"
	MaxQRSMS         float64     `json:"max_qrs_ms"`           // above this (LBBB, pacing) criteria do not apply
	Contiguous       [][2]string `json:"contiguous"`           // lead pairs that are anatomically contiguous
	MinLeads         int         `json:"min_contiguous_leads"` // 2
}

// Table is a versioned set of rules.
type Table struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Region  string `json:"region,omitempty"`
	Rules   []Rule `json:"rules"`
}

// Default returns Huren's built-in table (the thresholds of the issue:
// STEMI by 4th UDMI, HR < 40 or > 180, pause ≥ 3 s, sustained wide-complex
// tachycardia, QTc ≥ 500 ms).
func Default() *Table {
	return &Table{
		Name:    "huren-default",
		Version: "2026.1",
		Rules: []Rule{
			{ID: "stemi", Tier: Critical, Kind: KindSTEMI, Title: "疑似急性ST段抬高型心肌梗死 suspected acute STEMI", STEMI: DefaultSTEMI()},
			{ID: "brady-40", Tier: Critical, Kind: KindThreshold, Title: "严重心动过缓 heart rate < 40 bpm", Measure: "hr_bpm", Op: "<", Value: 40},
			{ID: "tachy-180", Tier: Critical, Kind: KindThreshold, Title: "严重心动过速 heart rate > 180 bpm", Measure: "hr_bpm", Op: ">", Value: 180},
			{ID: "pause-3s", Tier: Critical, Kind: KindThreshold, Title: "心脏停搏 pause ≥ 3 s", Measure: "rr_longest_ms", Op: ">=", Value: 3000},
			{ID: "wct", Tier: Critical, Kind: KindRhythm, Title: "宽QRS心动过速 sustained wide-complex tachycardia", Labels: []string{"wide_complex_tachycardia"}},
			{ID: "qtc-500", Tier: Critical, Kind: KindThreshold, Title: "QTc 显著延长 QTc ≥ 500 ms", Measure: "qtc_bazett_ms", Op: ">=", Value: 500},
		},
	}
}

// DefaultSTEMI returns the 4th UDMI parameters with Cabrera-order limb
// contiguity and the precordial sequence.
func DefaultSTEMI() *STEMIParams {
	return &STEMIParams{
		DefaultMM: 1, V2V3Men40MM: 2, V2V3MenUnder40MM: 2.5, V2V3WomenMM: 1.5,
		Point: "j", MaxQRSMS: 120, MinLeads: 2,
		Contiguous: [][2]string{
			{"aVL", "I"}, {"II", "aVF"}, {"aVF", "III"}, {"II", "III"},
			{"V1", "V2"}, {"V2", "V3"}, {"V3", "V4"}, {"V4", "V5"}, {"V5", "V6"}, {"I", "V6"}, {"aVL", "V6"},
		},
	}
}

// Load reads and validates a table from JSON. Unknown fields are errors, so
// a typo in a province file is caught at load, not silently ignored.
func Load(r io.Reader) (*Table, error) {
	d := json.NewDecoder(io.LimitReader(r, 1<<20))
	d.DisallowUnknownFields()
	var t Table
	if err := d.Decode(&t); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidTable, err)
	}
	if err := t.Validate(); err != nil {
		return nil, err
	}
	return &t, nil
}

// Measures that threshold rules may use.
var Measures = []string{"hr_bpm", "hr_min_bpm", "hr_max_bpm", "rr_longest_ms", "qtc_bazett_ms", "qtc_fridericia_ms", "qt_ms", "qrs_ms", "pr_ms"}

// Validate checks the table's consistency.
func (t *Table) Validate() error {
	if t.Name == "" || t.Version == "" {
		return fmt.Errorf("%w: name and version are required", ErrInvalidTable)
	}
	seen := map[string]bool{}
	for i, r := range t.Rules {
		if r.ID == "" || seen[r.ID] {
			return fmt.Errorf("%w: rule %d: missing or duplicate id %q", ErrInvalidTable, i, r.ID)
		}
		seen[r.ID] = true
		if r.Tier != Critical && r.Tier != Major {
			return fmt.Errorf("%w: rule %s: tier %q (want critical or major)", ErrInvalidTable, r.ID, r.Tier)
		}
		switch r.Kind {
		case KindThreshold:
			if !slices.Contains(Measures, r.Measure) {
				return fmt.Errorf("%w: rule %s: measure %q (want one of %s)", ErrInvalidTable, r.ID, r.Measure, strings.Join(Measures, ", "))
			}
			if r.Op != "<" && r.Op != "<=" && r.Op != ">" && r.Op != ">=" {
				return fmt.Errorf("%w: rule %s: op %q", ErrInvalidTable, r.ID, r.Op)
			}
		case KindRhythm:
			if len(r.Labels) == 0 {
				return fmt.Errorf("%w: rule %s: no labels", ErrInvalidTable, r.ID)
			}
		case KindSTEMI:
			p := r.STEMI
			if p == nil || p.DefaultMM <= 0 || p.V2V3Men40MM <= 0 || p.V2V3MenUnder40MM <= 0 || p.V2V3WomenMM <= 0 || len(p.Contiguous) == 0 || p.MinLeads < 2 {
				return fmt.Errorf("%w: rule %s: incomplete stemi parameters", ErrInvalidTable, r.ID)
			}
			if p.Point != "j" && p.Point != "j60" {
				return fmt.Errorf("%w: rule %s: stemi point %q (want j or j60)", ErrInvalidTable, r.ID, p.Point)
			}
		default:
			return fmt.Errorf("%w: rule %s: kind %q", ErrInvalidTable, r.ID, r.Kind)
		}
	}
	return nil
}

// LeadST is one lead's ST deviation in µV.
type LeadST struct {
	Lead string
	J    float64
	J60  float64
}

// Facts is what the rules look at. Missing values are NaN / absent.
type Facts struct {
	Values map[string]float64 // measure name -> value
	Labels []string           // rhythm label codes
	ST     []LeadST           // only leads of good quality
	QRSMS  float64            // NaN if unknown
	Sex    string             // "M", "F", ""
	Age    int                // 0 unknown
}

// Flag is a fired rule.
type Flag struct {
	RuleID       string             `json:"rule"`
	Tier         string             `json:"tier"`
	Title        string             `json:"title"`
	TableName    string             `json:"table"`
	TableVersion string             `json:"table_version"`
	Evidence     string             `json:"evidence"`
	Values       map[string]float64 `json:"values,omitempty"`
}

// Evaluate applies every rule of t to f.
func (t *Table) Evaluate(f Facts) []Flag {
	var out []Flag
	for _, r := range t.Rules {
		fl := Flag{RuleID: r.ID, Tier: r.Tier, Title: r.Title, TableName: t.Name, TableVersion: t.Version}
		switch r.Kind {
		case KindThreshold:
			v, ok := f.Values[r.Measure]
			if !ok || math.IsNaN(v) || !compare(v, r.Op, r.Value) {
				continue
			}
			fl.Evidence = fmt.Sprintf("%s = %.0f (rule: %s %s %g)", r.Measure, v, r.Measure, r.Op, r.Value)
			fl.Values = map[string]float64{r.Measure: v}
		case KindRhythm:
			hit := ""
			for _, l := range r.Labels {
				if slices.Contains(f.Labels, l) {
					hit = l
					break
				}
			}
			if hit == "" {
				continue
			}
			fl.Evidence = fmt.Sprintf("rhythm %s", hit)
			if v, ok := f.Values["hr_bpm"]; ok {
				fl.Evidence += fmt.Sprintf(", HR %.0f bpm", v)
				fl.Values = map[string]float64{"hr_bpm": v}
			}
			if !math.IsNaN(f.QRSMS) {
				fl.Evidence += fmt.Sprintf(", QRS %.0f ms", f.QRSMS)
			}
		case KindSTEMI:
			ev, vals, ok := stemi(r.STEMI, f)
			if !ok {
				continue
			}
			fl.Evidence, fl.Values = ev, vals
		}
		out = append(out, fl)
	}
	return out
}

func compare(v float64, op string, x float64) bool {
	switch op {
	case "<":
		return v < x
	case "<=":
		return v <= x
	case ">":
		return v > x
	case ">=":
		return v >= x
	}
	return false
}

// ThresholdMM returns the ST elevation threshold (mm) for a lead.
func (p *STEMIParams) ThresholdMM(lead, sex string, age int) float64 {
	if lead != "V2" && lead != "V3" {
		return p.DefaultMM
	}
	switch {
	case sex == "F":
		return p.V2V3WomenMM
	case sex == "M" && age > 0 && age < 40:
		return p.V2V3MenUnder40MM
	case sex == "M":
		return p.V2V3Men40MM
	}
	// Sex unknown: the lowest (most sensitive) threshold, so a missing
	// demographic never hides an infarct; the evidence says so.
	return math.Min(p.V2V3WomenMM, math.Min(p.V2V3Men40MM, p.V2V3MenUnder40MM))
}

func stemi(p *STEMIParams, f Facts) (string, map[string]float64, bool) {
	if !math.IsNaN(f.QRSMS) && p.MaxQRSMS > 0 && f.QRSMS >= p.MaxQRSMS {
		return "", nil, false // UDMI thresholds do not apply with LBBB / wide QRS
	}
	st := map[string]float64{}
	for _, l := range f.ST {
		v := l.J
		if p.Point == "j60" {
			v = l.J60
		}
		st[l.Lead] = v
	}
	elevated := map[string]bool{}
	thr := map[string]float64{}
	for lead, v := range st {
		t := p.ThresholdMM(lead, f.Sex, f.Age)
		thr[lead] = t
		if v/100 >= t {
			elevated[lead] = true
		}
	}
	// Leads connected through contiguous pairs form groups.
	var pairs []string
	group := map[string]bool{}
	for _, c := range p.Contiguous {
		if elevated[c[0]] && elevated[c[1]] {
			pairs = append(pairs, c[0]+"-"+c[1])
			group[c[0]], group[c[1]] = true, true
		}
	}
	if len(group) < p.MinLeads || len(pairs) == 0 {
		return "", nil, false
	}
	var leads []string
	for l := range group {
		leads = append(leads, l)
	}
	slices.SortFunc(leads, func(a, b string) int { return leadOrder(a) - leadOrder(b) })
	vals := map[string]float64{}
	var parts []string
	for _, l := range leads {
		vals["st_"+l+"_uv"] = st[l]
		parts = append(parts, fmt.Sprintf("%s %+.1f mm (≥ %.1f)", l, st[l]/100, thr[l]))
	}
	point := "J point"
	if p.Point == "j60" {
		point = "J+60 ms"
	}
	ev := fmt.Sprintf("ST elevation at the %s in contiguous leads %s: %s", point, strings.Join(pairs, ", "), strings.Join(parts, ", "))
	if f.Sex == "" {
		ev += "; sex unknown: lowest V2–V3 threshold used"
	}
	return ev, vals, true
}

func leadOrder(l string) int {
	for i, s := range []string{"I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"} {
		if s == l {
			return i
		}
	}
	return 100
}
