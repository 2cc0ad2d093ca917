package qrs_test

import (
	"fmt"
	"os"
	"sync"
	"testing"

	"github.com/huren-health/huren/ecg/qrs"
)

// TestMITDBCrossValidation is the 2-fold cross-validation of the detector's
// decision parameters on MIT-BIH: for each fold, pick the grid point with
// the fewest errors (FN+FP, EC57 scoring) on that fold's records, then report
// it on the other fold, which it never saw. It runs only with
// HUREN_QRS_CV=1 (80 parameter sets × 36 records: a tuning run, not a
// check); TestMITDBDetection checks the shipped Default on every record.
//
//	HUREN_QRS_CV=1 go test ./ecg/qrs -run CrossValidation -v
func TestMITDBCrossValidation(t *testing.T) {
	if os.Getenv("HUREN_QRS_CV") != "1" {
		t.Skip("tuning run: set HUREN_QRS_CV=1")
	}
	cs := loadMITDB(t)
	var grid []qrs.Params
	for _, th := range []float64{0.15, 0.2, 0.25, 0.3, 0.35} {
		for _, sb := range []float64{1.4, 1.5, 1.66, 1.8} {
			for _, tw := range []float64{0.3, 0.4, 0.5, 0.6} {
				grid = append(grid, qrs.Params{Threshold: th, SearchBack: sb, TWaveSlope: tw, SignalCap: qrs.Default.SignalCap})
			}
		}
	}
	// res[g][i]: grid point g on record i.
	res := make([][]scored, len(grid))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 2)
	for g, p := range grid {
		res[g] = make([]scored, len(cs))
		for i, c := range cs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				sem <- struct{}{}
				defer func() { <-sem }()
				res[g][i] = scoreCase(c, p)
			}()
		}
	}
	wg.Wait()
	sum := func(g int, f string) qrs.Score {
		var s qrs.Score
		for i := range cs {
			if f == "" || fold(i) == f {
				s = s.Add(res[g][i].ec57)
			}
		}
		return s
	}
	best := func(f string) int {
		b := -1
		for g := range grid {
			s := sum(g, f)
			if b < 0 || s.FN+s.FP < sum(b, f).FN+sum(b, f).FP {
				b = g
			}
		}
		return b
	}
	line := func(what string, p qrs.Params, s qrs.Score) string {
		return fmt.Sprintf("| %s | %.2f / %.2f / %.1f | %d | %d | %d | %d | %.2f | %.2f |", what, p.Threshold, p.SearchBack, p.TWaveSlope,
			s.TP+s.FN, s.TP, s.FN, s.FP, 100*s.Se(), 100*s.PPV())
	}
	t.Log("| run | threshold / search-back / T-slope | beats | TP | FN | FP | Se % | +P % |")
	for _, tr := range [][2]string{{"A", "B"}, {"B", "A"}} {
		g := best(tr[0])
		t.Log(line("tuned on "+tr[0]+", scored on "+tr[0]+" (in-sample)", grid[g], sum(g, tr[0])))
		held := sum(g, tr[1])
		t.Log(line("tuned on "+tr[0]+", scored on "+tr[1]+" (held out)", grid[g], held))
		if held.Se() < 0.995 || held.PPV() < 0.995 {
			t.Errorf("held-out fold %s: Se %.2f%% +P %.2f%% below 99.5%%", tr[1], 100*held.Se(), 100*held.PPV())
		}
	}
	for g, p := range grid {
		if p == qrs.Default {
			t.Log(line("shipped Default, fold A", p, sum(g, "A")))
			t.Log(line("shipped Default, fold B", p, sum(g, "B")))
		}
	}
}
