// Command ludbreport prints Huren's delineation and critical-flag scores on
// a LUDB folder: go run ./ecg/eval/ludbreport [-records] ../shared/testdata/ecg/ludb
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/huren-health/huren/ecg/eval"
)

func main() {
	per := flag.Bool("records", false, "also print one line per record")
	set := flag.String("set", "", "with -records: only this set (tuning or held-out); also limits the tables")
	flag.Parse()
	dir := "../shared/testdata/ecg/ludb"
	if flag.NArg() > 0 {
		dir = flag.Arg(0)
	}
	rs, err := eval.Run(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "ludbreport:", err)
		os.Exit(1)
	}
	if *per {
		eval.PerRecord(os.Stdout, rs, *set)
	}
	if *set != "" {
		var keep []eval.Result
		for _, r := range rs {
			if r.Set == *set {
				keep = append(keep, r)
			}
		}
		rs = keep
	}
	if err := eval.WriteReport(os.Stdout, rs); err != nil {
		fmt.Fprintln(os.Stderr, "ludbreport:", err)
		os.Exit(1)
	}
}
