package render

import (
	"bytes"
	"encoding/xml"
	"errors"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/huren-health/huren/ecg"
	"github.com/huren-health/huren/ecg/analysis"
	"github.com/huren-health/huren/ecg/internal/synth"
	"github.com/huren-health/huren/ecg/read"
)

// Set HUREN_ECG_RENDER_DIR to keep the images for a visual check.
func outDir(t *testing.T) string {
	if d := os.Getenv("HUREN_ECG_RENDER_DIR"); d != "" {
		return d
	}
	return t.TempDir()
}

func TestRenderLayouts(t *testing.T) {
	stemi, _ := synth.Make(synth.Spec{HR: 85, Sex: "M", Age: 61, STuV: map[string]float64{"V2": 300, "V3": 350, "V4": 250}})
	dcm, _, err := read.File("../dicomwave/testdata/waveform_ecg.dcm")
	if err != nil {
		t.Fatal(err)
	}
	mit, _, err := read.File("../wfdb/testdata/100s")
	if err != nil {
		t.Fatal(err)
	}
	type tc struct {
		name string
		a    *analysis.Analysis
		o    Options
	}
	analyze := func(rec *ecg.Record) *analysis.Analysis {
		a, err := analysis.Analyze(rec, analysis.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	cases := []tc{
		{"stemi-25-10", analyze(stemi), Options{}},
		{"dicom-50-20", analyze(dcm), Options{SpeedMMs: 50, GainMMmV: 20}},
		{"dicom-25-5", analyze(dcm), Options{GainMMmV: 5}},
		{"mit-2lead", analyze(mit), Options{}},
	}
	dir := outDir(t)
	for _, c := range cases {
		var svg, pngb bytes.Buffer
		if err := SVG(&svg, c.a, c.o); err != nil {
			t.Fatal(err)
		}
		if err := PNG(&pngb, c.a, c.o); err != nil {
			t.Fatal(err)
		}
		// Well-formed XML, sized in mm.
		d := xml.NewDecoder(bytes.NewReader(svg.Bytes()))
		for {
			_, err := d.Token()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("%s: SVG not well-formed: %v", c.name, err)
			}
		}
		if !strings.Contains(svg.String(), `width="270.00mm"`) {
			t.Errorf("%s: SVG not sized in mm", c.name)
		}
		img, err := png.Decode(bytes.NewReader(pngb.Bytes()))
		if err != nil {
			t.Fatal(err)
		}
		if img.Bounds().Dx() != 1350 {
			t.Errorf("%s: PNG width %d", c.name, img.Bounds().Dx())
		}
		os.WriteFile(filepath.Join(dir, c.name+".svg"), svg.Bytes(), 0o644)
		os.WriteFile(filepath.Join(dir, c.name+".png"), pngb.Bytes(), 0o644)
	}
	if !strings.Contains(cases[0].a.Flags[0].Evidence, "V2") {
		t.Errorf("STEMI case lacks its flag: %+v", cases[0].a.Flags)
	}
}

func TestOptionsRejected(t *testing.T) {
	rec, _ := synth.Make(synth.Spec{})
	a, _ := analysis.Analyze(rec, analysis.Options{})
	for _, o := range []Options{{SpeedMMs: 30}, {GainMMmV: 7}, {PxPerMM: 100}} {
		if err := SVG(io.Discard, a, o); !errors.Is(err, ErrOptions) {
			t.Errorf("%+v: %v", o, err)
		}
	}
}
