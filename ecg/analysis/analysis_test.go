package analysis_test

import (
	"errors"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/huren-health/huren/ecg"
	"github.com/huren-health/huren/ecg/analysis"
	"github.com/huren-health/huren/ecg/internal/synth"
	"github.com/huren-health/huren/ecg/read"
	"github.com/huren-health/huren/ecg/rules"
)

func ruleIDs(a *analysis.Analysis) []string {
	var ids []string
	for _, f := range a.Flags {
		ids = append(ids, f.RuleID)
	}
	return ids
}

func labels(a *analysis.Analysis) []string {
	var out []string
	for _, l := range a.Measurements.Rhythm {
		out = append(out, l.Code)
	}
	return out
}

func TestSynthetic(t *testing.T) {
	clipped := func(r *ecg.Record) {
		for i := range r.Leads {
			for j, v := range r.Leads[i].Samples {
				r.Leads[i].Samples[j] = math.Max(-300, math.Min(300, v))
			}
		}
	}
	flat := func(r *ecg.Record) {
		for i := range r.Leads {
			clear(r.Leads[i].Samples)
		}
	}
	oneFlat := func(r *ecg.Record) { clear(r.Lead("V3").Samples) }
	onlyII := func(r *ecg.Record) { r.Leads = []ecg.Lead{*r.Lead("II")} }
	// Slow electrode drift, 3 mV at 0.1 Hz: the high-pass removes it, so
	// it is reported, never a reason to refuse (issue 15).
	drift := func(r *ecg.Record) {
		for i := range r.Leads {
			for j := range r.Leads[i].Samples {
				r.Leads[i].Samples[j] += 3000 * math.Sin(2*math.Pi*0.1*float64(j)/r.FS+float64(i))
			}
		}
	}
	tests := []struct {
		name          string
		spec          synth.Spec
		mutate        func(*ecg.Record)
		interpretable bool
		flags         []string
		label         string
	}{
		{name: "normal sinus", spec: synth.Spec{HR: 72, Sex: "M", Age: 50}, interpretable: true, label: "sinus_rhythm"},
		{name: "anterior STEMI", spec: synth.Spec{HR: 80, Sex: "M", Age: 55, STuV: map[string]float64{"V2": 300, "V3": 350, "V4": 250}}, interpretable: true, flags: []string{"stemi"}},
		{name: "inferior STEMI", spec: synth.Spec{HR: 80, Sex: "F", Age: 70, STuV: map[string]float64{"II": 200, "I": -40}}, interpretable: true, flags: []string{"stemi"}},
		{name: "V2-V3 1.8 mm man 55: below 2 mm", spec: synth.Spec{HR: 70, Sex: "M", Age: 55, STuV: map[string]float64{"V2": 180, "V3": 180}}, interpretable: true},
		{name: "V2-V3 1.8 mm woman: above 1.5 mm", spec: synth.Spec{HR: 70, Sex: "F", Age: 55, STuV: map[string]float64{"V2": 180, "V3": 180}}, interpretable: true, flags: []string{"stemi"}},
		{name: "single lead elevation is not STEMI", spec: synth.Spec{HR: 70, Sex: "M", Age: 60, STuV: map[string]float64{"V4": 300}}, interpretable: true},
		{name: "bradycardia 34", spec: synth.Spec{HR: 34, Seconds: 14}, interpretable: true, flags: []string{"brady-35", "brady-40"}, label: "sinus_bradycardia"},
		{name: "tachycardia 190", spec: synth.Spec{HR: 190, QTScale: 0.6}, interpretable: true, flags: []string{"tachy-180"}},
		{name: "pause 3.5 s", spec: synth.Spec{HR: 70, PauseAt: 4, PauseS: 3.0}, interpretable: true, flags: []string{"pause-3s"}, label: "pause_over_3s"},
		{name: "wide complex tachycardia", spec: synth.Spec{HR: 150, QRSWidth: 2, NoP: true, QTScale: 0.6}, interpretable: true, flags: []string{"vt-150", "qtc-500"}, label: "wide_complex_tachycardia"},
		{name: "long QTc", spec: synth.Spec{HR: 75, QTScale: 1.7}, interpretable: true, flags: []string{"qtc-550", "qtc-500"}},
		{name: "AF-like irregular without P", spec: synth.Spec{HR: 90, Irregular: true, NoP: true, Seed: 3}, interpretable: true, label: "irregular_suggestive_of_af"},
		{name: "mains 50 Hz is filtered", spec: synth.Spec{HR: 72, MainsuV: 300}, interpretable: true, label: "sinus_rhythm"},
		{name: "muscle noise", spec: synth.Spec{HR: 72, NoiseuV: 120, STuV: map[string]float64{"V2": 300, "V3": 300}}, interpretable: false},
		{name: "baseline drift", spec: synth.Spec{HR: 72}, mutate: drift, interpretable: true, label: "sinus_rhythm"},
		{name: "flat line", spec: synth.Spec{}, mutate: flat, interpretable: false},
		{name: "clipped", spec: synth.Spec{HR: 72}, mutate: clipped, interpretable: false},
		{name: "one lead off", spec: synth.Spec{HR: 72}, mutate: oneFlat, interpretable: true, label: "sinus_rhythm"},
		{name: "one-lead strip", spec: synth.Spec{HR: 72}, mutate: onlyII, interpretable: true},
		{name: "too short", spec: synth.Spec{HR: 72, Seconds: 2}, interpretable: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec, _ := synth.Make(tc.spec)
			if tc.mutate != nil {
				tc.mutate(rec)
			}
			a, err := analysis.Analyze(rec, analysis.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if a.Interpretable != tc.interpretable {
				t.Errorf("interpretable = %v (reasons %v, quality %s)", a.Interpretable, a.Reasons, a.Quality.Summary)
			}
			if !tc.interpretable && (len(a.Flags) != 0 || !a.RepeatECG) {
				t.Errorf("poor recording produced flags %v / repeat %v", ruleIDs(a), a.RepeatECG)
			}
			got := ruleIDs(a)
			if !slices.Equal(got, tc.flags) {
				t.Errorf("flags %v, want %v; evidence %v; ST %v; QRS %v QTc %v HR %.0f", got, tc.flags, a.Flags, a.Measurements.ST, deref(a.Measurements.QRS), deref(a.Measurements.QTcB), a.Measurements.RR.HR)
			}
			if tc.label != "" && !slices.Contains(labels(a), tc.label) {
				t.Errorf("rhythm %v, want %s", a.Measurements.Rhythm, tc.label)
			}
			for _, f := range a.Flags {
				if f.Evidence == "" || f.TableVersion == "" {
					t.Errorf("flag without evidence/version: %+v", f)
				}
			}
		})
	}
}

func deref(p *float64) float64 {
	if p == nil {
		return math.NaN()
	}
	return *p
}

// TestNoiseNeverFlags: pure noise of several kinds and amplitudes must never
// yield a critical flag.
func TestNoiseNeverFlags(t *testing.T) {
	for seed := uint64(1); seed <= 6; seed++ {
		for _, amp := range []float64{20, 100, 400, 1500} {
			rec, _ := synth.Make(synth.Spec{Seed: seed})
			noise, _ := synth.Make(synth.Spec{Seed: seed, NoiseuV: amp, WanderuV: amp * float64(seed%3), MainsuV: amp * float64(seed%2)})
			// keep only the noise: subtract the clean ECG
			for i := range rec.Leads {
				for j := range rec.Leads[i].Samples {
					rec.Leads[i].Samples[j] = noise.Leads[i].Samples[j] - rec.Leads[i].Samples[j]
				}
			}
			a, err := analysis.Analyze(rec, analysis.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if len(a.Flags) > 0 {
				t.Errorf("seed %d amp %g: noise flagged %v (%s)", seed, amp, ruleIDs(a), a.Flags[0].Evidence)
			}
		}
	}
}

func TestInvalidRecords(t *testing.T) {
	good, _ := synth.Make(synth.Spec{})
	nan := *good
	nan.Leads = slices.Clone(good.Leads)
	nan.Leads[0].Samples = slices.Clone(good.Leads[0].Samples)
	nan.Leads[0].Samples[10] = math.NaN()
	absurd := *good
	absurd.FS = 5
	ragged := *good
	ragged.Leads = slices.Clone(good.Leads)
	ragged.Leads[1].Samples = ragged.Leads[1].Samples[:100]
	empty := *good
	empty.Leads = nil
	for name, r := range map[string]*ecg.Record{"nan": &nan, "5 Hz": &absurd, "ragged": &ragged, "no leads": &empty} {
		if _, err := analysis.Analyze(r, analysis.Options{}); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestProvinceTable(t *testing.T) {
	table, err := rules.Load(strings.NewReader(`{"name":"zj-province","version":"2025-03","region":"浙江",
	"rules":[{"id":"tachy-150","tier":"critical","kind":"threshold","title":"HR > 150","measure":"hr_bpm","op":">","value":150},
	{"id":"brady-50","tier":"major","kind":"threshold","title":"HR < 50","measure":"hr_bpm","op":"<","value":50}]}`))
	if err != nil {
		t.Fatal(err)
	}
	rec, _ := synth.Make(synth.Spec{HR: 160, QTScale: 0.7})
	a, err := analysis.Analyze(rec, analysis.Options{Rules: table})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ruleIDs(a), []string{"tachy-150"}) || a.RuleVersion != "2025-03" || a.Flags[0].TableVersion != "2025-03" || !a.Critical {
		t.Errorf("flags %+v version %s", a.Flags, a.RuleVersion)
	}
	if _, err := rules.Load(strings.NewReader(`{"name":"x","version":"1","rules":[{"id":"a","tier":"critical","kind":"threshold","measure":"heart","op":">","value":1}]}`)); !errors.Is(err, rules.ErrInvalidTable) {
		t.Errorf("bad measure accepted: %v", err)
	}
}

// TestDeviceFiles reads every ECG in testdata and compares Huren's
// intervals with the device's own (Mortara ELI 250 / el250). Each file must
// yield the comparisons its device stored (an empty list would pass every
// tolerance), and each comparison must be within its tolerance.
func TestDeviceFiles(t *testing.T) {
	tol := map[string]float64{"PR Interval": 20, "QRS Duration": 15, "QT Interval": 25, "QTc Interval": 25,
		"P Duration": 15, "QRS Axis": 15, "P Axis": 15, "T Axis": 15, "RR Interval": 5, "Heart rate": 3}
	tests := []struct {
		path string
		want []string // device measurements the file carries
	}{
		{"../dicomwave/testdata/waveform_ecg.dcm", []string{"RR Interval", "PR Interval", "QRS Duration", "QT Interval", "QTc Interval", "P Axis", "QRS Axis", "T Axis"}},
		{"../aecg/testdata/Example_aECG.xml", []string{"P Duration", "PR Interval", "QRS Duration", "QT Interval", "QTc Interval", "P Axis", "QRS Axis", "T Axis"}},
		{"../scp/testdata/Example.scp", []string{"PR Interval", "QRS Duration", "QT Interval", "P Duration", "P Axis", "QRS Axis", "T Axis"}},
		{"../dicomwave/testdata/wave_dfl", []string{"Heart rate"}},
		{"../wfdb/testdata/100s", nil}, // WFDB carries no device measurements
	}
	for _, tc := range tests {
		p := tc.path
		rec, _, err := read.File(p)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		a, err := analysis.Analyze(rec, analysis.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if !a.Interpretable || len(a.Flags) != 0 {
			t.Errorf("%s: interpretable %v reasons %v flags %v", p, a.Interpretable, a.Reasons, a.Flags)
		}
		var got []string
		for _, c := range a.DeviceCompare {
			got = append(got, c.Name)
			t.Logf("%s: %-13s device %6.0f huren %6.1f", p[strings.LastIndex(p, "/")+1:], c.Name, c.Device, deref(c.Huren))
			lim, ok := tol[c.Name]
			if !ok {
				t.Errorf("%s: %s has no tolerance in this test", p, c.Name)
				continue
			}
			if c.Huren == nil || math.Abs(*c.Huren-c.Device) > lim {
				t.Errorf("%s %s: device %v huren %v (tolerance %v)", p, c.Name, c.Device, deref(c.Huren), lim)
			}
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: compared %v, want %v", p, got, tc.want)
		}
	}
}

// TestInterferenceOnNormalECG: a normal ECG with interference just below the
// quality thresholds must still produce no flag (no ST shift from wander).
func TestInterferenceOnNormalECG(t *testing.T) {
	for _, sp := range []synth.Spec{
		{HR: 70, WanderuV: 1200, Sex: "F", Age: 30},
		{HR: 70, MainsuV: 800, Sex: "F", Age: 30},
		{HR: 70, NoiseuV: 25, Sex: "F", Age: 30, Seed: 4},
		{HR: 70, WanderuV: 800, MainsuV: 300, NoiseuV: 15, Sex: "M", Age: 25, Seed: 5},
	} {
		rec, _ := synth.Make(sp)
		a, err := analysis.Analyze(rec, analysis.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if len(a.Flags) > 0 {
			t.Errorf("%+v: flagged %v (%s)", sp, ruleIDs(a), a.Flags[0].Evidence)
		}
	}
}

// TestDeviceContradictsTiming: the aECG example whose device states HR 57
// while its declared sampling interval makes the waveform 11 bpm must not
// page anyone: the rate flags stay, demoted to the major tier with the
// reason.
func TestDeviceContradictsTiming(t *testing.T) {
	rec, _, err := read.File("../aecg/testdata/hl7aecg_example_liryc.xml")
	if err != nil {
		t.Fatal(err)
	}
	a, err := analysis.Analyze(rec, analysis.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if a.Critical || len(a.Flags) == 0 {
		t.Fatalf("critical %v flags %v", a.Critical, ruleIDs(a))
	}
	for _, f := range a.Flags {
		if f.Tier != rules.Major {
			t.Errorf("flag %s tier %s", f.RuleID, f.Tier)
		}
	}
}
