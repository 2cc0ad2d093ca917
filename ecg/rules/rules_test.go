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
	f := Facts{Values: map[string]float64{"hr_bpm": 38, "rr_longest_ms": 3100, "qtc_bazett_ms": 505}, Labels: []string{"wide_complex_tachycardia"}, QRSMS: math.NaN()}
	var ids []string
	for _, fl := range Default().Evaluate(f) {
		ids = append(ids, fl.RuleID)
		if fl.TableVersion != "2026.1" || fl.Evidence == "" {
			t.Errorf("flag %+v", fl)
		}
	}
	if !slices.Equal(ids, []string{"brady-40", "pause-3s", "wct", "qtc-500"}) {
		t.Errorf("fired %v", ids)
	}
	// Boundaries: HR exactly 40 and 180 do not fire (< 40, > 180).
	if fl := Default().Evaluate(Facts{Values: map[string]float64{"hr_bpm": 40}}); len(fl) != 0 {
		t.Errorf("HR 40 fired %v", fl)
	}
	if fl := Default().Evaluate(Facts{Values: map[string]float64{"hr_bpm": 180}}); len(fl) != 0 {
		t.Errorf("HR 180 fired %v", fl)
	}
}

func TestLoadRoundTripAndErrors(t *testing.T) {
	b, _ := json.Marshal(Default())
	tab, err := Load(bytes.NewReader(b))
	if err != nil || tab.Version != "2026.1" || len(tab.Rules) != 6 {
		t.Fatalf("round trip: %v %+v", err, tab)
	}
	bad := []string{
		`not json`,
		`{"name":"x","version":"1","rules":[],"extra":1}`,
		`{"version":"1","rules":[]}`,
		`{"name":"x","version":"1","rules":[{"id":"a","tier":"urgent","kind":"threshold","measure":"hr_bpm","op":">","value":1}]}`,
		`{"name":"x","version":"1","rules":[{"id":"a","tier":"critical","kind":"threshold","measure":"hr_bpm","op":"=","value":1}]}`,
		`{"name":"x","version":"1","rules":[{"id":"a","tier":"critical","kind":"rhythm"}]}`,
		`{"name":"x","version":"1","rules":[{"id":"a","tier":"critical","kind":"stemi","stemi":{"default_mm":1}}]}`,
		`{"name":"x","version":"1","rules":[{"id":"a","tier":"major","kind":"rhythm","labels":["x"]},{"id":"a","tier":"major","kind":"rhythm","labels":["y"]}]}`,
	}
	for _, s := range bad {
		if _, err := Load(strings.NewReader(s)); !errors.Is(err, ErrInvalidTable) {
			t.Errorf("%s: %v", s, err)
		}
	}
}
