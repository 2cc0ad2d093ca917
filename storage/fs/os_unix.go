//go:build unix

package fs

import (
	"os"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// oTmpfile is O_TMPFILE on Linux (the syscall package does not name it).
// Elsewhere the open fails, probeAnon says so, and the store takes the
// named-temp path.
const oTmpfile = 0x410000

// openAnon opens a file without a name in dir (O_TMPFILE).
func openAnon(dir string) (*os.File, error) {
	fd, err := syscall.Open(dir, oTmpfile|syscall.O_RDWR|syscall.O_CLOEXEC, 0o640)
	if err != nil {
		return nil, &os.PathError{Op: "open O_TMPFILE", Path: dir, Err: err}
	}
	return os.NewFile(uintptr(fd), dir+"/(anonymous)"), nil
}

// anonPath names an open anonymous file for linkPath.
func anonPath(f *os.File) string { return "/proc/self/fd/" + strconv.Itoa(int(f.Fd())) }

// linkPath links from (a path, or anonPath of an anonymous file) to to,
// failing with EEXIST when to exists.
func linkPath(from, to string) error {
	err := unix.Linkat(unix.AT_FDCWD, from, unix.AT_FDCWD, to, unix.AT_SYMLINK_FOLLOW)
	if err != nil {
		return &os.LinkError{Op: "linkat", Old: from, New: to, Err: err}
	}
	return nil
}

// syncDir flushes a directory's entries.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// lock takes an exclusive advisory lock on f, waiting for it; the kernel
// drops it when the holder dies.
func lock(f *os.File) error { return syscall.Flock(int(f.Fd()), syscall.LOCK_EX) }

// tryLock is lock without waiting: an error means another holder.
func tryLock(f *os.File) error {
	return syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
}

// inode tells a directory removed and created again from the one seen before.
func inode(fi os.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Ino
	}
	return 0
}
