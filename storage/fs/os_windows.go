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

func anonPath(f *os.File) string { return "" }

func linkPath(from, to string) error { return os.Link(from, to) }

// syncDir is a no-op: NTFS journals directory entries with the rename
// itself, and Windows cannot fsync a directory handle.
func syncDir(dir string) error { return nil }

// lock takes an exclusive lock on the whole of f (LockFileEx), waiting for
// it; Windows releases it when the holder's handle closes or it dies.
func lock(f *os.File) error { return lockFile(f, 0) }

// tryLock is lock without waiting: an error means another holder.
func tryLock(f *os.File) error { return lockFile(f, windows.LOCKFILE_FAIL_IMMEDIATELY) }

func lockFile(f *os.File, flags uint32) error {
	var ol windows.Overlapped
	return windows.LockFileEx(windows.Handle(f.Fd()), windows.LOCKFILE_EXCLUSIVE_LOCK|flags, 0, 1, 0, &ol)
}

// inode is 0: FileInfo carries no file index on Windows, so a directory
// is known by its path alone.
func inode(fi os.FileInfo) uint64 { return 0 }
