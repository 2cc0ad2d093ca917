package aecg

import (
	"bytes"
	"errors"
	"os"
	"testing"

	"github.com/huren-health/huren/ecg"
)

func TestReadTestdata(t *testing.T) {
	tests := []struct {
		file    string
		fs      float64
		minLead int
		err     error
	}{
		{"Example_aECG.xml", 500, 12, nil},
		{"hl7aecg_example_liryc.xml", 100, 12, nil},
		{"minimum_aecg.xml", 500, 1, nil},
		{"empty.xml", 0, 0, ecg.ErrNoWaveform},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			f, err := os.Open("testdata/" + tc.file)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			rec, err := Read(f)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("err %v, want %v", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if rec.FS != tc.fs || len(rec.Leads) < tc.minLead {
				t.Errorf("fs %g leads %d", rec.FS, len(rec.Leads))
			}
			var names []string
			for _, l := range rec.Leads {
				names = append(names, l.Name)
			}
			t.Logf("leads %v n=%d patient %+v acquired %v meas %v stmts %v notes %v", names, rec.Len(), rec.Patient, rec.Acquired, rec.DeviceMeasurements, rec.DeviceStatements, rec.Notes)
		})
	}
}

func TestTruncated(t *testing.T) {
	b, err := os.ReadFile("testdata/Example_aECG.xml")
	if err != nil {
		t.Fatal(err)
	}
	for cut := 1; cut < len(b)-1; cut += len(b) / 53 {
		if _, err := Read(bytes.NewReader(b[:cut])); err == nil {
			t.Errorf("cut at %d: no error", cut)
		}
	}
}

func FuzzRead(f *testing.F) {
	for _, name := range []string{"minimum_aecg.xml", "empty.xml"} {
		b, err := os.ReadFile("testdata/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		rec, err := Read(bytes.NewReader(b))
		if err == nil {
			if verr := rec.Validate(); verr != nil {
				t.Fatalf("invalid record: %v", verr)
			}
		}
	})
}
