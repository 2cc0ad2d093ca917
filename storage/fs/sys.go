package fs

import "os"

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

func (osCalls) openAnon(dir string) (*os.File, error) { return openAnon(dir) }

func (osCalls) createTemp(dir string) (*os.File, error) { return os.CreateTemp(dir, "put-*") }

func (osCalls) link(from, to string) error { return linkPath(from, to) }

func (osCalls) rename(from, to string) error { return os.Rename(from, to) }

func (osCalls) mkdir(dir string) error { return os.Mkdir(dir, 0o750) }

func (osCalls) syncFile(f *os.File) error { return f.Sync() }

func (osCalls) syncDir(dir string) error { return syncDir(dir) }
