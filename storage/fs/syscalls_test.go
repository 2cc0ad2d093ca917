package fs

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/huren-health/huren/storage"
)

// The tests in this file check the promise every caller relies on: when a
// write is acknowledged (Put or PutIfAbsent returns nil), its content and
// every name leading to it are on disk, whatever crashes next. They record
// the system calls of the write paths (sysCalls) with a sequence number at
// the start and end of each, and check the recorded order against what a
// power loss at any point would keep:
//
//   - content: the file was fsynced after it was created, and the fsync
//     completed before the ack; where a crash between naming the file and
//     its fsync could lose an acknowledged object (a rename over an existing
//     object, and every commit of a named temp file), the fsync completed
//     before the link or rename started;
//   - name: the key's directory was fsynced starting after the link or
//     rename ended, and completed before the ack;
//   - directories: for every directory on the way that was created (by this
//     writer, by a concurrent one, or by another process), its parent was
//     fsynced starting after the mkdir ended and completed before the ack.

type sysEvent struct {
	kind       string // create, syncFile, syncDir, link, rename, mkdir
	path       string // the name created (link, rename, mkdir) or flushed (syncDir)
	ino        uint64 // the file's inode (create, syncFile, link, rename)
	start, end int64
}

// recorder wraps the real system calls and records each successful one.
type recorder struct {
	next sysCalls
	seq  atomic.Int64
	mu   sync.Mutex
	evs  []sysEvent
	// before, if set, runs before each call with its kind and path (the
	// test blocks or interferes there).
	before func(kind, path string)
}

func (r *recorder) now() int64 { return r.seq.Add(1) }

func (r *recorder) record(e sysEvent) {
	r.mu.Lock()
	r.evs = append(r.evs, e)
	r.mu.Unlock()
}

func (r *recorder) events() []sysEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]sysEvent(nil), r.evs...)
}

func fileIno(f *os.File) uint64 {
	fi, err := f.Stat()
	if err != nil {
		return 0
	}
	return inode(fi)
}

func pathIno(p string) uint64 {
	fi, err := os.Lstat(p)
	if err != nil {
		return 0
	}
	return inode(fi)
}

// call runs op between two sequence numbers and records it if it succeeded.
func (r *recorder) call(kind, path string, op func() error, ino func() uint64) error {
	if r.before != nil {
		r.before(kind, path)
	}
	start := r.now()
	if err := op(); err != nil {
		return err
	}
	e := sysEvent{kind: kind, path: path, start: start, end: r.now()}
	if ino != nil {
		e.ino = ino()
	}
	r.record(e)
	return nil
}

func (r *recorder) openAnon(dir string) (f *os.File, err error) {
	err = r.call("create", dir, func() error { f, err = r.next.openAnon(dir); return err }, func() uint64 { return fileIno(f) })
	return f, err
}

func (r *recorder) createTemp(dir string) (f *os.File, err error) {
	err = r.call("create", dir, func() error { f, err = r.next.createTemp(dir); return err }, func() uint64 { return fileIno(f) })
	return f, err
}

func (r *recorder) link(from, to string) error {
	return r.call("link", to, func() error { return r.next.link(from, to) }, func() uint64 { return pathIno(to) })
}

func (r *recorder) rename(from, to string) error {
	return r.call("rename", to, func() error { return r.next.rename(from, to) }, func() uint64 { return pathIno(to) })
}

func (r *recorder) mkdir(dir string) error {
	return r.call("mkdir", dir, func() error { return r.next.mkdir(dir) }, nil)
}

func (r *recorder) syncFile(f *os.File) error {
	return r.call("syncFile", f.Name(), func() error { return r.next.syncFile(f) }, func() uint64 { return fileIno(f) })
}

func (r *recorder) syncDir(dir string) error {
	return r.call("syncDir", dir, func() error { return r.next.syncDir(dir) }, nil)
}

// externalMkdir creates dir the way another process would — and records it
// — without flushing its parent: that process may die or be slow to do so.
func (r *recorder) externalMkdir(t *testing.T, dir string) {
	t.Helper()
	start := r.now()
	if err := os.Mkdir(dir, 0o750); err != nil {
		t.Fatal(err)
	}
	r.record(sysEvent{kind: "mkdir", path: dir, start: start, end: r.now()})
}

// durability lists what a crash right after ack could lose of key, judged
// from the events recorded before ack. syncFirst: the content must be
// flushed before it is named (see the file comment).
func durability(s *Store, evs []sysEvent, key string, ack int64, syncFirst bool) []string {
	final := s.path(key)
	before := func(e sysEvent) bool { return e.end < ack }
	var named *sysEvent
	for i, e := range evs {
		if (e.kind == "link" || e.kind == "rename") && e.path == final && before(e) {
			if named == nil || e.end > named.end {
				named = &evs[i]
			}
		}
	}
	if named == nil {
		return []string{fmt.Sprintf("%s was acknowledged but never linked or renamed into place", key)}
	}
	var lost []string
	// Content.
	var created int64 = -1
	for _, e := range evs {
		if e.kind == "create" && e.ino == named.ino && e.end < named.start && e.end > created {
			created = e.end
		}
	}
	synced := false
	for _, e := range evs {
		if e.kind == "syncFile" && e.ino == named.ino && e.start > created && before(e) && (!syncFirst || e.end < named.start) {
			synced = true
		}
	}
	if !synced {
		when := "before the ack"
		if syncFirst {
			when = "before its " + named.kind
		}
		lost = append(lost, fmt.Sprintf("content of %s not fsynced %s", key, when))
	}
	// The name, then every directory entry up to objects/.
	flushedAfter := func(dir string, after int64) bool {
		for _, e := range evs {
			if e.kind == "syncDir" && e.path == dir && e.start > after && before(e) {
				return true
			}
		}
		return false
	}
	if !flushedAfter(filepath.Dir(final), named.end) {
		lost = append(lost, fmt.Sprintf("entry of %s (%s) not flushed into its directory before the ack", key, named.kind))
	}
	for d := filepath.Dir(final); d != s.objDir && strings.HasPrefix(d, s.objDir); d = filepath.Dir(d) {
		var made int64 = -1
		for _, e := range evs {
			if e.kind == "mkdir" && e.path == d && before(e) && e.end > made {
				made = e.end
			}
		}
		if made >= 0 && !flushedAfter(filepath.Dir(d), made) {
			lost = append(lost, fmt.Sprintf("new directory %s not flushed into its parent before the ack", strings.TrimPrefix(d, s.objDir)))
		}
	}
	return lost
}

func recordedStore(t *testing.T, anon bool) (*Store, *recorder) {
	t.Helper()
	rec := &recorder{next: osCalls{}}
	s, err := openStore(Config{Root: t.TempDir()}, nil, rec)
	if err != nil {
		t.Fatal(err)
	}
	if anon && !s.anon {
		t.Skip("no O_TMPFILE on this filesystem")
	}
	s.anon = anon
	return s, rec
}

// TestDurableBeforeAck checks the order of the system calls on every write
// path: content fsync, link or rename, directory fsync, parent fsync of
// each new directory — all before the ack.
func TestDurableBeforeAck(t *testing.T) {
	body := func(c byte) *bytes.Reader { return bytes.NewReader(bytes.Repeat([]byte{c}, 70000)) }
	tornAt := func(t *testing.T, s *Store, key string) {
		t.Helper()
		p := s.path(key)
		if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, nil, 0o640); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		name string
		// setup runs before recording is checked (earlier events count too).
		setup     func(t *testing.T, s *Store, key string)
		put       func(s *Store, key string) error
		syncFirst func(anon bool) bool
	}{
		{
			name: "PutIfAbsent new key in new directories",
			put: func(s *Store, key string) error {
				_, err := s.PutIfAbsent(t.Context(), key, body('a'), storage.PutOptions{})
				return err
			},
			// Anonymous files are linked first and flushed after (a torn
			// object is never acknowledged); named temp files are flushed
			// before they are linked.
			syncFirst: func(anon bool) bool { return !anon },
		},
		{
			name: "Put new key in new directories",
			put: func(s *Store, key string) error {
				_, err := s.Put(t.Context(), key, body('b'), storage.PutOptions{})
				return err
			},
			syncFirst: func(anon bool) bool { return !anon },
		},
		{
			name: "Put over an existing object",
			setup: func(t *testing.T, s *Store, key string) {
				if _, err := s.Put(t.Context(), key, body('c'), storage.PutOptions{}); err != nil {
					t.Fatal(err)
				}
			},
			put: func(s *Store, key string) error {
				_, err := s.Put(t.Context(), key, body('d'), storage.PutOptions{})
				return err
			},
			// Renaming unflushed content over an acknowledged object could
			// leave neither after a power loss.
			syncFirst: func(bool) bool { return true },
		},
		{
			name:  "PutIfAbsent over a torn object",
			setup: tornAt,
			put: func(s *Store, key string) error {
				_, err := s.PutIfAbsent(t.Context(), key, body('e'), storage.PutOptions{})
				return err
			},
			// A torn object was never acknowledged: losing it is allowed.
			syncFirst: func(anon bool) bool { return !anon },
		},
		{
			name: "Put into an existing directory",
			setup: func(t *testing.T, s *Store, key string) {
				if _, err := s.Put(t.Context(), key+"-sibling", body('f'), storage.PutOptions{}); err != nil {
					t.Fatal(err)
				}
			},
			put: func(s *Store, key string) error {
				_, err := s.Put(t.Context(), key, body('g'), storage.PutOptions{})
				return err
			},
			syncFirst: func(anon bool) bool { return !anon },
		},
	}
	for _, tc := range cases {
		for _, anon := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/anon=%v", tc.name, anon), func(t *testing.T) {
				s, rec := recordedStore(t, anon)
				const key = "study/series/instance"
				if tc.setup != nil {
					tc.setup(t, s, key)
				}
				if err := tc.put(s, key); err != nil {
					t.Fatal(err)
				}
				ack := rec.now()
				for _, l := range durability(s, rec.events(), key, ack, tc.syncFirst(anon)) {
					t.Error(l)
				}
			})
		}
	}
}

// TestDirectoryOfAnotherWriter covers a writer that finds the key's
// directory made by someone else whose flush of its parent has not
// completed (issue 21, finding 7): the ack must still wait for that entry
// to be durable.
func TestDirectoryOfAnotherWriter(t *testing.T) {
	for _, anon := range []bool{true, false} {
		t.Run(fmt.Sprintf("another process made it/anon=%v", anon), func(t *testing.T) {
			s, rec := recordedStore(t, anon)
			// The other process made study/ and study/series/ and has not
			// fsynced their parents yet (or died before it could).
			rec.externalMkdir(t, filepath.Join(s.objDir, "study"))
			rec.externalMkdir(t, filepath.Join(s.objDir, "study", "series"))
			if _, err := s.PutIfAbsent(t.Context(), "study/series/i1", strings.NewReader("one"), storage.PutOptions{}); err != nil {
				t.Fatal(err)
			}
			for _, l := range durability(s, rec.events(), "study/series/i1", rec.now(), !anon) {
				t.Error(l)
			}
		})
		t.Run(fmt.Sprintf("lost the mkdir race/anon=%v", anon), func(t *testing.T) {
			s, rec := recordedStore(t, anon)
			series := filepath.Join(s.objDir, "study", "series")
			// Just before our mkdir, another process makes the directory:
			// ours fails with EEXIST.
			var once sync.Once
			rec.before = func(kind, path string) {
				if kind == "mkdir" && path == series {
					once.Do(func() { rec.externalMkdir(t, series) })
				}
			}
			if _, err := s.PutIfAbsent(t.Context(), "study/series/i1", strings.NewReader("one"), storage.PutOptions{}); err != nil {
				t.Fatal(err)
			}
			for _, l := range durability(s, rec.events(), "study/series/i1", rec.now(), !anon) {
				t.Error(l)
			}
		})
		t.Run(fmt.Sprintf("creator's flush in flight/anon=%v", anon), func(t *testing.T) {
			s, rec := recordedStore(t, anon)
			study := filepath.Join(s.objDir, "study")
			// Writer A creates study/ and blocks in the fsync of objects/
			// that makes study/'s entry durable.
			blocked, release := make(chan struct{}), make(chan struct{})
			var aMadeStudy atomic.Bool
			var once sync.Once
			rec.before = func(kind, path string) {
				if kind == "mkdir" && path == study {
					aMadeStudy.Store(true)
				}
				if kind == "syncDir" && path == s.objDir && aMadeStudy.Load() {
					once.Do(func() { close(blocked); <-release })
				}
			}
			type result struct {
				ack int64
				err error
			}
			put := func(key string) <-chan result {
				c := make(chan result, 1)
				go func() {
					_, err := s.PutIfAbsent(t.Context(), key, strings.NewReader(key), storage.PutOptions{})
					c <- result{rec.now(), err}
				}()
				return c
			}
			a := put("study/series-a/i1")
			var ra result
			select {
			case <-blocked:
			case ra = <-a:
				// A acknowledged without ever flushing objects/ after
				// making study/.
				t.Fatalf("writer A returned (err %v) without flushing the parent of the directory it made: %v",
					ra.err, durability(s, rec.events(), "study/series-a/i1", ra.ack, !anon))
			}
			// Writer B finds study/ already there. Either it returns (before
			// A's flush: the bug) or it waits for a flush of objects/ after
			// A's — then the syncer shows it queued behind A's.
			b := put("study/series-b/i1")
			var rb result
			bDone := false
			for !bDone {
				select {
				case rb = <-b:
					bDone = true
				default:
				}
				if !bDone {
					s.dirs.mu.Lock()
					st := s.dirs.dirs[s.objDir]
					queued := st != nil && st.joined > 0
					s.dirs.mu.Unlock()
					if queued {
						break
					}
					runtime.Gosched()
				}
			}
			close(release)
			ra = <-a
			if !bDone {
				rb = <-b
			}
			if ra.err != nil || rb.err != nil {
				t.Fatalf("writers: %v, %v", ra.err, rb.err)
			}
			evs := rec.events()
			for _, l := range durability(s, evs, "study/series-b/i1", rb.ack, !anon) {
				t.Error("writer B:", l)
			}
			for _, l := range durability(s, evs, "study/series-a/i1", ra.ack, !anon) {
				t.Error("writer A:", l)
			}
		})
	}
}

// TestDurabilityCheckerCatches runs the checker on call orders that lose an
// acknowledged write, so that its verdicts in the tests above mean something.
func TestDurabilityCheckerCatches(t *testing.T) {
	s, err := New(Config{Root: t.TempDir()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	obj := func(p ...string) string { return filepath.Join(append([]string{s.objDir}, p...)...) }
	good := []sysEvent{
		{kind: "mkdir", path: obj("a"), start: 1, end: 2},
		{kind: "syncDir", path: obj(), start: 3, end: 4},
		{kind: "create", path: obj("a"), ino: 7, start: 5, end: 6},
		{kind: "syncFile", ino: 7, start: 7, end: 8},
		{kind: "rename", path: obj("a", "k"), ino: 7, start: 9, end: 10},
		{kind: "syncDir", path: obj("a"), start: 11, end: 12},
	}
	if l := durability(s, good, "a/k", 13, true); len(l) != 0 {
		t.Fatalf("a durable order judged lossy: %v", l)
	}
	without := func(i int) []sysEvent { return append(append([]sysEvent(nil), good[:i]...), good[i+1:]...) }
	for name, c := range map[string]struct {
		evs []sysEvent
		ack int64
	}{
		"no parent flush":           {without(1), 13},
		"no content flush":          {without(3), 13},
		"no directory flush":        {without(5), 13},
		"ack before directory sync": {good, 12},
		"flush after rename": {[]sysEvent{good[0], good[1], good[2],
			{kind: "rename", path: obj("a", "k"), ino: 7, start: 7, end: 8},
			{kind: "syncFile", ino: 7, start: 9, end: 10}, good[5]}, 13},
	} {
		if l := durability(s, c.evs, "a/k", c.ack, true); len(l) == 0 {
			t.Errorf("%s: judged durable", name)
		}
	}
}
