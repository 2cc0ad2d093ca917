package render

import (
	"math"
	"testing"
)

// TestWindowFunctions checks the PS3.3 C.11.2.1.2 formulas at their
// defining points (output range 0..255).
func TestWindowFunctions(t *testing.T) {
	cases := []struct {
		fn      string
		c, w, x float64
		want    float64
	}{
		// LINEAR: x <= c-0.5-(w-1)/2 → 0; x > c-0.5+(w-1)/2 → 255.
		{Linear, 40, 400, 40 - 0.5 - 199.5, 0},
		{Linear, 40, 400, 40 - 0.5 + 199.5 + 0.01, 255},
		{Linear, 40, 400, 39.5, 127.5},
		{Linear, 0, 1, 0, 255}, // width 1: a threshold at c-0.5
		{Linear, 0, 1, -0.5, 0},
		// LINEAR_EXACT: x <= c-w/2 → 0; x > c+w/2 → 255; linear between.
		{LinearExact, 40, 400, -160, 0},
		{LinearExact, 40, 400, 40, 127.5},
		{LinearExact, 40, 400, 140, 191.25},
		{LinearExact, 40, 400, 240.01, 255},
		// SIGMOID: 255 / (1 + exp(-4(x-c)/w)).
		{Sigmoid, 40, 400, 40, 127.5},
		{Sigmoid, 40, 400, 140, 255 / (1 + math.Exp(-1))},
	}
	for _, tc := range cases {
		if got := windowFunc(tc.fn, tc.c, tc.w)(tc.x); math.Abs(got-tc.want) > 1e-9 {
			t.Errorf("%s(c=%g,w=%g)(%g) = %g, want %g", tc.fn, tc.c, tc.w, tc.x, got, tc.want)
		}
	}
}
