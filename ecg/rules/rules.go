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
	// Basis cites where the rule and its threshold come from (the
	// consensus item, the guideline), shown with every flag.
	Basis string `json:"basis,omitempty"`
	// Rhythm rules: any of these label codes; when Measure is also set,
	// the rhythm rule fires only when Measure Op Value holds too.
	Labels []string `json:"labels,omitempty"`
	// RequireLabels must all be present too (rhythm rules).
	RequireLabels []string `json:"require_labels,omitempty"`
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
	// Source cites the document the table is based on.
	Source string `json:"source,omitempty"`
	Rules  []Rule `json:"rules"`
}

// ConsensusSource is the national expert consensus the default table
// follows.
const ConsensusSource = "中国心电学会危急值专家工作组. 心电图危急值2017中国专家共识. 临床心电学杂志, 2017, 26(6): 401-402"

// Default returns Huren's built-in table, based on the national expert
// consensus on ECG critical values (心电图危急值 2017 中国专家共识) with its
// thresholds where it states them:
//
//	1.1 suspected acute MI           -> stemi (4th UDMI J-point criteria + mimic safeguards)
//	2.2 VT with rate ≥ 150/min       -> vt-150 (wide-complex tachycardia ≥ 150 bpm)
//	2.4 SVT with rate ≥ 200/min      -> tachy-200
//	2.5 pre-excited AF, RR ≤ 250 ms  -> af-short-rr (irregular, wide QRS, no P)
//	3.1 severe bradycardia / high-degree or third-degree AV block with a
//	    mean ventricular rate ≤ 35/min -> brady-35
//	3.2 long RR ≥ 3.0 s with symptoms, ≥ 5.0 s without -> pause-5s
//	    (critical) and pause-3s (major: Huren does not know the symptoms)
//	4.4 QTc ≥ 550 ms                  -> qtc-550
//
// Items the consensus lists that a 10 s resting ECG machine reading cannot
// support on its own (VF/flutter, torsades, electrolyte patterns, acute
// pulmonary embolism, T-wave alternans, R on T) are left to the reader.
// Major-tier (重大阳性) rules carry the common provincial thresholds (HR
// < 40 or > 180, QTc ≥ 500 ms). Provinces load their own table.
func Default() *Table {
	return &Table{
		Name:    "huren-default",
		Version: "2026.2",
		Source:  ConsensusSource,
		Rules: []Rule{
			{ID: "stemi", Tier: Critical, Kind: KindSTEMI, Title: "疑似急性ST段抬高型心肌梗死 suspected acute STEMI", STEMI: DefaultSTEMI(),
				Basis: "共识 1.1 首次发现疑似急性心肌梗死的心电图改变; ST thresholds: Fourth Universal Definition of MI (Thygesen et al., 2018); LBBB/paced: Smith-modified Sgarbossa criteria"},
			{ID: "vt-150", Tier: Critical, Kind: KindRhythm, Title: "宽QRS心动过速(疑似室性心动过速) wide-complex tachycardia ≥ 150 bpm", Labels: []string{"wide_complex_tachycardia"}, Measure: "hr_bpm", Op: ">=", Value: 150,
				Basis: "共识 2.2 室性心动过速心室率≥150次/min (持续≥30 s: a 10 s ECG cannot show it, the reader judges)"},
			{ID: "tachy-200", Tier: Critical, Kind: KindThreshold, Title: "室上性心动过速心室率≥200次/min heart rate ≥ 200 bpm", Measure: "hr_bpm", Op: ">=", Value: 200,
				Basis: "共识 2.4 各种类型室上性心动过速心室率≥200次/min"},
			{ID: "af-short-rr", Tier: Critical, Kind: KindRhythm, Title: "心房颤动最短RR间期≤250 ms (疑似预激) AF with shortest RR ≤ 250 ms", Labels: []string{"irregular_suggestive_of_af"}, RequireLabels: []string{"wide_complex_tachycardia"}, Measure: "rr_shortest_ms", Op: "<=", Value: 250,
				Basis: "共识 2.5 心房颤动伴心室预激最短RR间期≤250 ms (pre-excitation shows as an irregular wide-complex tachycardia)"},
			{ID: "brady-35", Tier: Critical, Kind: KindThreshold, Title: "严重心动过缓 平均心室率≤35次/min mean ventricular rate ≤ 35 bpm", Measure: "hr_bpm", Op: "<=", Value: 35,
				Basis: "共识 3.1 严重心动过缓、高度及三度房室阻滞，平均心室率≤35次/min"},
			{ID: "pause-5s", Tier: Critical, Kind: KindThreshold, Title: "长RR间期≥5.0 s pause ≥ 5 s", Measure: "rr_longest_ms", Op: ">=", Value: 5000,
				Basis: "共识 3.2 长RR间期 无症状≥5.0 s"},
			{ID: "pause-3s", Tier: Major, Kind: KindThreshold, Title: "长RR间期≥3.0 s pause ≥ 3 s (critical if symptomatic)", Measure: "rr_longest_ms", Op: ">=", Value: 3000,
				Basis: "共识 3.2 长RR间期伴症状≥3.0 s: critical when the patient has symptoms"},
			{ID: "qtc-550", Tier: Critical, Kind: KindThreshold, Title: "QT间期延长 QTc≥550 ms", Measure: "qtc_bazett_ms", Op: ">=", Value: 550,
				Basis: "共识 4.4 QT间期延长：QTc≥550 ms (QT only when measurable)"},
			{ID: "brady-40", Tier: Major, Kind: KindThreshold, Title: "心动过缓 heart rate < 40 bpm", Measure: "hr_bpm", Op: "<", Value: 40,
				Basis: "provincial tables (e.g. 浙江 third-degree AV block < 40/min)"},
			{ID: "tachy-180", Tier: Major, Kind: KindThreshold, Title: "心动过速 heart rate > 180 bpm", Measure: "hr_bpm", Op: ">", Value: 180,
				Basis: "provincial tables (e.g. 山西, 浙江: AF/flutter ≥ 180/min)"},
			{ID: "qtc-500", Tier: Major, Kind: KindThreshold, Title: "QTc 延长 QTc ≥ 500 ms", Measure: "qtc_bazett_ms", Op: ">=", Value: 500,
				Basis: "重大阳性 in provincial tables"},
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
var Measures = []string{"hr_bpm", "hr_min_bpm", "hr_max_bpm", "rr_longest_ms", "rr_shortest_ms", "qtc_bazett_ms", "qtc_fridericia_ms", "qt_ms", "qrs_ms", "pr_ms"}

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
			if r.Measure != "" && (!slices.Contains(Measures, r.Measure) || (r.Op != "<" && r.Op != "<=" && r.Op != ">" && r.Op != ">=")) {
				return fmt.Errorf("%w: rule %s: condition %q %q", ErrInvalidTable, r.ID, r.Measure, r.Op)
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

// LeadST is one lead's ST deviation (µV from the PR level at J, J+40,
// J+60, J+80 ms) with the QRS deflections and ST shape the STEMI
// safeguards look at.
type LeadST struct {
	Lead             string
	J, J40, J60, J80 float64
	R, S             float64 // largest QRS deflection above / below the PR level, ≥ 0
	Concave, Notch   bool    // concave-up ST; J notch on a dominant R
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
	Basis        string             `json:"basis,omitempty"`
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
			if hit == "" || slices.ContainsFunc(r.RequireLabels, func(l string) bool { return !slices.Contains(f.Labels, l) }) {
				continue
			}
			if r.Measure != "" {
				v, ok := f.Values[r.Measure]
				if !ok || math.IsNaN(v) || !compare(v, r.Op, r.Value) {
					continue
				}
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
			res := stemi(r.STEMI, f)
			if !res.fired {
				continue
			}
			fl.Evidence, fl.Values = res.evidence, res.values
			if res.mimic != "" && fl.Tier == Critical {
				// The J-point criteria are met but the pattern is a known
				// mimic: a reader must look, nobody is paged.
				fl.Tier = Major
				fl.Title += " — 需人工复核 mimic pattern, review"
				fl.Evidence += "; not critical: " + res.mimic
			}
		}
		fl.Basis = r.Basis
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

type stemiResult struct {
	fired    bool
	evidence string
	values   map[string]float64
	mimic    string // non-empty: the safeguard that makes it non-critical
}

// Territories for the reciprocal-change and diffuse-elevation safeguards.
var territory = map[string]string{
	"II": "inferior", "III": "inferior", "aVF": "inferior",
	"I": "lateral", "aVL": "lateral", "V5": "lateral", "V6": "lateral",
	"V1": "septal", "V2": "septal", "V3": "anterior", "V4": "anterior",
}

func stemi(p *STEMIParams, f Facts) stemiResult {
	// The ST segment of a wide-complex tachycardia is secondary to the
	// abnormal depolarisation: no ST criteria apply (the rhythm has its
	// own critical rule).
	if slices.Contains(f.Labels, "wide_complex_tachycardia") {
		return stemiResult{}
	}
	st := map[string]LeadST{}
	for _, l := range f.ST {
		st[l.Lead] = l
	}
	val := func(l LeadST) float64 {
		if p.Point == "j60" {
			return l.J60
		}
		return l.J
	}
	if !math.IsNaN(f.QRSMS) && p.MaxQRSMS > 0 && f.QRSMS >= p.MaxQRSMS {
		// Wide QRS. With a right bundle branch block pattern (dominant R in
		// V1) the UDMI criteria still apply; otherwise (LBBB, paced,
		// non-specific delay) they do not, and the Smith-modified
		// Sgarbossa criteria are used instead.
		v1, ok := st["V1"]
		if !ok || v1.R <= v1.S {
			return sgarbossa(p, st, val, f.QRSMS)
		}
	}
	elevated := map[string]bool{}
	thr := map[string]float64{}
	for lead, l := range st {
		t := p.ThresholdMM(lead, f.Sex, f.Age)
		thr[lead] = t
		if val(l)/100 >= t {
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
		return stemiResult{}
	}
	var leads []string
	for l := range group {
		leads = append(leads, l)
	}
	slices.SortFunc(leads, func(a, b string) int { return leadOrder(a) - leadOrder(b) })
	vals := map[string]float64{}
	var parts []string
	for _, l := range leads {
		vals["st_"+l+"_uv"] = val(st[l])
		parts = append(parts, fmt.Sprintf("%s %+.1f mm (≥ %.1f)", l, val(st[l])/100, thr[l]))
	}
	point := "J point"
	if p.Point == "j60" {
		point = "J+60 ms"
	}
	ev := fmt.Sprintf("ST elevation at the %s in contiguous leads %s: %s", point, strings.Join(pairs, ", "), strings.Join(parts, ", "))
	if f.Sex == "" {
		ev += "; sex unknown: lowest V2–V3 threshold used"
	}
	res := stemiResult{fired: true, evidence: ev, values: vals}
	res.mimic = mimic(st, leads, f)
	return res
}

// mimic returns why an ST elevation meeting the J-point criteria looks
// like one of its classic mimics rather than an acute infarct, or "".
// Machine algorithms protect their specificity this way (reciprocal
// change, ST morphology, early repolarisation, LVH strain); the flag is
// then still raised, at the major tier.
func mimic(st map[string]LeadST, elevated []string, f Facts) string {
	// Reciprocal depression: ≥ 0.5 mm at J in a lead outside the elevated
	// territories (aVR and V1 excluded: they mirror many patterns).
	terr := map[string]bool{}
	for _, l := range elevated {
		terr[territory[l]] = true
	}
	reciprocal := false
	for lead, l := range st {
		if lead == "aVR" || lead == "V1" || terr[territory[lead]] || slices.Contains(elevated, lead) {
			continue
		}
		if l.J <= -50 {
			reciprocal = true
		}
	}
	concave, notched, rDominant := 0, 0, 0
	lvhDiscordant := 0
	for _, lead := range elevated {
		l := st[lead]
		if l.Concave {
			concave++
		}
		if l.Notch {
			notched++
		}
		if l.R > l.S {
			rDominant++
		}
		// LVH with deep S waves in V1–V3: discordant ST elevation
		// proportional to the S wave (ST/S < 25 %, Armstrong et al. 2012).
		if (lead == "V1" || lead == "V2" || lead == "V3") && l.S >= 1500 && l.J < 0.25*l.S {
			lvhDiscordant++
		}
	}
	n := len(elevated)
	if lvhDiscordant == n {
		return "ST elevation only in V1–V3 with deep S waves and ST/S < 25 % (LVH strain pattern)"
	}
	if reciprocal {
		return ""
	}
	if len(terr) >= 3 && 2*concave >= n {
		return "diffuse concave ST elevation in three or more territories without reciprocal depression (pericarditis / early repolarisation pattern)"
	}
	if notched > 0 && 2*concave >= n && (f.Age == 0 || f.Age < 50) {
		return "J-point notching with concave ST elevation and no reciprocal depression (early repolarisation pattern)"
	}
	if 2*concave > n && rDominant == n {
		return "concave ST elevation without reciprocal depression"
	}
	return ""
}

// sgarbossa applies the Smith-modified Sgarbossa criteria to a wide-QRS
// ECG (LBBB or ventricular pacing): concordant ST elevation ≥ 1 mm in a
// lead with a positive QRS, concordant ST depression ≥ 1 mm in V1–V3, or
// discordant ST elevation ≥ 1 mm that is ≥ 25 % of the preceding S wave —
// in at least two leads.
func sgarbossa(p *STEMIParams, st map[string]LeadST, val func(LeadST) float64, qrs float64) stemiResult {
	var hits []string
	vals := map[string]float64{}
	for lead, l := range st {
		v := val(l)
		switch {
		case l.R > l.S && v >= 100:
			hits = append(hits, fmt.Sprintf("%s concordant ST elevation %+.1f mm", lead, v/100))
		case (lead == "V1" || lead == "V2" || lead == "V3") && l.S > l.R && v <= -100:
			hits = append(hits, fmt.Sprintf("%s concordant ST depression %+.1f mm", lead, v/100))
		case l.S > l.R && v >= 100 && l.S > 0 && v >= 0.25*l.S:
			hits = append(hits, fmt.Sprintf("%s discordant ST elevation %+.1f mm = %.0f %% of S", lead, v/100, 100*v/l.S))
		default:
			continue
		}
		vals["st_"+lead+"_uv"] = v
	}
	// The published criteria accept one lead; Huren asks for two, as the
	// UDMI does for contiguous leads: a single lead's J point on a wide,
	// imprecisely delimited QRS is too fragile to page anyone.
	if len(hits) < 2 {
		return stemiResult{}
	}
	slices.Sort(hits)
	return stemiResult{fired: true, values: vals,
		evidence: fmt.Sprintf("QRS %.0f ms without a right bundle branch block pattern: Smith-modified Sgarbossa criteria met: %s", qrs, strings.Join(hits, "; "))}
}

func leadOrder(l string) int {
	for i, s := range []string{"I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"} {
		if s == l {
			return i
		}
	}
	return 100
}
