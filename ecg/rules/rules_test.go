package rules

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
)

func TestThresholdMM(t *testing.T) {
	p := DefaultSTEMI()
	tests := []struct {
		lead, sex string
		age       int
		want      float64
	}{
		{"V1", "M", 50, 1}, {"II", "F", 30, 1},
		{"V2", "M", 55, 2}, {"V3", "M", 39, 2.5}, {"V2", "F", 70, 1.5}, {"V3", "F", 25, 1.5},
		{"V2", "M", 0, 2}, {"V2", "", 50, 1.5},
	}
	for _, tc := range tests {
		if got := p.ThresholdMM(tc.lead, tc.sex, tc.age); got != tc.want {
			t.Errorf("%s %s %d: %g, want %g", tc.lead, tc.sex, tc.age, got, tc.want)
		}
	}
}

func st(kv ...any) []LeadST {
	var out []LeadST
	for i := 0; i < len(kv); i += 2 {
		out = append(out, LeadST{Lead: kv[i].(string), J: float64(kv[i+1].(int))})
	}
	return out
}

func TestSTEMIContiguity(t *testing.T) {
	table := Default()
	tests := []struct {
		name string
		f    Facts
		want bool
	}{
		{"V2+V3 man 2.2 mm", Facts{ST: st("V2", 220, "V3", 220), Sex: "M", Age: 50, QRSMS: 90}, true},
		{"V2+V3 man<40 2.2 mm", Facts{ST: st("V2", 220, "V3", 220), Sex: "M", Age: 35, QRSMS: 90}, false},
		{"II+aVF 1.1 mm", Facts{ST: st("II", 110, "aVF", 110, "III", 50), Sex: "F", QRSMS: 90}, true},
		{"II+V1 not contiguous", Facts{ST: st("II", 200, "V1", 200), Sex: "M", Age: 60, QRSMS: 90}, false},
		{"one lead only", Facts{ST: st("V4", 400), Sex: "M", Age: 60, QRSMS: 90}, false},
		{"wide QRS (LBBB) excluded", Facts{ST: st("V2", 400, "V3", 400), Sex: "M", Age: 60, QRSMS: 150}, false},
		{"depression is not elevation", Facts{ST: st("V5", -200, "V6", -200), Sex: "M", Age: 60, QRSMS: 90}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.f.Values = map[string]float64{}
			flags := table.Evaluate(tc.f)
			got := slices.ContainsFunc(flags, func(f Flag) bool { return f.RuleID == "stemi" })
			if got != tc.want {
				t.Errorf("stemi = %v, want %v (%+v)", got, tc.want, flags)
			}
		})
	}
}

func TestThresholdsAndRhythm(t *testing.T) {
	tests := []struct {
		name     string
		f        Facts
		critical []string
		major    []string
	}{
		{"consensus 3.1: HR 35 is critical, 38 only major",
			Facts{Values: map[string]float64{"hr_bpm": 35}}, []string{"brady-35"}, []string{"brady-40"}},
		{"HR 38", Facts{Values: map[string]float64{"hr_bpm": 38}}, nil, []string{"brady-40"}},
		{"HR exactly 40 and 180 fire nothing", Facts{Values: map[string]float64{"hr_bpm": 40}}, nil, nil},
		{"HR 180", Facts{Values: map[string]float64{"hr_bpm": 180}}, nil, nil},
		{"consensus 2.4: HR 200", Facts{Values: map[string]float64{"hr_bpm": 200}}, []string{"tachy-200"}, []string{"tachy-180"}},
		{"consensus 3.2: pause 3.1 s is major (symptoms unknown)", Facts{Values: map[string]float64{"rr_longest_ms": 3100}}, nil, []string{"pause-3s"}},
		{"pause 5 s", Facts{Values: map[string]float64{"rr_longest_ms": 5000}}, []string{"pause-5s"}, []string{"pause-3s"}},
		{"consensus 4.4: QTc 505 major, 550 critical", Facts{Values: map[string]float64{"qtc_bazett_ms": 505}}, nil, []string{"qtc-500"}},
		{"QTc 550", Facts{Values: map[string]float64{"qtc_bazett_ms": 550}}, []string{"qtc-550"}, []string{"qtc-500"}},
		{"consensus 2.2: WCT at 150", Facts{Values: map[string]float64{"hr_bpm": 150}, Labels: []string{"wide_complex_tachycardia"}}, []string{"vt-150"}, nil},
		{"WCT at 130 is not critical", Facts{Values: map[string]float64{"hr_bpm": 130}, Labels: []string{"wide_complex_tachycardia"}}, nil, nil},
		{"consensus 2.5: irregular WCT with RR 240 ms", Facts{Values: map[string]float64{"hr_bpm": 170, "rr_shortest_ms": 240}, Labels: []string{"irregular_suggestive_of_af", "wide_complex_tachycardia"}}, []string{"vt-150", "af-short-rr"}, nil},
		{"narrow AF with RR 240 ms is not pre-excitation", Facts{Values: map[string]float64{"hr_bpm": 170, "rr_shortest_ms": 240}, Labels: []string{"irregular_suggestive_of_af"}}, nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.f.QRSMS = math.NaN()
			var crit, major []string
			for _, fl := range Default().Evaluate(tc.f) {
				if fl.TableVersion != "2026.2" || fl.Evidence == "" || fl.Basis == "" {
					t.Errorf("flag %+v", fl)
				}
				if fl.Tier == Critical {
					crit = append(crit, fl.RuleID)
				} else {
					major = append(major, fl.RuleID)
				}
			}
			if !slices.Equal(crit, tc.critical) || !slices.Equal(major, tc.major) {
				t.Errorf("critical %v major %v, want %v %v", crit, major, tc.critical, tc.major)
			}
		})
	}
}

// TestSTEMISafeguards: the J-point criteria met by a mimic give a major
// (review) flag, not a critical one; wide QRS goes through Sgarbossa.
func TestSTEMISafeguards(t *testing.T) {
	l := func(lead string, j, j40, j80, r, s float64, notch bool) LeadST {
		return LeadST{Lead: lead, J: j, J40: j40, J60: (j40 + j80) / 2, J80: j80, R: r, S: s, Concave: j40 < (j+j80)/2-20, Notch: notch}
	}
	tests := []struct {
		name string
		f    Facts
		tier string // "" = no stemi flag
	}{
		{"inferior STEMI with reciprocal depression in aVL",
			Facts{ST: []LeadST{l("II", 200, 220, 240, 900, 100, false), l("III", 250, 270, 280, 700, 100, false), l("aVF", 220, 240, 260, 800, 100, false), l("aVL", -150, -150, -140, 300, 500, false), l("I", -60, -60, -50, 500, 100, false)}, Sex: "M", Age: 60, QRSMS: 90}, Critical},
		{"anterior straight ST elevation without reciprocity is still critical",
			Facts{ST: []LeadST{l("V2", 300, 350, 400, 300, 900, false), l("V3", 300, 360, 420, 500, 700, false), l("V4", 200, 240, 280, 900, 300, false)}, Sex: "M", Age: 55, QRSMS: 90}, Critical},
		{"early repolarisation: notched J, concave ST, young, no reciprocity",
			Facts{ST: []LeadST{l("V3", 260, 180, 300, 1200, 300, true), l("V4", 250, 170, 300, 1500, 200, true), l("V5", 150, 100, 200, 1400, 100, true), l("V6", 120, 80, 160, 1200, 100, false)}, Sex: "M", Age: 28, QRSMS: 90}, Major},
		{"diffuse concave elevation (pericarditis pattern)",
			Facts{ST: []LeadST{l("II", 150, 100, 200, 900, 100, false), l("aVF", 130, 90, 180, 800, 100, false), l("I", 120, 80, 170, 700, 100, false), l("aVL", 110, 70, 160, 500, 100, false), l("V4", 150, 100, 220, 1200, 300, false), l("V5", 140, 90, 200, 1200, 100, false)}, Sex: "F", Age: 45, QRSMS: 90}, Major},
		{"LVH: V1–V3 elevation < 25 % of deep S waves",
			Facts{ST: []LeadST{l("V1", 250, 270, 300, 100, 2500, false), l("V2", 350, 380, 400, 200, 3000, false), l("V3", 300, 320, 350, 400, 2200, false), l("V6", -150, -150, -120, 2600, 100, false)}, Sex: "M", Age: 60, QRSMS: 100}, Major},
		{"LBBB with discordant ST elevation only: no flag",
			Facts{ST: []LeadST{l("V1", 250, 300, 350, 100, 2000, false), l("V2", 300, 350, 400, 200, 2500, false), l("V6", -200, -200, -150, 1500, 100, false), l("I", -150, -150, -100, 1200, 100, false)}, Sex: "M", Age: 70, QRSMS: 150}, ""},
		{"LBBB with concordant elevation in two leads (Sgarbossa)",
			Facts{ST: []LeadST{l("V5", 150, 160, 170, 1500, 100, false), l("V6", 150, 160, 170, 1500, 100, false), l("V1", 100, 120, 150, 100, 2000, false)}, Sex: "M", Age: 70, QRSMS: 150}, Critical},
		{"LBBB: one lead meeting Sgarbossa is not enough",
			Facts{ST: []LeadST{l("III", 120, 100, 90, 150, 380, false), l("V1", 50, 60, 70, 60, 530, false)}, Sex: "F", Age: 79, QRSMS: 134}, ""},
		{"RBBB keeps the UDMI criteria",
			Facts{ST: []LeadST{l("V1", 50, 60, 70, 800, 200, false), l("II", 200, 220, 240, 900, 100, false), l("aVF", 220, 240, 260, 800, 100, false), l("aVL", -150, -150, -140, 300, 500, false)}, Sex: "M", Age: 60, QRSMS: 140}, Critical},
		{"wide-complex tachycardia: no ST criteria",
			Facts{ST: []LeadST{l("V5", 150, 160, 170, 1500, 100, false), l("V6", 150, 160, 170, 1500, 100, false)}, Labels: []string{"wide_complex_tachycardia"}, Sex: "M", Age: 70, QRSMS: 150}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.f.Values = map[string]float64{}
			tier := ""
			for _, fl := range Default().Evaluate(tc.f) {
				if fl.RuleID == "stemi" {
					tier = fl.Tier
					t.Log(fl.Evidence)
				}
			}
			if tier != tc.tier {
				t.Errorf("stemi tier %q, want %q", tier, tc.tier)
			}
		})
	}
}

func TestLoadRoundTripAndErrors(t *testing.T) {
	b, _ := json.Marshal(Default())
	tab, err := Load(bytes.NewReader(b))
	if err != nil || tab.Version != "2026.2" || len(tab.Rules) != len(Default().Rules) || tab.Source == "" {
		t.Fatalf("round trip: %v %+v", err, tab)
	}
	bad := []string{
		`not json`,
		`{"name":"x","version":"1","rules":[],"extra":1}`,
		`{"version":"1","rules":[]}`,
		`{"name":"x","version":"1","rules":[{"id":"a","tier":"urgent","kind":"threshold","measure":"hr_bpm","op":">","value":1}]}`,
		`{"name":"x","version":"1","rules":[{"id":"a","tier":"critical","kind":"threshold","measure":"hr_bpm","op":"=","value":1}]}`,
		`{"name":"x","version":"1","rules":[{"id":"a","tier":"critical","kind":"rhythm"}]}`,
		`{"name":"x","version":"1","rules":[{"id":"a","tier":"critical","kind":"rhythm","labels":["x"],"measure":"hr","op":">"}]}`,
		`{"name":"x","version":"1","rules":[{"id":"a","tier":"critical","kind":"stemi","stemi":{"default_mm":1}}]}`,
		`{"name":"x","version":"1","rules":[{"id":"a","tier":"major","kind":"rhythm","labels":["x"]},{"id":"a","tier":"major","kind":"rhythm","labels":["y"]}]}`,
	}
	for _, s := range bad {
		if _, err := Load(strings.NewReader(s)); !errors.Is(err, ErrInvalidTable) {
			t.Errorf("%s: %v", s, err)
		}
	}
}
