package scp

import (
	"errors"
	"os"
	"testing"

	"github.com/huren-health/huren/ecg"
)

func TestReadExample(t *testing.T) {
	b, err := os.ReadFile("testdata/Example.scp")
	if err != nil {
		t.Fatal(err)
	}
	if !Sniff(b) {
		t.Error("Sniff(Example.scp) = false")
	}
	rec, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if rec.FS != 500 || len(rec.Leads) != 12 || rec.Len() != 5000 || rec.Patient.ID != "SBJ-123" || rec.Patient.Sex != "M" {
		t.Errorf("fs %g leads %d n %d patient %+v", rec.FS, len(rec.Leads), rec.Len(), rec.Patient)
	}
	got := map[string]float64{}
	for _, m := range rec.DeviceMeasurements {
		got[m.Name] = m.Value
	}
	// Section 7 agrees with the aECG's device annotations (same recording).
	for k, v := range map[string]float64{"PR Interval": 148, "QRS Duration": 120, "QT Interval": 420} {
		if got[k] != v {
			t.Errorf("%s = %v, want %v (all: %v)", k, got[k], v, rec.DeviceMeasurements)
		}
	}
}

// TestHealforce: the Heal Force file has a garbage record length and a
// section 3 declaring more leads than it holds; it must fail clearly.
func TestHealforce(t *testing.T) {
	b, err := os.ReadFile("testdata/healforce_62.SCP")
	if err != nil {
		t.Fatal(err)
	}
	if !Sniff(b) {
		t.Error("Sniff(healforce) = false")
	}
	_, err = Parse(b)
	if !errors.Is(err, ecg.ErrTruncated) {
		t.Fatalf("err = %v, want ErrTruncated", err)
	}
}

func TestTruncated(t *testing.T) {
	b, err := os.ReadFile("testdata/Example.scp")
	if err != nil {
		t.Fatal(err)
	}
	for cut := 0; cut < len(b)-1; cut += 1 + len(b)/101 {
		if rec, err := Parse(b[:cut]); err == nil {
			t.Errorf("cut at %d: no error, %d samples", cut, rec.Len())
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, name := range []string{"Example.scp", "healforce_62.SCP"} {
		b, err := os.ReadFile("testdata/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	rb, _ := buildRefBeatSCP()
	f.Add(rb)
	f.Fuzz(func(t *testing.T, b []byte) {
		rec, err := Parse(b)
		if err == nil {
			if verr := rec.Validate(); verr != nil {
				t.Fatalf("invalid record: %v", verr)
			}
		}
	})
}
