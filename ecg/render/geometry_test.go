package render

import (
	"fmt"
	"math"
	"testing"

	"github.com/huren-health/huren/ecg/analysis"
	"github.com/huren-health/huren/ecg/internal/synth"
)

// recCanvas records what draw paints, in millimetres.
type recCanvas struct {
	lines []recLine
	polys []recPoly
}

type recLine struct {
	x1, y1, x2, y2, w float64
	col               string
}

type recPoly struct {
	pts []float64
	w   float64
}

func (c *recCanvas) rect(x, y, w, h float64, fill string) {}
func (c *recCanvas) line(x1, y1, x2, y2, w float64, col string) {
	c.lines = append(c.lines, recLine{x1, y1, x2, y2, w, col})
}
func (c *recCanvas) polyline(pts []float64, w float64, col string) {
	c.polys = append(c.polys, recPoly{append([]float64(nil), pts...), w})
}
func (c *recCanvas) text(x, y float64, s string, size float64, col string, bold bool) {}

// squareAnalysis is a 12-lead analysis whose filtered leads are all a 1 mV
// square wave with a 2 s period (low 0–1 s, high 1–2 s, …), so the drawn
// geometry can be measured: rising edges 2 s apart, steps 1 mV high.
func squareAnalysis(t *testing.T) *analysis.Analysis {
	t.Helper()
	rec, _ := synth.Make(synth.Spec{HR: 60, Seconds: 10})
	a, err := analysis.Analyze(rec, analysis.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range a.Clean {
		for j := range a.Clean[i] {
			if int(float64(j)/a.FS)%2 == 1 {
				a.Clean[i][j] = 1000
			} else {
				a.Clean[i][j] = 0
			}
		}
	}
	return a
}

// edges returns the x of every rising step (a y decrease on paper) of a
// trace and the step's height in mm.
func edges(p recPoly) (xs, heights []float64) {
	for i := 2; i+1 < len(p.pts); i += 2 {
		if dy := p.pts[i-1] - p.pts[i+1]; dy > 0.5 {
			xs = append(xs, p.pts[i])
			heights = append(heights, dy)
		}
	}
	return xs, heights
}

// TestGeometry checks the paper: 1 mm minor and 5 mm major grid lines, the
// calibration pulse 1 mV high and 200 ms wide, and every trace drawn at the
// chosen paper speed (mm per second) and gain (mm per mV).
func TestGeometry(t *testing.T) {
	a := squareAnalysis(t)
	for _, o := range []Options{{SpeedMMs: 25, GainMMmV: 10}, {SpeedMMs: 50, GainMMmV: 20}, {SpeedMMs: 25, GainMMmV: 5}} {
		t.Run(fmt.Sprintf("%g-%g", o.SpeedMMs, o.GainMMmV), func(t *testing.T) {
			o, err := o.withDefaults()
			if err != nil {
				t.Fatal(err)
			}
			var c recCanvas
			draw(&c, a, newLayout(o))
			// Grid: vertical lines inside the strip, minor every 1 mm and
			// major every 5 mm.
			var minor, major []float64
			for _, l := range c.lines {
				if l.x1 != l.x2 || l.x1 < marginL || l.x1 > marginL+stripW {
					continue
				}
				switch l.col {
				case colMinor:
					minor = append(minor, l.x1)
				case colMajor:
					major = append(major, l.x1)
				}
			}
			checkSpacing(t, "minor grid", minor, 1)
			checkSpacing(t, "major grid", major, 5)
			var traces, cals int
			for _, p := range c.polys {
				xs, hs := edges(p)
				if p.w == 0.35 { // calibration pulse: 0,0 → up gain mm → across 200 ms
					cals++
					if len(p.pts) < 8 || math.Abs(p.pts[3]-p.pts[5]-o.GainMMmV) > 1e-9 || math.Abs(p.pts[6]-p.pts[4]-0.2*o.SpeedMMs) > 1e-9 {
						t.Errorf("calibration pulse %v: want %g mm high, %g mm wide", p.pts, o.GainMMmV, 0.2*o.SpeedMMs)
					}
					continue
				}
				traces++
				for _, h := range hs {
					if math.Abs(h-o.GainMMmV) > 1e-6 {
						t.Errorf("1 mV step drawn %.3f mm high at %g mm/mV", h, o.GainMMmV)
					}
				}
				for k := 1; k < len(xs); k++ {
					// One sample of slack: the edge falls between samples.
					if d := xs[k] - xs[k-1]; math.Abs(d-2*o.SpeedMMs) > o.SpeedMMs/a.FS+1e-9 {
						t.Errorf("rising edges %.3f mm apart at %g mm/s, want %g (2 s)", d, o.SpeedMMs, 2*o.SpeedMMs)
					}
				}
				// The full-width rhythm strip must show its edges.
				if p.pts[len(p.pts)-2]-p.pts[0] > stripW-1 && len(xs) == 0 {
					t.Errorf("rhythm strip without a 1 mV step")
				}
			}
			if traces != 13 || cals != 4 {
				t.Errorf("%d traces and %d calibration pulses, want 12 leads + rhythm strip and 4", traces, cals)
			}
		})
	}
}

func checkSpacing(t *testing.T, what string, xs []float64, step float64) {
	t.Helper()
	if len(xs) < 10 {
		t.Fatalf("%s: %d lines", what, len(xs))
	}
	for k := 1; k < len(xs); k++ {
		if d := xs[k] - xs[k-1]; math.Abs(d-step) > 1e-9 {
			t.Errorf("%s: lines %.3f mm apart, want %g", what, d, step)
			return
		}
	}
}
