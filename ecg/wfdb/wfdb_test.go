package wfdb

import (
	"bytes"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/huren-health/huren/ecg"
	"github.com/huren-health/huren/ecg/internal/shareddata"
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
	dir := shareddata.Dir(t, "ecg/mitdb", "100.atr")
	b, err := os.ReadFile(filepath.Join(dir, "100.atr"))
	if err != nil {
		t.Fatal(err)
	}
	full, err := ReadAnnotations(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	// A cut inside a word (odd length) must error. A cut between words is
	// either inside a SKIP/AUX payload (ErrTruncated) or reads as a file
	// without its end marker: then it must return a prefix of the full
	// list, never a misread annotation.
	for _, cut := range []int{1, 3, 5, len(b)/2 + 1, len(b) - 1, 2, 4, len(b) / 2 &^ 1} {
		anns, err := ReadAnnotations(bytes.NewReader(b[:cut]))
		if cut%2 == 1 {
			if !errors.Is(err, ecg.ErrTruncated) {
				t.Errorf("cut at %d (mid-word): err %v, want ErrTruncated", cut, err)
			}
			continue
		}
		if errors.Is(err, ecg.ErrTruncated) {
			continue
		}
		if err != nil {
			t.Errorf("cut at %d (word boundary): %v", cut, err)
			continue
		}
		// The last annotation of a prefix may have lost its AUX text.
		same := func(a, b ecg.Annotation) bool { return a.Sample == b.Sample && a.Code == b.Code }
		if len(anns) > len(full) || !slices.EqualFunc(anns, full[:len(anns)], same) {
			t.Errorf("cut at %d: %d annotations, not a prefix of the full list", cut, len(anns))
		}
	}
	// A SKIP cut anywhere inside its 4-byte interval must error.
	for _, tail := range [][]byte{{}, {0}, {0, 0}, {0, 0, 0}} {
		in := append([]byte{0, 0xEC}, tail...)
		if _, err := ReadAnnotations(bytes.NewReader(in)); !errors.Is(err, ecg.ErrTruncated) {
			t.Errorf("SKIP cut after %d bytes: %v", len(tail), err)
		}
	}
}

// TestNegativeSkip reads testdata/negskip.atr (built by hand, see
// testdata/README.md): the SKIP interval is a signed 32-bit value, high word
// first.
func TestNegativeSkip(t *testing.T) {
	b, err := os.ReadFile("testdata/negskip.atr")
	if err != nil {
		t.Fatal(err)
	}
	anns, err := ReadAnnotations(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	want := []ecg.Annotation{{Sample: 100, Code: "N"}, {Sample: 2110, Code: "A", Aux: "AB"}, {Sample: 3110, Code: "N"}, {Sample: 5100, Code: "V"}, {Sample: 73115, Code: "N"}}
	if diff := cmp.Diff(want, anns); diff != "" {
		t.Errorf("annotations (-want +got):\n%s", diff)
	}
}

func TestSkipOutOfRange(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
	}{
		// N at 10, then SKIP −11: before sample 0.
		{"before zero", []byte{10, 4, 0, 0xEC, 0xFF, 0xFF, 0xF5, 0xFF, 0, 4}},
		// SKIP +2³¹−1 twice: past the largest sample.
		{"past max", []byte{0, 0xEC, 0xFF, 0x7F, 0xFF, 0xFF, 0, 0xEC, 0xFF, 0x7F, 0xFF, 0xFF, 1, 4}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ReadAnnotations(bytes.NewReader(tc.in)); !errors.Is(err, ecg.ErrFormat) {
				t.Errorf("err %v, want ErrFormat", err)
			}
		})
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
	for _, name := range []string{"testdata/100s.atr", "testdata/negskip.atr"} {
		atr, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(atr)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		anns, err := ReadAnnotations(bytes.NewReader(b))
		if err == nil {
			for i := 1; i < len(anns); i++ {
				if anns[i].Sample < anns[i-1].Sample {
					t.Fatalf("annotation times go backwards: %v", anns[i-1:i+1])
				}
			}
			for _, a := range anns {
				if a.Sample < 0 || a.Sample > math.MaxInt32 {
					t.Fatalf("annotation at sample %d", a.Sample)
				}
			}
		}
	})
}
