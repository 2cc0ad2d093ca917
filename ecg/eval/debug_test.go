package eval

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"github.com/huren-health/huren/ecg/analysis"
	"github.com/huren-health/huren/ecg/wfdb"
)

func TestDebugRecord(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("REC"))
	if n == 0 {
		t.Skip()
	}
	dir := "../../../shared/testdata/ecg/ludb"
	ref, _ := LoadRef(dir, n)
	rec, _ := wfdb.Open(filepath.Join(dir, strconv.Itoa(n)))
	a, _ := analysis.Analyze(rec, analysis.Options{})
	w := a.Measurements.Waves
	pf := func(p *float64) string {
		if p == nil {
			return "-"
		}
		return fmt.Sprintf("%.0f", *p)
	}
	fmt.Printf("ours (ms from fid): P %s..%s QRS %s..%s Tpk %s Tend %s  %s\n", pf(w.POn), pf(w.POff), pf(w.QRSOn), pf(w.QRSOff), pf(w.TPeak), pf(w.TEnd), a.Measurements.QTNotMeasurable)
	// reference relative to the template-aligned beat positions
	rel := map[string][]int{}
	for _, b := range a.Template.Beats {
		for _, rb := range ref.Beats {
			if rb.QRSPeak > b-60 && rb.QRSPeak < b+60 {
				add := func(k string, x []int) {
					for _, v := range x {
						rel[k] = append(rel[k], (v-b)*2)
					}
				}
				_ = add
				for _, l := range LUDBLeads {
					_ = l
				}
				rel["qon"] = append(rel["qon"], (onset(rb.QRSOns, SecondExtreme)-b)*2)
				rel["qoff"] = append(rel["qoff"], (offset(rb.QRSOffs, SecondExtreme)-b)*2)
				rel["pon"] = append(rel["pon"], (onset(rb.POns, SecondExtreme)-b)*2)
				rel["toff"] = append(rel["toff"], (offset(rb.TOffs, SecondExtreme)-b)*2)
				if len(rb.QRSOns) > 0 {
					fmt.Printf("beat %d: qrs ons %v offs %v toffs %v\n", b, sub(rb.QRSOns, b), sub(rb.QRSOffs, b), sub(rb.TOffs, b))
				}
			}
		}
	}
	for _, k := range []string{"pon", "qon", "qoff", "toff"} {
		slices.Sort(rel[k])
		fmt.Println(k, rel[k])
	}
	for _, st := range a.Measurements.ST {
		fmt.Printf("%s J %.0f J60 %.0f; ", st.Lead, st.J, st.J60)
	}
	fmt.Println()
	fmt.Println(ref.Diagnoses)
	for _, f := range a.Flags {
		fmt.Println("FLAG", f.RuleID, f.Tier, f.Evidence)
	}
	fmt.Printf("%+v\n", a.Measurements.ST)
	for _, q := range a.Quality.Leads {
		fmt.Printf("%s:%v ", q.Lead, q.Good)
	}
	fmt.Println()
}

func sub(x []int, b int) []int {
	var o []int
	for _, v := range x {
		o = append(o, (v-b)*2)
	}
	return o
}
