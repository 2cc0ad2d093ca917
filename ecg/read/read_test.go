package read

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/huren-health/huren/ecg"
)

func TestFiles(t *testing.T) {
	tests := []struct {
		path   string
		format ecg.Format
		err    error
	}{
		{"../dicomwave/testdata/waveform_ecg.dcm", ecg.FormatDICOM, nil},
		{"../dicomwave/testdata/wave_dfl", ecg.FormatDICOM, nil},
		{"../aecg/testdata/Example_aECG.xml", ecg.FormatAECG, nil},
		{"../aecg/testdata/hl7aecg_example_liryc.xml", ecg.FormatAECG, nil},
		{"../aecg/testdata/minimum_aecg.xml", ecg.FormatAECG, nil},
		{"../aecg/testdata/empty.xml", ecg.FormatAECG, ecg.ErrNoWaveform},
		{"../scp/testdata/Example.scp", ecg.FormatSCP, nil},
		{"../scp/testdata/healforce_62.SCP", ecg.FormatSCP, ecg.ErrTruncated},
		{"../wfdb/testdata/100s", ecg.FormatWFDB, nil},
		{"../wfdb/testdata/100s.hea", ecg.FormatWFDB, nil},
		{"../wfdb/testdata/100s.dat", "", ecg.ErrUnknownFormat},
	}
	for _, tc := range tests {
		rec, f, err := File(tc.path)
		if f != tc.format {
			t.Errorf("%s: format %q, want %q", tc.path, f, tc.format)
		}
		if tc.err != nil {
			if !errors.Is(err, tc.err) {
				t.Errorf("%s: err %v, want %v", tc.path, err, tc.err)
			}
			continue
		}
		if err != nil || rec.Validate() != nil {
			t.Errorf("%s: %v", tc.path, err)
		}
	}
}

func TestReaderRejectsHeaderAlone(t *testing.T) {
	b, _ := os.ReadFile("../wfdb/testdata/100s.hea")
	_, f, err := Reader(strings.NewReader(string(b)))
	if f != ecg.FormatWFDB || !errors.Is(err, ecg.ErrNoWaveform) {
		t.Errorf("%q %v", f, err)
	}
}
