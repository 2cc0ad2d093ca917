//go:build windows

package fs

import (
	"errors"
	"os"

	"golang.org/x/sys/windows"
)

// Windows has no anonymous files: probeAnon fails and every write takes
// the named-temp path (write, fsync, rename), which the contract suite
// covers on Linux too (TestStoreNamedTemp).
var errNoAnon = errors.New("anonymous files are not supported on Windows")

func openAnon(dir string) (*os.File, error) { return nil, errNoAnon }

func linkAnon(f *os.File, to string) error { return errNoAnon }

// lock takes an exclusive lock on the whole of f (LockFileEx), waiting for
// it; Windows releases it when the holder's handle closes or it dies.
func lock(f *os.File) error { return lockFile(f, 0) }

// tryLock is lock without waiting: an error means another holder.
func tryLock(f *os.File) error { return lockFile(f, windows.LOCKFILE_FAIL_IMMEDIATELY) }

func lockFile(f *os.File, flags uint32) error {
	var ol windows.Overlapped
	return windows.LockFileEx(windows.Handle(f.Fd()), windows.LOCKFILE_EXCLUSIVE_LOCK|flags, 0, 1, 0, &ol)
}
