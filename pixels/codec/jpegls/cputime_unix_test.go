//go:build unix

package jpegls

import "syscall"

// cpuTime is the process's user+system CPU time in ns: on a shared
// machine it measures the decoder's work where wall time measures the
// queue for a core.
func cpuTime() int64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
