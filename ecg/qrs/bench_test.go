package qrs_test

import (
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/huren-health/huren/ecg/internal/shareddata"
	"github.com/huren-health/huren/ecg/internal/synth"
	"github.com/huren-health/huren/ecg/qrs"
	"github.com/huren-health/huren/ecg/wfdb"
)

// BenchmarkDetect30Min360Hz: QRS detection on a 30-minute 360 Hz lead (MIT-BIH
// 100 MLII when present, else a synthetic lead). Target ≥ 1,000× real time;
// the x_realtime metric is recording seconds per second of CPU.
func BenchmarkDetect30Min360Hz(b *testing.B) {
	var x []float64
	if rec, err := wfdb.Open(filepath.Join(shareddata.Root(), "ecg", "mitdb", "100")); err == nil {
		x = rec.Leads[0].Samples
	} else {
		rec, _ := synth.Make(synth.Spec{FS: 360, Seconds: 1805, HR: 75, NoiseuV: 20})
		x = rec.Leads[1].Samples
	}
	secs := float64(len(x)) / 360
	c0 := cpuTime()
	for b.Loop() {
		qrs.Detect(x, 360)
	}
	b.ReportMetric(secs/(b.Elapsed().Seconds()/float64(b.N)), "x_realtime")
	// Wall time on a shared machine includes waiting for a core.
	b.ReportMetric(secs/((cpuTime()-c0).Seconds()/float64(b.N)), "x_realtime_cpu")
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
