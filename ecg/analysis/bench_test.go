package analysis_test

import (
	"syscall"
	"testing"
	"time"

	"github.com/huren-health/huren/ecg/analysis"
	"github.com/huren-health/huren/ecg/internal/synth"
)

// BenchmarkAnalyze12Lead500Hz: the whole pipeline (filters, quality, QRS on
// every lead, median beat, measurements, rules) on a 10 s 12-lead ECG at
// 500 Hz. Target: < 20 ms per ECG.
func BenchmarkAnalyze12Lead500Hz(b *testing.B) {
	rec, _ := synth.Make(synth.Spec{HR: 75, NoiseuV: 10, Seed: 1})
	b.ReportAllocs()
	c0 := cpuTime()
	for b.Loop() {
		if _, err := analysis.Analyze(rec, analysis.Options{}); err != nil {
			b.Fatal(err)
		}
	}
	// On a shared machine wall time includes waiting for a core; CPU time
	// per ECG is the figure that scales.
	b.ReportMetric(float64((cpuTime()-c0).Microseconds())/1000/float64(b.N), "cpu-ms/op")
}

// cpuTime is this process's user+system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
