package analysis_test

import (
	"fmt"

	"github.com/huren-health/huren/ecg/analysis"
	"github.com/huren-health/huren/ecg/read"
)

// Read a DICOM 12-lead waveform, analyse it with the default filters and
// rule table, and print the headline numbers.
func Example() {
	rec, format, err := read.File("../dicomwave/testdata/waveform_ecg.dcm")
	if err != nil {
		fmt.Println(err)
		return
	}
	a, err := analysis.Analyze(rec, analysis.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	m := a.Measurements
	fmt.Printf("%s, %d leads, interpretable %v\n", format, len(a.Leads), a.Interpretable)
	fmt.Printf("HR %.0f bpm, QRS %.0f ms, rhythm %s\n", m.RR.HR, *m.QRS, m.Rhythm[0].Text)
	fmt.Printf("critical flags: %d (table %s %s)\n", len(a.Flags), a.RuleTable, a.RuleVersion)
	// Output:
	// dicom, 12 leads, interpretable true
	// HR 61 bpm, QRS 77 ms, rhythm sinus rhythm
	// critical flags: 0 (table huren-default 2026.2)
}
