// Package storage defines Huren's object store: the source of truth for
// original DICOM/ECG bytes, per-instance metadata, report versions, task events
// and audit segments.
//
// The interface lives here; each backend is a sub-package with a type named
// Store (storage/fs, storage/minio). This package never imports a backend.
// The contract below is tested, sentence by sentence, by storage/storagetest,
// which every backend runs.
package storage

import (
	"context"
	"io"
	"time"

	"github.com/huren-health/huren/errkind"
)

// Errors every backend translates its own failures into, so callers never see
// backend error types. Match them with errors.Is.
var (
	// ErrNotFound: the key does not exist (Get, GetRange, Stat; never Delete).
	ErrNotFound = errkind.New(errkind.NotFound, "storage: not found")
	// ErrExists: PutIfAbsent found the key already present.
	ErrExists = errkind.New(errkind.Conflict, "storage: already exists")
	// ErrInvalidKey: the key is empty, absolute, has "." or ".." segments,
	// backslashes, NUL bytes or is otherwise not a clean relative path.
	ErrInvalidKey = errkind.New(errkind.Invalid, "storage: invalid key")
	// ErrInvalidMetadata: PutOptions.Metadata breaks ValidateMetadata's rules.
	ErrInvalidMetadata = errkind.New(errkind.Invalid, "storage: invalid metadata")
	// ErrInvalidRange: a range outside the object.
	ErrInvalidRange = errkind.New(errkind.Invalid, "storage: invalid range")
	// ErrUnavailable: the backend cannot be reached right now; the caller may
	// retry later (HTTP 503 + Retry-After).
	ErrUnavailable = errkind.New(errkind.Unavailable, "storage: backend unavailable")
	// ErrDigestMismatch: PutOptions.SHA256 was set and the bytes hashed to
	// something else; nothing was stored.
	ErrDigestMismatch = errkind.New(errkind.Invalid, "storage: sha256 mismatch")
	// ErrSizeMismatch: PutOptions.Size was set (>= 0) and a different number of
	// bytes arrived; nothing was stored.
	ErrSizeMismatch = errkind.New(errkind.Invalid, "storage: size mismatch")
)

// Info describes a stored object.
type Info struct {
	Key string
	// Size in bytes.
	Size int64
	// SHA256 is the lowercase hex SHA-256 of the content. Put computes it while
	// the bytes stream; Stat/Get/List return the value recorded at Put time
	// (never by rehashing). Objects placed in a bucket by other tools, not
	// through a Store, have an empty SHA256.
	SHA256      string
	ContentType string
	// ModTime is when the object was written (backend clock).
	ModTime time.Time
	// Metadata is what PutOptions.Metadata recorded. Get and Stat return it;
	// List may leave it nil (listing it costs an extra request per object on
	// some backends).
	Metadata map[string]string
}

// PutOptions tune a write. The zero value is valid.
type PutOptions struct {
	// ContentType is recorded with the object; empty means
	// "application/octet-stream".
	ContentType string
	// Size is the expected length; -1 or 0 with unknown content means
	// "unknown". When > 0 and the reader yields a different count, Put fails
	// with ErrSizeMismatch and stores nothing. Backends may use it to avoid
	// buffering.
	Size int64
	// SHA256, when non-empty (lowercase hex), must match the content or Put
	// fails with ErrDigestMismatch and stores nothing.
	SHA256 string
	// Metadata is stored with the object, atomically with its content (what
	// S3 calls user metadata): facts about the object that must survive
	// with it, such as which site uploaded an original. See ValidateMetadata
	// for the allowed keys and values.
	Metadata map[string]string
	// Lazy marks derived data that can be rebuilt from other objects: the
	// write is still atomic (never partial, never mixed with the old
	// content) but need not be durable when Put returns, so backends may
	// skip their sync to stable storage. After a power loss a lazy object
	// may be missing or unreadable (an error, never wrong bytes); readers
	// must be able to rebuild it.
	Lazy bool
}

// Reader is the read side: what viewers and WADO need.
// Implementations must be safe for concurrent use.
type Reader interface {
	// Get opens the whole object. The caller must Close the reader.
	// A missing key returns an error matching ErrNotFound.
	Get(ctx context.Context, key string) (io.ReadCloser, Info, error)
	// GetRange opens length bytes starting at offset; length < 0 means to the
	// end. offset beyond the object's size returns ErrInvalidRange; a length
	// running past the end is truncated to the end. An offset equal to the
	// size (or length 0) yields an empty reader; a negative offset is
	// ErrInvalidRange.
	GetRange(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error)
	// Stat returns the object's Info without its content.
	Stat(ctx context.Context, key string) (Info, error)
}

// Store is the full object store. Implementations must be safe for concurrent
// use by many goroutines and many processes sharing the same backend.
type Store interface {
	Reader
	// Put streams r into key, computing SHA-256 and size while writing, and
	// replaces any existing object atomically: readers see either the old or
	// the new content, never a partial object — including when r fails, ctx is
	// cancelled or the process dies mid-write. When Put returns nil the object
	// is durable. Put reads r to EOF (it stops early only on failure, e.g. as
	// soon as more than opts.Size bytes arrive); memory use is bounded
	// regardless of size.
	Put(ctx context.Context, key string, r io.Reader, opts PutOptions) (Info, error)
	// PutIfAbsent is Put that only succeeds when key does not exist yet. If it
	// exists it returns the existing object's Info and an error matching
	// ErrExists, and leaves the object untouched. Among concurrent callers on
	// one key exactly one succeeds. When the key already exists it may return
	// without reading r at all.
	PutIfAbsent(ctx context.Context, key string, r io.Reader, opts PutOptions) (Info, error)
	// List calls fn for every object whose key starts with prefix, in
	// lexicographic key order. An error from fn stops the walk and is returned.
	// Objects being written (not yet visible to Get) are never listed.
	List(ctx context.Context, prefix string, fn func(Info) error) error
	// Delete removes key. Deleting a missing key is not an error.
	Delete(ctx context.Context, key string) error
	// Close releases resources. It is safe to call more than once.
	Close() error
}

// Presigner is an optional capability: a backend that can hand a client a
// time-limited direct URL. Check with a type assertion.
type Presigner interface {
	PresignGet(ctx context.Context, key string, expiry time.Duration) (string, error)
}
