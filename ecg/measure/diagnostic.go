package measure

import (
	"math"

	"github.com/huren-health/huren/ecg/dsp"
)

// DiagnosticLeads returns the leads for measurement and display: raw
// filtered with dsp.DiagnosticOptions(opts) (0.05 Hz high-pass, which
// leaves the ST segment undistorted) and then freed of the remaining
// baseline wander by a spline through every beat's PR-segment level
// (dsp.SplineBaseline). The PR segment is located from prelim, a median
// beat built on the detection-filtered leads: its QRS onset relative to
// the fiducial places the knots (20–6 ms before each QRS onset, the same
// window the ST measurement takes as reference). Nil when there is no
// beat to anchor the baseline.
func DiagnosticLeads(raw [][]float64, beats []int, prelim *Template, fs float64, opts dsp.Options) [][]float64 {
	if len(beats) == 0 {
		return nil
	}
	ms := func(v float64) int { return int(math.Round(v * fs / 1000)) }
	// QRS onset relative to the detection fiducial; 60 ms before it when
	// the preliminary beat could not be delineated.
	onset := -ms(60)
	if prelim != nil {
		if f := Delineate(prelim); f.QRSOn >= 0 {
			onset = f.QRSOn - prelim.Fid
		}
	}
	knots := make([]int, len(beats))
	for i, b := range beats {
		knots[i] = b + onset
	}
	do := dsp.DiagnosticOptions(opts)
	out := make([][]float64, len(raw))
	for i, x := range raw {
		out[i] = dsp.SplineBaseline(dsp.Clean(x, fs, do), knots, ms(20), ms(6))
	}
	return out
}
