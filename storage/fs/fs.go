package fs

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/huren-health/huren/errkind"
	"github.com/huren-health/huren/storage"
)

// ErrContentType: PutOptions.ContentType is longer than the header can hold.
var ErrContentType = errkind.New(errkind.Invalid, "storage/fs: content type longer than 1024 bytes")

// ErrKeyConflict: the key would need a path that is already used the other
// way round — an object where a directory is needed ("a" exists, Put "a/b")
// or a directory where an object is needed ("a/b" exists, Put "a"). A
// filesystem cannot hold both; object stores can. Huren's key layout never
// does this.
var ErrKeyConflict = errkind.New(errkind.Conflict, "storage/fs: key conflicts with an existing object path")

// Config configures the filesystem backend.
type Config struct {
	// Root is the data directory. It holds objects/ (one file per key) and
	// tmp/ (writes in progress); both are created if missing.
	Root string
}

// Validate checks the configuration without touching the disk.
func (c Config) Validate() error {
	if strings.TrimSpace(c.Root) == "" {
		return errors.New("storage/fs: Config.Root is empty")
	}
	return nil
}

// Store is the filesystem backend. See the package documentation.
type Store struct {
	root   string
	objDir string
	tmpDir string
	log    *slog.Logger
	// anon: PutIfAbsent writes anonymous files (O_TMPFILE) and commits
	// them with overlapping fsyncs of file and directory (putAnon).
	// Probed by New; false on filesystems or kernels without O_TMPFILE,
	// and without /proc.
	anon bool
	// dirs coalesces the directory fsyncs of concurrent commits.
	dirs *dirSyncer
	// durable: directories whose entry in their parent this process has
	// seen flushed (see mkdirs).
	durable knownDirs
	// sys: the system calls that order durability (sys.go).
	sys sysCalls
}

var _ storage.Store = (*Store)(nil)

// staleAfter is how old an unlocked temp file must be before New removes it.
// The lock alone is authoritative; the age only closes the short window
// between creating a temp file and locking it.
const staleAfter = time.Minute

// New opens (creating if needed) a store under cfg.Root and removes temp
// files left by writers that died mid-write (those whose flock is no longer
// held, by any process). logger may be nil (silent).
func New(cfg Config, logger *slog.Logger) (*Store, error) {
	return openStore(cfg, logger, osCalls{})
}

// openStore is New with the system calls of the write paths given (tests
// record or fail them).
func openStore(cfg Config, logger *slog.Logger, sys sysCalls) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	root, err := filepath.Abs(cfg.Root)
	if err != nil {
		return nil, fmt.Errorf("storage/fs: root %q: %w", cfg.Root, err)
	}
	s := &Store{
		root:   root,
		objDir: filepath.Join(root, "objects"),
		tmpDir: filepath.Join(root, "tmp"),
		log:    logger.With("component", "storage.fs"),
		sys:    sys,
	}
	s.dirs = newDirSyncer(sys.syncDir)
	for _, d := range []string{s.objDir, s.tmpDir} {
		if err := os.MkdirAll(d, 0o750); err != nil {
			return nil, fmt.Errorf("storage/fs: create %s: %w", d, err)
		}
	}
	// objects/ and tmp/ may have just been created: their entries must be
	// durable before any object under them is acknowledged.
	if err := sys.syncDir(root); err != nil {
		return nil, fmt.Errorf("storage/fs: fsync %s: %w", root, err)
	}
	if err := s.sweepTemp(); err != nil {
		return nil, err
	}
	s.anon = s.probeAnon()
	return s, nil
}

// probeAnon reports whether anonymous files can be created in tmp/ and
// linked into the tree (O_TMPFILE + linkat through /proc/self/fd).
func (s *Store) probeAnon() bool {
	f, err := osCalls{}.openAnon(s.tmpDir)
	if err != nil {
		s.log.Info("anonymous temp files unavailable; PutIfAbsent uses named temp files", "err", err)
		return false
	}
	defer f.Close()
	name := filepath.Join(s.tmpDir, "probe-"+strconv.Itoa(os.Getpid())+"-"+strconv.FormatInt(time.Now().UnixNano(), 36))
	if err := linkPath(anonPath(f), name); err != nil {
		s.log.Info("anonymous temp files cannot be linked; PutIfAbsent uses named temp files", "err", err)
		return false
	}
	os.Remove(name)
	return true
}

// sweepTemp removes temp files of dead writers.
func (s *Store) sweepTemp() error {
	entries, err := os.ReadDir(s.tmpDir)
	if err != nil {
		return fmt.Errorf("storage/fs: read %s: %w", s.tmpDir, err)
	}
	removed := 0
	for _, e := range entries {
		p := filepath.Join(s.tmpDir, e.Name())
		fi, err := e.Info()
		if err != nil || time.Since(fi.ModTime()) < staleAfter {
			continue
		}
		f, err := os.Open(p)
		if err != nil {
			continue
		}
		// A live writer (in this or any process) holds LOCK_EX on its temp
		// file for the whole write; the kernel drops it when the writer dies.
		if tryLock(f) == nil {
			if err := os.Remove(p); err == nil {
				removed++
			}
		}
		f.Close()
	}
	if removed > 0 {
		s.log.Info("removed stale temp files", "count", removed, "dir", s.tmpDir)
	}
	return nil
}

// Close is a no-op: the store holds no resources between calls.
func (s *Store) Close() error { return nil }

func (s *Store) path(key string) string {
	return filepath.Join(s.objDir, filepath.FromSlash(key))
}

// ---- read side ----

// errTorn: the object file is shorter than its header says (or empty). Put
// links an object before its fsync (putAnon), so a crash in between can
// leave the name with only part of the content on disk. Such an object was
// never acknowledged: reads treat it as absent (it matches
// storage.ErrNotFound), List skips it, and PutIfAbsent replaces it.
var errTorn = fmt.Errorf("torn object (written but never made durable): %w", storage.ErrNotFound)

func isTorn(fileSize int64, h header, off int64, herr error) bool {
	return fileSize == 0 || (herr == nil && fileSize < off+h.size)
}

type objectFile struct {
	f      *os.File
	h      header
	offset int64
	mod    time.Time
}

// open opens key's file and decodes its header. Missing keys, and keys that
// name a directory (a prefix of other keys), are ErrNotFound.
func (s *Store) open(op, key string) (*objectFile, error) {
	if err := storage.ValidateKey(key); err != nil {
		return nil, fmt.Errorf("fs %s: %w", op, err)
	}
	f, err := os.Open(s.path(key))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
			return nil, fmt.Errorf("fs %s %s: %w", op, key, storage.ErrNotFound)
		}
		return nil, fmt.Errorf("fs %s %s: %w", op, key, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("fs %s %s: %w", op, key, err)
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("fs %s %s: %w", op, key, storage.ErrNotFound)
	}
	h, off, err := readHeader(f)
	if isTorn(fi.Size(), h, off, err) {
		f.Close()
		s.log.Warn("torn object (a write cut by a crash before it was acknowledged); treated as absent", "key", key, "bytes", fi.Size())
		return nil, fmt.Errorf("fs %s %s: %w", op, key, errTorn)
	}
	if err == nil && fi.Size() != off+h.size {
		err = fmt.Errorf("%w: file is %d bytes, header says %d", errCorrupt, fi.Size(), off+h.size)
	}
	if err != nil {
		f.Close()
		s.log.Error("unreadable object", "key", key, "err", err)
		return nil, fmt.Errorf("fs %s %s: %w", op, key, err)
	}
	return &objectFile{f: f, h: h, offset: off, mod: fi.ModTime()}, nil
}

func (o *objectFile) info(key string) storage.Info {
	return storage.Info{Key: key, Size: o.h.size, SHA256: o.h.hexSHA256(), ContentType: o.h.contentType, ModTime: o.mod, Metadata: o.h.meta}
}

type sectionCloser struct {
	*io.SectionReader
	f *os.File
}

func (s sectionCloser) Close() error { return s.f.Close() }

// Get opens the whole object. The open file keeps the version that was
// current at open time, even if a Put replaces it meanwhile.
func (s *Store) Get(ctx context.Context, key string) (io.ReadCloser, storage.Info, error) {
	if err := ctx.Err(); err != nil {
		return nil, storage.Info{}, fmt.Errorf("fs get %s: %w", key, err)
	}
	o, err := s.open("get", key)
	if err != nil {
		return nil, storage.Info{}, err
	}
	return sectionCloser{io.NewSectionReader(o.f, o.offset, o.h.size), o.f}, o.info(key), nil
}

// GetRange opens length bytes at offset (length < 0: to the end).
func (s *Store) GetRange(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("fs get range %s: %w", key, err)
	}
	o, err := s.open("get range", key)
	if err != nil {
		return nil, err
	}
	if offset < 0 || offset > o.h.size {
		o.f.Close()
		return nil, fmt.Errorf("fs get range %s: offset %d of %d bytes: %w", key, offset, o.h.size, storage.ErrInvalidRange)
	}
	if length < 0 || length > o.h.size-offset {
		length = o.h.size - offset
	}
	return sectionCloser{io.NewSectionReader(o.f, o.offset+offset, length), o.f}, nil
}

// Stat reads only the object's header.
func (s *Store) Stat(ctx context.Context, key string) (storage.Info, error) {
	if err := ctx.Err(); err != nil {
		return storage.Info{}, fmt.Errorf("fs stat %s: %w", key, err)
	}
	o, err := s.open("stat", key)
	if err != nil {
		return storage.Info{}, err
	}
	defer o.f.Close()
	return o.info(key), nil
}

// List walks objects/ in key order. Writes in progress live in tmp/ and are
// never seen.
func (s *Store) List(ctx context.Context, prefix string, fn func(storage.Info) error) error {
	if err := storage.ValidatePrefix(prefix); err != nil {
		return fmt.Errorf("fs list: %w", err)
	}
	// Start at the deepest directory the prefix names completely.
	dirKey := ""
	if i := strings.LastIndex(prefix, "/"); i >= 0 {
		dirKey = prefix[:i]
	}
	err := s.walk(ctx, dirKey, prefix, fn)
	if err != nil {
		return fmt.Errorf("fs list %q: %w", prefix, err)
	}
	return nil
}

// walk visits the directory for dirKey ("" = root) in lexicographic key
// order. Entries are sorted by name with "/" appended to directories, so
// "a/b" sorts after "a.b" and before "a0" exactly as the keys do.
func (s *Store) walk(ctx context.Context, dirKey, prefix string, fn func(storage.Info) error) error {
	dir := s.objDir
	if dirKey != "" {
		dir = s.path(dirKey)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
			return nil // nothing under this prefix (or removed concurrently)
		}
		return err
	}
	type ent struct {
		key   string
		isDir bool
	}
	list := make([]ent, 0, len(entries))
	for _, e := range entries {
		k := e.Name()
		if dirKey != "" {
			k = dirKey + "/" + k
		}
		list = append(list, ent{k, e.IsDir()})
	}
	sortKey := func(e ent) string {
		if e.isDir {
			return e.key + "/"
		}
		return e.key
	}
	slices.SortFunc(list, func(a, b ent) int { return strings.Compare(sortKey(a), sortKey(b)) })
	for _, e := range list {
		if err := ctx.Err(); err != nil {
			return err
		}
		if e.isDir {
			// Descend only if the directory can hold keys with the prefix.
			d := e.key + "/"
			if strings.HasPrefix(d, prefix) || strings.HasPrefix(prefix, d) {
				if err := s.walk(ctx, e.key, prefix, fn); err != nil {
					return err
				}
			}
			continue
		}
		if !strings.HasPrefix(e.key, prefix) {
			continue
		}
		o, err := s.open("list", e.key)
		if errors.Is(err, storage.ErrNotFound) {
			continue // deleted while we walked
		}
		if err != nil {
			return err
		}
		info := o.info(e.key)
		o.f.Close()
		if err := fn(info); err != nil {
			return err
		}
	}
	return nil
}

// ---- write side ----

var bufPool = sync.Pool{New: func() any { b := make([]byte, 256<<10); return &b }}

// Put writes r to an anonymous file (see putAnon) and links it under the
// key; if the key exists, the new file is fsynced first (unless Lazy) and
// renamed over the old one. Without O_TMPFILE it writes a locked temp file
// in tmp/, fsyncs it, renames it over the key and fsyncs the directory. A
// failure at any point before the link or rename leaves the old object
// untouched; nothing is left behind (named temp files of dead writers are
// swept by the next New).
func (s *Store) Put(ctx context.Context, key string, r io.Reader, opts storage.PutOptions) (storage.Info, error) {
	return s.put(ctx, "put", key, r, opts, false)
}

// PutIfAbsent is Put committed with link(2) instead of rename(2): the kernel
// refuses with EEXIST if the key appeared meanwhile, so exactly one of many
// concurrent writers — in any number of processes — wins.
func (s *Store) PutIfAbsent(ctx context.Context, key string, r io.Reader, opts storage.PutOptions) (storage.Info, error) {
	if err := storage.ValidateKey(key); err != nil {
		return storage.Info{}, fmt.Errorf("fs put if absent: %w", err)
	}
	// Cheap early answer for the common re-send; link(2) below decides races.
	if info, err := s.Stat(ctx, key); err == nil {
		return info, fmt.Errorf("fs put if absent %s: %w", key, storage.ErrExists)
	} else if !errors.Is(err, storage.ErrNotFound) {
		return storage.Info{}, err
	}
	return s.put(ctx, "put if absent", key, r, opts, true)
}

func (s *Store) put(ctx context.Context, op, key string, r io.Reader, opts storage.PutOptions, ifAbsent bool) (info storage.Info, err error) {
	if err := storage.ValidateKey(key); err != nil {
		return storage.Info{}, fmt.Errorf("fs %s: %w", op, err)
	}
	ct := opts.ContentType
	if ct == "" {
		ct = "application/octet-stream"
	}
	if len(ct) > maxContentType {
		return storage.Info{}, fmt.Errorf("fs %s %s: %w", op, key, ErrContentType)
	}
	if err := storage.ValidateMetadata(opts.Metadata); err != nil {
		return storage.Info{}, fmt.Errorf("fs %s %s: %w", op, key, err)
	}
	meta := maps.Clone(opts.Metadata)
	if len(meta) == 0 {
		meta = nil
	}
	if err := ctx.Err(); err != nil {
		return storage.Info{}, fmt.Errorf("fs %s %s: %w", op, key, err)
	}
	if s.anon {
		return s.putAnon(ctx, op, key, r, opts, ct, meta, !ifAbsent)
	}

	tmp, err := s.sys.createTemp(s.tmpDir)
	if err != nil {
		return storage.Info{}, fmt.Errorf("fs %s %s: create temp: %w", op, key, err)
	}
	tmpName := tmp.Name()
	committed := false
	defer func() {
		tmp.Close()
		if !committed {
			os.Remove(tmpName)
		}
	}()
	if err := lock(tmp); err != nil {
		return storage.Info{}, fmt.Errorf("fs %s %s: lock temp: %w", op, key, err)
	}
	h, err := s.writeObject(ctx, tmp, r, opts, ct, meta)
	if err != nil {
		return storage.Info{}, fmt.Errorf("fs %s %s: %w", op, key, err)
	}
	if !opts.Lazy {
		if err := s.sys.syncFile(tmp); err != nil {
			return storage.Info{}, fmt.Errorf("fs %s %s: fsync: %w", op, key, err)
		}
	}
	fi, err := tmp.Stat()
	if err != nil {
		return storage.Info{}, fmt.Errorf("fs %s %s: %w", op, key, err)
	}
	info = storage.Info{Key: key, Size: h.size, SHA256: h.hexSHA256(), ContentType: ct, ModTime: fi.ModTime(), Metadata: maps.Clone(meta)}
	if err := ctx.Err(); err != nil {
		return storage.Info{}, fmt.Errorf("fs %s %s: %w", op, key, err)
	}

	final := s.path(key)
	// A concurrent Delete may remove a parent directory that just became
	// empty between our MkdirAll and the rename; then we simply recreate it.
	for attempt := 0; ; attempt++ {
		if err := s.mkdirs(filepath.Dir(final)); err != nil {
			return storage.Info{}, s.mkdirsErr(op, key, err)
		}
		if ifAbsent {
			err = s.sys.link(tmpName, final)
		} else {
			err = s.sys.rename(tmpName, final)
		}
		if err == nil {
			break
		}
		switch {
		case errors.Is(err, os.ErrNotExist) && attempt < 10:
			continue
		case ifAbsent && errors.Is(err, os.ErrExist):
			existing, rerr := s.existing(ctx, op, key, func() error { return s.sys.rename(tmpName, final) })
			if rerr == nil {
				// A torn object (see isTorn) was replaced by ours.
				committed = true
				return info, s.syncCommit(op, key, tmp, final, opts.Lazy)
			}
			return existing, rerr
		case errors.Is(err, syscall.EISDIR) || errors.Is(err, syscall.ENOTEMPTY) || errors.Is(err, os.ErrExist):
			return storage.Info{}, fmt.Errorf("fs %s %s: a directory of that name exists: %w", op, key, ErrKeyConflict)
		default:
			return storage.Info{}, fmt.Errorf("fs %s %s: commit: %w", op, key, err)
		}
	}
	if ifAbsent {
		// The link is the commit; the temp name is just an extra link.
		os.Remove(tmpName)
	}
	committed = true
	if opts.Lazy {
		// Atomic already (rename/link); durability is what Lazy waives.
		return info, nil
	}
	if err := s.dirs.Sync(filepath.Dir(final)); err != nil {
		return storage.Info{}, fmt.Errorf("fs %s %s: fsync dir: %w", op, key, err)
	}
	return info, nil
}

// putAnon is PutIfAbsent on an anonymous file (O_TMPFILE): the content is
// written to an inode without a name, linked under the key with linkat(2)
// — which fails if the key exists, so exactly one writer wins — and then
// the file and its directory are fsynced, concurrently. The classic order
// (write, fsync, link, fsync the directory) waits for two flushes one
// after the other; linking first lets both flushes run at once. Readers
// never see a partial object, since the link comes after the last byte is
// written; only a crash between the link and the end of the fsyncs can
// leave a name whose content did not reach the disk — a torn object, which
// was never acknowledged and which every read treats as absent and the
// next PutIfAbsent replaces (see isTorn). An anonymous file needs no lock
// and no sweeping: the kernel frees it if we die before the link.
func (s *Store) putAnon(ctx context.Context, op, key string, r io.Reader, opts storage.PutOptions, ct string, meta map[string]string, replace bool) (storage.Info, error) {
	final := s.path(key)
	if err := s.mkdirs(filepath.Dir(final)); err != nil {
		return storage.Info{}, s.mkdirsErr(op, key, err)
	}
	// Created in the key's own directory: ext4 allocates the inode near
	// its directory, away from tmp/, where recently deleted inodes make
	// every allocation scan (recently_deleted) after a purge.
	dir := filepath.Dir(final)
	f, err := s.sys.openAnon(dir)
	if err != nil {
		return storage.Info{}, fmt.Errorf("fs %s %s: create anonymous file: %w", op, key, err)
	}
	defer f.Close()
	h, err := s.writeObject(ctx, f, r, opts, ct, meta)
	if err != nil {
		return storage.Info{}, fmt.Errorf("fs %s %s: %w", op, key, err)
	}
	if err := ctx.Err(); err != nil {
		return storage.Info{}, fmt.Errorf("fs %s %s: %w", op, key, err)
	}
	return s.commitAnon(ctx, op, key, f, h, opts.Lazy, replace)
}

// commitAnon links the anonymous file f, holding a complete object with
// header h, under key and makes it durable (see putAnon). Without replace
// it is create-if-absent (replacing only a torn object); with replace (Put)
// an existing object is replaced atomically by renaming over it — the
// first write of a key, the common case, needs no rename.
func (s *Store) commitAnon(ctx context.Context, op, key string, f *os.File, h header, lazy, replace bool) (storage.Info, error) {
	final := s.path(key)
	link := func(to string) error {
		return s.sys.link(anonPath(f), to)
	}
	// renameOver gives the anonymous file a temporary name and renames it
	// over final (linkat cannot replace a name).
	renameOver := func() error {
		tmpName := filepath.Join(s.tmpDir, "put-"+strconv.FormatInt(time.Now().UnixNano(), 36)+"-"+strconv.Itoa(int(f.Fd())))
		if err := link(tmpName); err != nil {
			return err
		}
		defer os.Remove(tmpName)
		return s.sys.rename(tmpName, final)
	}
	for attempt := 0; ; attempt++ {
		err := link(final)
		if err == nil {
			break
		}
		switch {
		case errors.Is(err, os.ErrNotExist) && attempt < 10:
			// The key's directory does not exist yet (a staged object), or
			// a concurrent Delete removed it when it became empty.
			if err := s.mkdirs(filepath.Dir(final)); err != nil {
				return storage.Info{}, s.mkdirsErr(op, key, err)
			}
			continue
		case errors.Is(err, os.ErrExist) && replace:
			// Replacing a durable object: the new content must be on disk
			// before its name takes the old one's place, or a power loss
			// could leave neither (the new one torn, the old one unlinked).
			if !lazy {
				if err := s.sys.syncFile(f); err != nil {
					return storage.Info{}, fmt.Errorf("fs %s %s: fsync: %w", op, key, err)
				}
			}
			if err := renameOver(); err != nil {
				if errors.Is(err, syscall.EISDIR) || errors.Is(err, syscall.ENOTEMPTY) || errors.Is(err, os.ErrExist) {
					return storage.Info{}, fmt.Errorf("fs %s %s: a directory of that name exists: %w", op, key, ErrKeyConflict)
				}
				return storage.Info{}, fmt.Errorf("fs %s %s: commit: %w", op, key, err)
			}
		case errors.Is(err, os.ErrExist):
			existing, rerr := s.existing(ctx, op, key, renameOver)
			if rerr != nil {
				return existing, rerr
			}
		default:
			return storage.Info{}, fmt.Errorf("fs %s %s: commit: %w", op, key, err)
		}
		break
	}
	fi, err := f.Stat()
	if err != nil {
		return storage.Info{}, fmt.Errorf("fs %s %s: %w", op, key, err)
	}
	if err := s.syncCommit(op, key, f, final, lazy); err != nil {
		return storage.Info{}, err
	}
	return storage.Info{Key: key, Size: h.size, SHA256: h.hexSHA256(), ContentType: h.contentType, ModTime: fi.ModTime(), Metadata: maps.Clone(h.meta)}, nil
}

// syncCommit makes a just-linked object durable: fsync of the file and of
// its directory (see putAnon). If that fails the object may not survive a
// crash, so it is unlinked again (if still ours) and the write reported as
// failed.
func (s *Store) syncCommit(op, key string, f *os.File, final string, lazy bool) error {
	if lazy {
		return nil
	}
	dir := filepath.Dir(final)
	var err error
	if s.anon {
		// Content and name become durable together: the file and its
		// directory are fsynced concurrently. A journaling filesystem would
		// need only the file's fsync (it commits the transaction holding
		// the link), but ext4 without a journal — the benchmark VMs run
		// that — persists a new name only through the directory. Issued in
		// parallel the two flushes coalesce: 1.44 ms per 0.5 MB object
		// against 1.37 for the file alone and 1.75 one after the other.
		dirErr := make(chan error, 1)
		go func() { dirErr <- s.dirs.Sync(dir) }()
		err = errors.Join(s.sys.syncFile(f), <-dirErr)
	} else {
		// A named temp file was fsynced before its link (or rename); the
		// directory carries the commit.
		if err = s.sys.syncFile(f); err == nil {
			err = s.dirs.Sync(dir)
		}
	}
	if err == nil {
		return nil
	}
	if ours, serr := f.Stat(); serr == nil {
		if cur, lerr := os.Lstat(final); lerr == nil && os.SameFile(ours, cur) {
			os.Remove(final)
		}
	}
	return fmt.Errorf("fs %s %s: fsync: %w", op, key, err)
}

// existing answers a PutIfAbsent whose link found the key taken: the
// existing object's Info with ErrExists; ErrKeyConflict when the name is a
// directory; or, when the existing file is torn (isTorn), it replaces it
// with replace() under an exclusive lock on the torn file and returns nil
// so the caller completes its own commit. Concurrent replacers serialise
// on that lock and the losers see the winner's object.
func (s *Store) existing(ctx context.Context, op, key string, replace func() error) (storage.Info, error) {
	final := s.path(key)
	for attempt := 0; attempt < 10; attempt++ {
		info, err := s.Stat(ctx, key)
		if err == nil {
			return info, fmt.Errorf("fs %s %s: %w", op, key, storage.ErrExists)
		}
		if !errors.Is(err, errTorn) {
			if errors.Is(err, storage.ErrNotFound) {
				if fi, lerr := os.Lstat(final); lerr == nil && fi.IsDir() {
					return storage.Info{}, fmt.Errorf("fs %s %s: a directory of that name exists: %w", op, key, ErrKeyConflict)
				}
			}
			return storage.Info{}, err
		}
		t, err := os.Open(final)
		if err != nil {
			continue // replaced or deleted meanwhile: look again
		}
		if err := lock(t); err != nil {
			t.Close()
			return storage.Info{}, fmt.Errorf("fs %s %s: lock torn object: %w", op, key, err)
		}
		locked, _ := t.Stat()
		cur, lerr := os.Lstat(final)
		if lerr != nil || locked == nil || !os.SameFile(locked, cur) {
			t.Close() // someone replaced it while we waited
			continue
		}
		// Still torn? We may have opened the object another writer put
		// in place of the torn one after our Stat: that one stays.
		if h, off, herr := readHeader(t); !isTorn(locked.Size(), h, off, herr) {
			t.Close()
			continue
		}
		s.log.Warn("replacing a torn object (a write cut by a crash before it was acknowledged)", "key", key, "bytes", locked.Size())
		err = replace()
		t.Close()
		if err != nil {
			return storage.Info{}, fmt.Errorf("fs %s %s: replace torn object: %w", op, key, err)
		}
		return storage.Info{}, nil
	}
	return storage.Info{}, fmt.Errorf("fs %s %s: the key keeps changing under concurrent writers: %w", op, key, storage.ErrExists)
}

func (s *Store) mkdirsErr(op, key string, err error) error {
	if errors.Is(err, syscall.ENOTDIR) || errors.Is(err, syscall.EEXIST) {
		return fmt.Errorf("fs %s %s: a parent is an object: %w", op, key, ErrKeyConflict)
	}
	return fmt.Errorf("fs %s %s: %w", op, key, err)
}

// writeObject writes header and content into the fresh file f. When r is
// an unread reader over a sealed storage.Buffer its digest is known
// (storage.SealedDigest): the header goes first and the content follows in
// one write, without hashing it again. Otherwise the content streams in
// while it is hashed and the header is filled in afterwards.
func (s *Store) writeObject(ctx context.Context, f *os.File, r io.Reader, opts storage.PutOptions, ct string, meta map[string]string) (header, error) {
	hdrLen := headerLen(ct, encodeMeta(meta))
	var h header
	if sha, size, ok := storage.SealedDigest(r); ok {
		h.size = size
		if _, err := hex.Decode(h.sha256[:], []byte(sha)); err != nil {
			return header{}, err
		}
	} else {
		var err error
		if h, err = s.copyHashed(ctx, f, hdrLen, r, opts.Size); err != nil {
			return header{}, err
		}
		r = nil
	}
	h.contentType, h.meta = ct, meta
	if opts.Size > 0 && h.size != opts.Size {
		return header{}, fmt.Errorf("got %d bytes, want %d: %w", h.size, opts.Size, storage.ErrSizeMismatch)
	}
	if opts.SHA256 != "" && !strings.EqualFold(opts.SHA256, h.hexSHA256()) {
		return header{}, fmt.Errorf("got sha256 %s, want %s: %w", h.hexSHA256(), opts.SHA256, storage.ErrDigestMismatch)
	}
	if _, err := f.WriteAt(h.marshal(), 0); err != nil {
		return header{}, fmt.Errorf("write header: %w", err)
	}
	if r != nil {
		if _, err := f.Seek(hdrLen, io.SeekStart); err != nil {
			return header{}, err
		}
		if _, err := io.Copy(f, r); err != nil {
			return header{}, fmt.Errorf("write: %w", err)
		}
	}
	return h, nil
}

// copyHashed copies r into f starting at offset, hashing as it goes, and
// stops as soon as more than want bytes arrive (want > 0). It checks ctx
// between chunks so a cancelled request stops promptly.
func (s *Store) copyHashed(ctx context.Context, f *os.File, offset int64, r io.Reader, want int64) (header, error) {
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return header{}, err
	}
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := *bp
	hash := sha256.New()
	var n int64
	for {
		if err := ctx.Err(); err != nil {
			return header{}, err
		}
		k, rerr := r.Read(buf)
		if k > 0 {
			n += int64(k)
			if want > 0 && n > want {
				return header{}, fmt.Errorf("more than %d bytes: %w", want, storage.ErrSizeMismatch)
			}
			hash.Write(buf[:k])
			if _, err := f.Write(buf[:k]); err != nil {
				return header{}, fmt.Errorf("write: %w", err)
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return header{}, fmt.Errorf("read source: %w", rerr)
		}
	}
	var h header
	h.size = n
	copy(h.sha256[:], hash.Sum(nil))
	return h, nil
}

// mkdirs creates dir and any missing parents under objects/, and returns
// once the entry of every directory from objects/ down to dir is durable in
// its parent, whoever created it. A directory this writer creates gets its
// parent fsynced. One that already exists may have been created a moment
// ago by a concurrent writer — in this process or another — whose fsync of
// the parent has not completed: acknowledging an object under it then could
// precede the flush of its directory's name, and a power loss would lose the
// acknowledged object. So an existing directory this process has not yet
// seen flushed gets its parent fsynced as well (shared with concurrent
// callers through s.dirs; afterwards the directory is remembered and costs
// nothing more).
func (s *Store) mkdirs(dir string) error {
	if fi, err := os.Stat(dir); err == nil {
		if !fi.IsDir() {
			return syscall.ENOTDIR
		}
		if dir == s.objDir || !strings.HasPrefix(dir, s.objDir) {
			return nil
		}
		return s.entryDurable(dir, fi)
	}
	if dir == s.objDir || !strings.HasPrefix(dir, s.objDir) {
		return os.MkdirAll(dir, 0o750)
	}
	if err := s.mkdirs(filepath.Dir(dir)); err != nil {
		return err
	}
	if err := s.sys.mkdir(dir); err != nil {
		if !errors.Is(err, os.ErrExist) {
			return err
		}
		// Created concurrently: its creator may not have flushed it yet.
		fi, serr := os.Stat(dir)
		if serr != nil {
			return serr
		}
		if !fi.IsDir() {
			return syscall.ENOTDIR
		}
		return s.entryDurable(dir, fi)
	}
	if err := s.dirs.Sync(filepath.Dir(dir)); err != nil {
		return err
	}
	if fi, err := os.Stat(dir); err == nil {
		s.durable.add(dir, fi)
	}
	return nil
}

// entryDurable returns once the existing directory dir (described by fi)
// and its ancestors below objects/ have durable entries in their parents.
func (s *Store) entryDurable(dir string, fi os.FileInfo) error {
	if s.durable.has(dir, fi) {
		return nil
	}
	parent := filepath.Dir(dir)
	if parent != s.objDir {
		pfi, err := os.Stat(parent)
		if err != nil {
			return err
		}
		if err := s.entryDurable(parent, pfi); err != nil {
			return err
		}
	}
	// This fsync starts after we saw dir, hence after its mkdir: it
	// carries dir's entry whoever made it.
	if err := s.dirs.Sync(parent); err != nil {
		return err
	}
	s.durable.add(dir, fi)
	return nil
}

// knownDirs remembers directories (path and inode) whose entry this process
// has seen flushed into their parent. The inode tells a directory removed
// and created again (by another process) from the one we saw flushed.
// Bounded: when full it starts over, which costs one parent fsync per
// directory written to again.
type knownDirs struct {
	mu sync.Mutex
	m  map[string]uint64
}

const maxKnownDirs = 1 << 16

func (k *knownDirs) has(dir string, fi os.FileInfo) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	ino, ok := k.m[dir]
	return ok && ino == inode(fi)
}

func (k *knownDirs) add(dir string, fi os.FileInfo) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.m == nil || len(k.m) >= maxKnownDirs {
		k.m = make(map[string]uint64)
	}
	k.m[dir] = inode(fi)
}

func (k *knownDirs) remove(dir string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	delete(k.m, dir)
}

// Delete removes the key's file and then, best effort, parent directories
// that became empty (rmdir fails harmlessly on a non-empty one).
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := storage.ValidateKey(key); err != nil {
		return fmt.Errorf("fs delete: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("fs delete %s: %w", key, err)
	}
	p := s.path(key)
	fi, err := os.Lstat(p)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
			return nil
		}
		return fmt.Errorf("fs delete %s: %w", key, err)
	}
	if fi.IsDir() {
		return nil // a prefix, not an object
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("fs delete %s: %w", key, err)
	}
	if err := s.sys.syncDir(filepath.Dir(p)); err != nil {
		return fmt.Errorf("fs delete %s: fsync dir: %w", key, err)
	}
	for d := filepath.Dir(p); d != s.objDir && strings.HasPrefix(d, s.objDir); d = filepath.Dir(d) {
		if os.Remove(d) != nil {
			break
		}
		s.durable.remove(d)
	}
	return nil
}
