// Package render draws a 12-lead ECG the way it is printed on paper: a 3×4
// grid of leads (I II III | aVR aVL aVF | V1 V2 V3 | V4 V5 V6, each column a
// consecutive time window) plus a full-length lead II rhythm strip, on 1 mm /
// 5 mm grid paper at 25 mm/s and 10 mm/mV (50 mm/s and 5/20 mm/mV as
// options), with a 1 mV calibration pulse, lead labels and a header carrying
// patient, measurements, rhythm statements, critical flags and the signal
// quality verdict.
//
// SVG is for the browser; PNG (rasterised by this package, no external
// tools) for reports. PDF is produced by the report engine from the SVG or
// PNG. Render functions are pure and safe for concurrent use.
package render

import (
	"fmt"
	"math"
	"strings"

	"github.com/huren-health/huren/ecg"
	"github.com/huren-health/huren/ecg/analysis"
	"github.com/huren-health/huren/ecg/dsp"
	"github.com/huren-health/huren/errkind"
)

// ErrOptions: unsupported paper speed or gain.
var ErrOptions = errkind.New(errkind.Invalid, "render: invalid options")

// Options select paper speed and gain.
type Options struct {
	SpeedMMs float64 // 25 (default) or 50
	GainMMmV float64 // 10 (default), 5 or 20
	// PxPerMM is the PNG resolution (default 5 px/mm ≈ 127 dpi).
	PxPerMM float64
}

func (o Options) withDefaults() (Options, error) {
	if o.SpeedMMs == 0 {
		o.SpeedMMs = 25
	}
	if o.GainMMmV == 0 {
		o.GainMMmV = 10
	}
	if o.PxPerMM == 0 {
		o.PxPerMM = 5
	}
	if o.SpeedMMs != 25 && o.SpeedMMs != 50 {
		return o, fmt.Errorf("%w: speed %g mm/s (25 or 50)", ErrOptions, o.SpeedMMs)
	}
	if o.GainMMmV != 5 && o.GainMMmV != 10 && o.GainMMmV != 20 {
		return o, fmt.Errorf("%w: gain %g mm/mV (5, 10 or 20)", ErrOptions, o.GainMMmV)
	}
	if o.PxPerMM < 2 || o.PxPerMM > 20 {
		return o, fmt.Errorf("%w: resolution %g px/mm", ErrOptions, o.PxPerMM)
	}
	return o, nil
}

// Colours of ECG paper.
const (
	colPaper   = "#fffafa"
	colMinor   = "#f6c9c9"
	colMajor   = "#e08a8a"
	colTrace   = "#000000"
	colText    = "#202020"
	colFlag    = "#c00000"
	colWarning = "#b05000"
)

// canvas is what both back ends implement; units are millimetres.
type canvas interface {
	rect(x, y, w, h float64, fill string)
	line(x1, y1, x2, y2, width float64, col string)
	polyline(pts []float64, width float64, col string) // x0,y0,x1,y1...
	text(x, y float64, s string, sizeMM float64, col string, bold bool)
}

// Page geometry (mm).
const (
	marginL  = 12.0
	marginR  = 8.0
	stripW   = 250.0
	headerH  = 34.0
	footerH  = 6.0
	calW     = 5.0 // 200 ms at 25 mm/s
	labelPad = 1.5
)

type layout struct {
	o      Options
	w, h   float64
	rowH   float64
	gridY0 float64
}

func newLayout(o Options) layout {
	rowH := math.Max(25, 3.5*o.GainMMmV)
	l := layout{o: o, rowH: rowH, gridY0: headerH}
	l.w = marginL + stripW + marginR
	l.h = headerH + 4*rowH + footerH
	return l
}

// draw paints the whole page.
func draw(c canvas, a *analysis.Analysis, l layout) {
	o := l.o
	c.rect(0, 0, l.w, l.h, "#ffffff")
	gx0, gy0 := marginL-calW-2, l.gridY0
	gw, gh := stripW+calW+2, 4*l.rowH
	c.rect(gx0, gy0, gw, gh, colPaper)
	// Grid: 1 mm minor, 5 mm major, anchored at the trace origin.
	for x := marginL; x <= marginL+stripW+1e-9; x++ {
		c.line(x, gy0, x, gy0+gh, 0.1, colMinor)
	}
	for x := marginL - 1; x >= gx0-1e-9; x-- {
		c.line(x, gy0, x, gy0+gh, 0.1, colMinor)
	}
	for y := gy0; y <= gy0+gh+1e-9; y++ {
		c.line(gx0, y, gx0+gw, y, 0.1, colMinor)
	}
	for x := marginL; x <= marginL+stripW+1e-9; x += 5 {
		c.line(x, gy0, x, gy0+gh, 0.25, colMajor)
	}
	for x := marginL - 5; x >= gx0-1e-9; x -= 5 {
		c.line(x, gy0, x, gy0+gh, 0.25, colMajor)
	}
	for y := gy0; y <= gy0+gh+1e-9; y += 5 {
		c.line(gx0, y, gx0+gw, y, 0.25, colMajor)
	}
	header(c, a, l)
	colDur := stripW / 4 / o.SpeedMMs // seconds per column
	rows := [3][4]string{{"I", "aVR", "V1", "V4"}, {"II", "aVL", "V2", "V5"}, {"III", "aVF", "V3", "V6"}}
	idx := map[string]int{}
	for i, n := range a.Leads {
		idx[n] = i
	}
	fs := a.FS
	// Non-standard recordings (MIT-BIH MLII/V5, single-lead strips): each
	// lead gets a full-width 10 s row instead of the 3×4 grid.
	standard := 0
	for _, n := range ecg.StandardLeads {
		if _, ok := idx[n]; ok {
			standard++
		}
	}
	for r := 0; r < 3; r++ {
		base := gy0 + l.rowH*(float64(r)+0.6)
		if standard < 6 {
			if r >= len(a.Leads) {
				continue
			}
			calibration(c, marginL-calW-1, base, o)
			trace(c, a.Clean[r], fs, 0, stripW/o.SpeedMMs, marginL+0.3, base, o)
			c.text(marginL+labelPad, base-l.rowH*0.42, a.Leads[r]+qualityMark(a, a.Leads[r]), 3.2, colText, true)
			continue
		}
		calibration(c, marginL-calW-1, base, o)
		for col := 0; col < 4; col++ {
			name := rows[r][col]
			x0 := marginL + float64(col)*stripW/4
			if col > 0 {
				c.line(x0, base-3, x0, base+3, 0.3, colTrace) // column separator tick
			}
			i, ok := idx[name]
			if !ok {
				continue
			}
			t0 := float64(col) * colDur
			trace(c, a.Clean[i], fs, t0, colDur, x0+0.3, base, o)
			c.text(x0+labelPad, base-l.rowH*0.42, name+qualityMark(a, name), 3.2, colText, true)
		}
	}
	// Rhythm strip: lead II (or the beat lead) for the whole page width.
	rl := "II"
	if _, ok := idx[rl]; !ok {
		rl = a.BeatLead
	}
	if rl == "" && len(a.Leads) > 0 {
		rl = a.Leads[0]
	}
	base := gy0 + l.rowH*3.6
	calibration(c, marginL-calW-1, base, o)
	if i, ok := idx[rl]; ok {
		trace(c, a.Clean[i], fs, 0, stripW/o.SpeedMMs, marginL+0.3, base, o)
		c.text(marginL+labelPad, base-l.rowH*0.42, rl+" (rhythm)", 3.2, colText, true)
		// Beat marks under the rhythm strip, so a reader sees what was counted.
		for _, b := range a.Beats {
			x := marginL + 0.3 + float64(b)/fs*o.SpeedMMs
			if x > marginL+stripW {
				break
			}
			c.line(x, gy0+gh-2.2, x, gy0+gh-0.8, 0.25, "#2050c0")
		}
	}
	fy := gy0 + gh + 4.2
	c.text(marginL, fy, fmt.Sprintf("%g mm/s   %g mm/mV   %s   rules %s %s   Huren", o.SpeedMMs, o.GainMMmV, filterText(a.Filter), a.RuleTable, a.RuleVersion), 2.6, colText, false)
}

func filterText(f dsp.Options) string {
	s := fmt.Sprintf("filter %g–%g Hz", f.HighPassHz, f.LowPassHz)
	if f.MainsHz > 0 {
		s += fmt.Sprintf(", %g Hz notch", f.MainsHz)
	}
	return s
}

func qualityMark(a *analysis.Analysis, lead string) string {
	for _, q := range a.Quality.Leads {
		if q.Lead == lead && !q.Good {
			return " [" + strings.Join(q.Problems, ",") + "]"
		}
	}
	return ""
}

// calibration draws the 1 mV, 200 ms reference pulse with its left edge at x.
func calibration(c canvas, x, base float64, o Options) {
	h := o.GainMMmV
	w := 0.2 * o.SpeedMMs
	pts := []float64{x - 1, base, x, base, x, base - h, x + w, base - h, x + w, base, x + w + 0.8, base}
	c.polyline(pts, 0.35, colTrace)
}

// trace draws samples [t0, t0+dur) of x at origin (x0, base).
func trace(c canvas, x []float64, fs, t0, dur, x0, base float64, o Options) {
	i0 := int(t0 * fs)
	i1 := min(len(x), int((t0+dur)*fs))
	if i0 >= i1 {
		return
	}
	mmPerSample := o.SpeedMMs / fs
	mmPerUV := o.GainMMmV / 1000
	pts := make([]float64, 0, 2*(i1-i0))
	for i := i0; i < i1; i++ {
		pts = append(pts, x0+float64(i-i0)*mmPerSample, base-x[i]*mmPerUV)
	}
	c.polyline(pts, 0.3, colTrace)
}

func fmtMS(p *float64) string {
	if p == nil {
		return "—"
	}
	return fmt.Sprintf("%.0f", *p)
}

func header(c canvas, a *analysis.Analysis, l layout) {
	p := a.Patient
	y := 5.0
	name := p.Name
	if name == "" {
		name = "(no name)"
	}
	id := p.ID
	if id == "" {
		id = "—"
	}
	demo := []string{name, "ID " + id}
	if p.Sex != "" {
		demo = append(demo, p.Sex)
	}
	if p.AgeYears > 0 {
		demo = append(demo, fmt.Sprintf("%d y", p.AgeYears))
	}
	c.text(marginL-7, y, strings.Join(demo, "   "), 3.4, colText, true)
	var acq []string
	if a.Acquired != nil {
		acq = append(acq, a.Acquired.Format("2006-01-02 15:04:05"))
	}
	if a.Device != "" {
		acq = append(acq, a.Device)
	}
	acq = append(acq, fmt.Sprintf("%s, %g Hz, %.1f s", a.Format, a.FS, a.DurationS))
	c.text(marginL+125, y, strings.Join(acq, "   "), 2.8, colText, false)
	m := a.Measurements
	y += 5.5
	hr := "—"
	if m.RR.Beats >= 2 {
		hr = fmt.Sprintf("%.0f", m.RR.HR)
	}
	line1 := fmt.Sprintf("HR %s bpm   PR %s ms   QRS %s ms   QT/QTcB/QTcF %s/%s/%s ms   P/QRS/T axis %s/%s/%s°",
		hr, fmtMS(m.PR), fmtMS(m.QRS), fmtMS(m.QT), fmtMS(m.QTcB), fmtMS(m.QTcF), fmtMS(m.PAxis), fmtMS(m.QRSAxis), fmtMS(m.TAxis))
	c.text(marginL-7, y, line1, 3.0, colText, false)
	y += 5
	var rh []string
	for _, r := range m.Rhythm {
		rh = append(rh, r.Text)
	}
	if len(rh) > 0 {
		c.text(marginL-7, y, "Rhythm: "+strings.Join(rh, "; "), 3.0, colText, false)
		y += 5
	}
	if !a.Interpretable {
		c.text(marginL-7, y, "NOT INTERPRETABLE — repeat the ECG: "+strings.Join(a.Reasons, "; "), 3.0, colWarning, true)
		y += 5
	} else if !strings.HasPrefix(a.Quality.Summary, "all leads") {
		c.text(marginL-7, y, "Quality: "+a.Quality.Summary, 2.8, colWarning, false)
		y += 5
	}
	for _, f := range a.Flags {
		if y > headerH-2 {
			break
		}
		c.text(marginL-7, y, fmt.Sprintf("CRITICAL %s — %s", f.Title, f.Evidence), 3.0, colFlag, true)
		y += 4.5
	}
}
