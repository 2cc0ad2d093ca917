package dicomwave

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
		leads   int
		samples int
		first   string
		device  string
	}{
		{"waveform_ecg.dcm", 1000, 12, 10000, "I", "Mortara Instrument, Inc. el250"},
		{"wave_dfl", 240, 12, 2400, "I", ""},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			f, err := os.Open("testdata/" + tc.file)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			rec, err := Read(f)
			if err != nil {
				t.Fatal(err)
			}
			if rec.FS != tc.fs || len(rec.Leads) != tc.leads || rec.Len() != tc.samples || rec.Leads[0].Name != tc.first {
				t.Errorf("fs %g leads %d samples %d first %q", rec.FS, len(rec.Leads), rec.Len(), rec.Leads[0].Name)
			}
			if tc.device != "" && rec.Device != tc.device {
				t.Errorf("device %q", rec.Device)
			}
			var names []string
			for _, l := range rec.Leads {
				names = append(names, l.Name)
			}
			t.Logf("leads %v patient %+v acquired %v measurements %d statements %v", names, rec.Patient, rec.Acquired, len(rec.DeviceMeasurements), rec.DeviceStatements)
		})
	}
}

func TestDeviceMeasurements(t *testing.T) {
	b, err := os.ReadFile("testdata/waveform_ecg.dcm")
	if err != nil {
		t.Fatal(err)
	}
	rec, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{"PR Interval": 161, "QRS Duration": 75, "QT Interval": 368, "QTc Interval": 370, "QRS Axis": 52}
	got := map[string]float64{}
	for _, m := range rec.DeviceMeasurements {
		got[m.Name] = m.Value
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	if rec.Patient.Sex != "F" || rec.Patient.AgeYears != 42 {
		t.Errorf("patient %+v", rec.Patient)
	}
}

// TestTruncated cuts the file at many points: every cut must give an error
// (never a panic, never a silently shorter recording).
func TestTruncated(t *testing.T) {
	for _, name := range []string{"waveform_ecg.dcm", "wave_dfl"} {
		b, err := os.ReadFile("testdata/" + name)
		if err != nil {
			t.Fatal(err)
		}
		for cut := 0; cut < len(b)-1; cut += 1 + len(b)/97 {
			rec, err := Parse(b[:cut])
			if err == nil {
				t.Errorf("%s cut at %d/%d: no error (%d samples)", name, cut, len(b), rec.Len())
				continue
			}
			if !errors.Is(err, ecg.ErrTruncated) && !errors.Is(err, ecg.ErrFormat) && !errors.Is(err, ecg.ErrNoWaveform) {
				t.Errorf("%s cut at %d: untyped error %v", name, cut, err)
			}
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, name := range []string{"waveform_ecg.dcm", "wave_dfl"} {
		b, err := os.ReadFile("testdata/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		rec, err := Parse(b)
		if err == nil {
			if verr := rec.Validate(); verr != nil {
				t.Fatalf("Parse returned an invalid record: %v", verr)
			}
		}
	})
}

// TestWrongLeadCount: a channel count that disagrees with the channel
// definitions, or one larger than the data holds, is an error.
func TestWrongLeadCount(t *testing.T) {
	b, err := os.ReadFile("testdata/waveform_ecg.dcm")
	if err != nil {
		t.Fatal(err)
	}
	// (003A,0005) US, value 12, explicit VR little endian.
	tag := []byte{0x3a, 0x00, 0x05, 0x00, 'U', 'S', 0x02, 0x00, 12, 0}
	i := bytes.Index(b, tag)
	if i < 0 {
		t.Fatal("channel count element not found")
	}
	for _, n := range []byte{11, 13, 0} {
		c := bytes.Clone(b)
		c[i+8] = n
		if _, err := Parse(c); err == nil {
			t.Errorf("%d channels declared: no error", n)
		}
	}
}
