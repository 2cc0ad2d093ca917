package ingest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/huren-health/huren/dicomfile"
	"github.com/huren-health/huren/storage"
)

// spooled holds one instance's bytes between arrival and storage: in memory
// up to Config.SpoolMemoryBytes, else in an unlinked-on-close temp file, so
// memory stays bounded whatever the instance size.
type spooled struct {
	// buf holds the instance when it fits in memory (pooled). It hashed the
	// bytes as they arrived and is sealed: a reader over it tells the
	// store the digest (storage.SealedDigest), so fs does not hash again.
	buf  *storage.Buffer
	file *os.File
	size int64
	sha  string
}

func (sp *spooled) reader() (io.Reader, error) {
	if sp.file == nil {
		return sp.buf.Reader(), nil
	}
	return io.NewSectionReader(sp.file, 0, sp.size), nil
}

func (sp *spooled) close() {
	if sp.file != nil {
		name := sp.file.Name()
		sp.file.Close()
		os.Remove(name)
		sp.file = nil
	}
	if sp.buf != nil {
		sp.buf.Reset()
		spoolPool.Put(sp.buf)
		sp.buf = nil
	}
}

// spoolPool recycles in-memory spool buffers: without it every instance
// allocates (and the runtime zeroes) its size again, which showed as a
// third of STOW's CPU time.
var spoolPool = sync.Pool{New: func() any { return new(storage.Buffer) }}

// ctxReader stops a copy when the context ends, even if the underlying
// reader would block (the HTTP server also closes the body on disconnect).
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// spoolPattern names spool files; sweepSpool removes those a crashed
// process left behind.
const spoolPattern = "huren-ingest-*.dcm"

// sweepSpool removes spool files older than a day from the spool
// directory (a kill -9 leaves them; no live upload spools that long). It
// runs once per Service, synchronously, on the first spill to disk.
func (s *Service) sweepSpool() {
	dir := s.cfg.TempDir
	if dir == "" {
		dir = os.TempDir()
	}
	old, _ := filepath.Glob(filepath.Join(dir, spoolPattern))
	for _, p := range old {
		if fi, err := os.Stat(p); err == nil && time.Since(fi.ModTime()) > 24*time.Hour {
			if os.Remove(p) == nil {
				s.log.Info("removed a spool file left by a crashed process", "path", p)
			}
		}
	}
}

// spool reads r completely. declared is the expected size or -1.
func (s *Service) spool(ctx context.Context, r io.Reader, declared int64) (*spooled, error) {
	max := s.cfg.MaxInstanceBytes
	if declared > max {
		return nil, fmt.Errorf("%w: %d bytes declared, the limit is %d", ErrTooLarge, declared, max)
	}
	src := io.LimitReader(ctxReader{ctx, r}, max+1)
	sp := &spooled{}

	memCap := s.cfg.SpoolMemoryBytes
	initial := int64(64 << 10)
	if declared > 0 && declared <= memCap {
		initial = declared + 1 // +1 so the EOF probe does not regrow
	}
	buf := spoolPool.Get().(*storage.Buffer)
	buf.Reset()
	sp.buf = buf
	buf.Grow(int(initial))
	// The first bytes tell whether this can be DICOM at all: a PDF, or 2 GB
	// of garbage, is refused here instead of after reading it to its end.
	var head [dicomfile.SniffLen]byte
	h, err := io.ReadFull(src, head[:])
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		return sp, readErr(err)
	}
	if err := dicomfile.Sniff(head[:h]); err != nil {
		return sp, fmt.Errorf("parse: %w: %w", err, ErrStoppedReading)
	}
	buf.Write(head[:h])
	n, err := buf.ReadFrom(io.LimitReader(src, memCap+1-int64(h)))
	n += int64(h)
	if err != nil {
		return sp, readErr(err)
	}
	var sum string
	if n > memCap {
		s.sweepOnce.Do(s.sweepSpool)
		f, err := os.CreateTemp(s.cfg.TempDir, spoolPattern)
		if errors.Is(err, fs.ErrNotExist) && s.cfg.TempDir != "" {
			// The spool directory is created on first use (and again if an
			// operator cleaned it away), so the first large instance after a
			// fresh start does not fail.
			if mkErr := os.MkdirAll(s.cfg.TempDir, 0o700); mkErr == nil {
				f, err = os.CreateTemp(s.cfg.TempDir, spoolPattern)
			}
		}
		if err != nil {
			return sp, fmt.Errorf("spool instance: %w", err)
		}
		sp.file = f
		// Hash the whole instance on its way to the file (the memory
		// part once more: large instances only).
		h := sha256.New()
		if _, err := buf.Reader().WriteTo(io.MultiWriter(f, h)); err != nil {
			return sp, fmt.Errorf("spool instance: %w", err)
		}
		buf.Reset()
		spoolPool.Put(buf)
		sp.buf = nil
		m, err := io.Copy(f, io.TeeReader(src, h))
		if err != nil {
			var pe *os.PathError
			if errors.As(err, &pe) {
				return sp, fmt.Errorf("spool instance: %w", err)
			}
			return sp, readErr(err)
		}
		n += m
		sum = hex.EncodeToString(h.Sum(nil))
	} else {
		sum = buf.SHA256()
	}
	if n > max {
		return sp, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, max)
	}
	if declared >= 0 && n != declared {
		return sp, fmt.Errorf("%w: %d bytes arrived, %d were declared", readErr(io.ErrUnexpectedEOF), n, declared)
	}
	sp.size = n
	sp.sha = sum
	return sp, nil
}
