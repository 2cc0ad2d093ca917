//go:build unix

package j2k

import (
	"syscall"
	"time"
)

// processCPU is the user+system CPU time of the whole process (all threads:
// the decode, the GC and anything the runtime does for it). The benchmarks
// report it per op next to wall time because the shared build machine
// gives a process a varying fraction of a core, which wall time alone
// would mistake for decoder speed.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
