// Package ecgcli implements `huren ecg …`:
//
//	huren ecg analyze FILE [--json] [--svg out.svg] [--png out.png]
//	                       [--rules province.json] [--speed 25|50] [--gain 5|10|20] [--mains 50|60]
//
// FILE is a DICOM waveform, HL7 aECG XML or SCP-ECG file, or a WFDB record
// path without extension (like the WFDB tools). The default output is a
// readable table; --json prints one JSON object (fs, beats, measurements,
// flags with evidence, quality, device comparison). The exit error is non-nil
// only when the file cannot be read or the options are wrong: a recording
// that is not interpretable is a successful analysis that says so.
package ecgcli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/huren-health/huren/ecg/analysis"
	"github.com/huren-health/huren/ecg/dsp"
	"github.com/huren-health/huren/ecg/read"
	"github.com/huren-health/huren/ecg/render"
	"github.com/huren-health/huren/ecg/rules"
)

const usage = `usage: huren ecg analyze FILE [--json] [--svg out.svg] [--png out.png] [--rules province.json]
                         [--speed 25|50] [--gain 5|10|20] [--mains 50|60]
FILE: DICOM waveform, HL7 aECG (.xml), SCP-ECG, or a WFDB record path without extension.`

// ErrUsage is returned for bad command lines.
var ErrUsage = errors.New("ecg: usage")

// Main runs `huren ecg ARGS…` (args excludes "ecg").
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintln(stderr, usage)
		if len(args) == 0 {
			return ErrUsage
		}
		return nil
	}
	switch args[0] {
	case "analyze":
		return analyze(ctx, args[1:], stdout, stderr)
	}
	fmt.Fprintln(stderr, usage)
	return fmt.Errorf("%w: unknown command %q", ErrUsage, args[0])
}

func analyze(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fset := flag.NewFlagSet("huren ecg analyze", flag.ContinueOnError)
	fset.SetOutput(stderr)
	asJSON := fset.Bool("json", false, "print one JSON object")
	svgOut := fset.String("svg", "", "write the 12-lead tracing as SVG")
	pngOut := fset.String("png", "", "write the 12-lead tracing as PNG")
	rulesFile := fset.String("rules", "", "critical-value rule table (JSON); default: built-in")
	speed := fset.Float64("speed", 25, "paper speed, mm/s (25 or 50)")
	gain := fset.Float64("gain", 10, "gain, mm/mV (5, 10 or 20)")
	mains := fset.Float64("mains", 50, "power-line notch, Hz (50 or 60; 0 = off)")
	// Flags may come before or after FILE.
	var pos []string
	rest := args
	for {
		if err := fset.Parse(rest); err != nil {
			return fmt.Errorf("%w: %v", ErrUsage, err)
		}
		if fset.NArg() == 0 {
			break
		}
		pos = append(pos, fset.Arg(0))
		rest = fset.Args()[1:]
	}
	if len(pos) != 1 {
		fmt.Fprintln(stderr, usage)
		return fmt.Errorf("%w: want exactly one FILE, got %d", ErrUsage, len(pos))
	}
	if *mains != 0 && *mains != 50 && *mains != 60 {
		return fmt.Errorf("%w: --mains %g (50, 60 or 0)", ErrUsage, *mains)
	}
	ropts := render.Options{SpeedMMs: *speed, GainMMmV: *gain}
	opts := analysis.Options{}
	fo := dsp.DefaultOptions()
	fo.MainsHz = *mains
	opts.Filter = &fo
	if *rulesFile != "" {
		f, err := os.Open(*rulesFile)
		if err != nil {
			return fmt.Errorf("rules: %w", err)
		}
		t, err := rules.Load(f)
		f.Close()
		if err != nil {
			return fmt.Errorf("rules %s: %w", *rulesFile, err)
		}
		opts.Rules = t
	}
	rec, _, err := read.File(pos[0])
	if err != nil {
		return err
	}
	a, err := analysis.Analyze(rec, opts)
	if err != nil {
		return fmt.Errorf("analyze %s: %w", pos[0], err)
	}
	for _, out := range []struct {
		path string
		f    func(io.Writer, *analysis.Analysis, render.Options) error
	}{{*svgOut, render.SVG}, {*pngOut, render.PNG}} {
		if out.path == "" {
			continue
		}
		if err := writeFile(out.path, func(w io.Writer) error { return out.f(w, a, ropts) }); err != nil {
			return err
		}
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(a)
	}
	return table(stdout, a)
}

// writeFile writes via a temporary file and rename, so a failed render never
// leaves a half-written image behind.
func writeFile(path string, fill func(io.Writer) error) error {
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if err := fill(f); err != nil {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return os.Rename(tmp, path)
}

func val(p *float64, unit string) string {
	if p == nil {
		return "—"
	}
	return fmt.Sprintf("%.0f %s", *p, unit)
}

func table(w io.Writer, a *analysis.Analysis) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	p := a.Patient
	fmt.Fprintf(tw, "Recording\t%s, %g Hz, %.1f s, %d leads (%s)\n", a.Format, a.FS, a.DurationS, len(a.Leads), strings.Join(a.Leads, " "))
	if p.Name != "" || p.ID != "" || p.Sex != "" || p.AgeYears > 0 {
		fmt.Fprintf(tw, "Patient\t%s %s %s %s\n", p.Name, p.ID, p.Sex, ageStr(p.AgeYears))
	}
	if a.Acquired != nil {
		fmt.Fprintf(tw, "Acquired\t%s %s\n", a.Acquired.Format("2006-01-02 15:04:05"), a.Device)
	}
	verdict := "interpretable"
	if !a.Interpretable {
		verdict = "NOT INTERPRETABLE — repeat the ECG: " + strings.Join(a.Reasons, "; ")
	}
	fmt.Fprintf(tw, "Verdict\t%s\n", verdict)
	fmt.Fprintf(tw, "Quality\t%s\n", a.Quality.Summary)
	m := a.Measurements
	if m.RR.Beats >= 2 {
		fmt.Fprintf(tw, "Heart rate\t%.0f bpm (min %.0f, max %.0f), %d beats in lead %s\n", m.RR.HR, m.RR.HRMin, m.RR.HRMax, m.RR.Beats, a.BeatLead)
		fmt.Fprintf(tw, "RR\tmean %.0f ms, SD %.0f ms, longest %.0f ms\n", m.RR.MeanRR, m.RR.SDRR, m.RR.LongestRR)
	} else {
		fmt.Fprintf(tw, "Heart rate\t— (%d beats)\n", m.RR.Beats)
	}
	fmt.Fprintf(tw, "PR\t%s\n", val(m.PR, "ms"))
	fmt.Fprintf(tw, "QRS\t%s\n", val(m.QRS, "ms"))
	if m.QT == nil && m.QTNotMeasurable != "" {
		fmt.Fprintf(tw, "QT / QTc\tnot measurable: %s\n", m.QTNotMeasurable)
	} else {
		fmt.Fprintf(tw, "QT / QTcB / QTcF\t%s / %s / %s\n", val(m.QT, "ms"), val(m.QTcB, "ms"), val(m.QTcF, "ms"))
	}
	fmt.Fprintf(tw, "Axis P / QRS / T\t%s / %s / %s\n", val(m.PAxis, "°"), val(m.QRSAxis, "°"), val(m.TAxis, "°"))
	for _, r := range m.Rhythm {
		fmt.Fprintf(tw, "Rhythm\t%s (%s)\n", r.Text, r.Why)
	}
	if len(m.ST) > 0 {
		var j, j60 []string
		for _, s := range m.ST {
			j = append(j, fmt.Sprintf("%s %+.2f", s.Lead, s.J/1000))
			j60 = append(j60, fmt.Sprintf("%s %+.2f", s.Lead, s.J60/1000))
		}
		fmt.Fprintf(tw, "ST J (mV)\t%s\n", strings.Join(j, "  "))
		fmt.Fprintf(tw, "ST J+60 (mV)\t%s\n", strings.Join(j60, "  "))
	}
	if len(a.Flags) == 0 {
		fmt.Fprintf(tw, "Critical flags\tnone (table %s %s)\n", a.RuleTable, a.RuleVersion)
	}
	for _, f := range a.Flags {
		fmt.Fprintf(tw, "FLAG %s\t%s [%s, rule %s, table %s %s]\n\t%s\n", strings.ToUpper(f.Tier), f.Title, f.Tier, f.RuleID, f.TableName, f.TableVersion, f.Evidence)
		if f.Basis != "" {
			fmt.Fprintf(tw, "\tbasis: %s\n", f.Basis)
		}
	}
	for _, c := range a.DeviceCompare {
		h := "—"
		if c.Huren != nil {
			h = fmt.Sprintf("%.0f", *c.Huren)
		}
		fmt.Fprintf(tw, "Device %s\t%g %s (Huren %s)\n", c.Name, c.Device, c.Unit, h)
	}
	for _, s := range a.DeviceStatements {
		fmt.Fprintf(tw, "Device statement\t%s\n", s)
	}
	for _, n := range a.Notes {
		fmt.Fprintf(tw, "Note\t%s\n", n)
	}
	return tw.Flush()
}

func ageStr(n int) string {
	if n <= 0 {
		return ""
	}
	return fmt.Sprintf("%d y", n)
}
