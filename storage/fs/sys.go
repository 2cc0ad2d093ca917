package fs

import (
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// sysCalls are the system calls whose order makes an acknowledged write
// durable: creating the file, flushing it, giving it its name, creating
// directories and flushing directory entries. Every write path of the Store
// goes through them (s.sys), so a test can record their order and check it
// against what a crash at any point would keep (syscalls_test.go), or make
// one of them fail. Production uses osCalls, which calls the kernel
// directly; the interface call costs nanoseconds against a system call.
type sysCalls interface {
	// openAnon creates an anonymous file (O_TMPFILE) in dir.
	openAnon(dir string) (*os.File, error)
	// createTemp creates a named temp file in dir ("put-*").
	createTemp(dir string) (*os.File, error)
	// link gives from's file the name to; it fails if to exists.
	link(from, to string) error
	// rename moves from to to, replacing a file named to.
	rename(from, to string) error
	mkdir(dir string) error
	// syncFile flushes a file's content and inode (fsync).
	syncFile(f *os.File) error
	// syncDir flushes a directory's entries (fsync of the directory).
	syncDir(dir string) error
}

type osCalls struct{}

// oTmpfile is O_TMPFILE on Linux (the syscall package does not name it).
const oTmpfile = 0x410000

func (osCalls) openAnon(dir string) (*os.File, error) {
	fd, err := syscall.Open(dir, oTmpfile|syscall.O_RDWR|syscall.O_CLOEXEC, 0o640)
	if err != nil {
		return nil, &os.PathError{Op: "open O_TMPFILE", Path: dir, Err: err}
	}
	return os.NewFile(uintptr(fd), dir+"/(anonymous)"), nil
}

func (osCalls) createTemp(dir string) (*os.File, error) { return os.CreateTemp(dir, "put-*") }

func (osCalls) link(from, to string) error { return linkat(from, to) }

func (osCalls) rename(from, to string) error { return os.Rename(from, to) }

func (osCalls) mkdir(dir string) error { return os.Mkdir(dir, 0o750) }

func (osCalls) syncFile(f *os.File) error { return f.Sync() }

func (osCalls) syncDir(dir string) error { return syncDir(dir) }

// linkat links from (a path, or /proc/self/fd/N for an anonymous file) to to.
func linkat(from, to string) error {
	err := unix.Linkat(unix.AT_FDCWD, from, unix.AT_FDCWD, to, unix.AT_SYMLINK_FOLLOW)
	if err != nil {
		return &os.LinkError{Op: "linkat", Old: from, New: to, Err: err}
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
