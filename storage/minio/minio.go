package minio

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"time"

	mc "github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/s3utils"

	"github.com/huren-health/huren/storage"
)

const (
	// DefaultPartSize is the multipart part size: also the largest object
	// written with a single PUT, and the memory one in-flight large Put holds.
	DefaultPartSize = 16 << 20
	smallBuffer     = 1 << 20
	minPartSize     = 5 << 20 // S3 minimum for all parts but the last
	maxPartSize     = 512 << 20
	maxParts        = 10000
	// copyPartSize is the range copied per UploadPartCopy (S3 allows 5 GiB).
	copyPartSize = 1 << 30
	// tmpDir is the reserved first key segment for uploads awaiting their
	// server-side copy; keys under it are rejected, List hides it.
	tmpDir = ".huren-tmp"
	// staleAfter is the age at which Init removes leftovers of dead writers.
	staleAfter = 24 * time.Hour
	// metaSHA256 is the user metadata holding the content's SHA-256.
	metaSHA256 = "Sha256"
	// metaUserPrefix namespaces PutOptions.Metadata keys in the object's
	// user metadata (x-amz-meta-u-{key}), apart from our own Sha256.
	metaUserPrefix = "u-"
)

// Config configures the MinIO/S3 backend.
type Config struct {
	Endpoint  string // host:port, no scheme
	AccessKey string
	SecretKey string
	Bucket    string
	Secure    bool   // HTTPS
	Region    string // optional; used when creating the bucket
	// Prefix is prepended to every key, e.g. "huren/" to share a bucket.
	Prefix string
	// PartSize overrides DefaultPartSize (5 MiB … 512 MiB).
	PartSize int64
	// MaxRetries per request on transient errors; 0 means 3. Kept low so an
	// outage surfaces as ErrUnavailable quickly instead of after minutes.
	MaxRetries int
}

// Validate checks the configuration without touching the network.
func (c Config) Validate() error {
	var problems []string
	if c.Endpoint == "" {
		problems = append(problems, "Endpoint is empty")
	} else if strings.Contains(c.Endpoint, "://") || strings.Contains(c.Endpoint, "/") {
		problems = append(problems, fmt.Sprintf("Endpoint %q must be host:port without scheme or path", c.Endpoint))
	}
	if c.AccessKey == "" {
		problems = append(problems, "AccessKey is empty")
	}
	if c.SecretKey == "" {
		problems = append(problems, "SecretKey is empty")
	}
	if err := s3utils.CheckValidBucketNameStrict(c.Bucket); err != nil {
		problems = append(problems, fmt.Sprintf("Bucket %q: %v", c.Bucket, err))
	}
	if c.Prefix != "" {
		if err := storage.ValidatePrefix(c.Prefix); err != nil {
			problems = append(problems, fmt.Sprintf("Prefix %q is not a clean relative path", c.Prefix))
		}
	}
	if c.PartSize != 0 && (c.PartSize < minPartSize || c.PartSize > maxPartSize) {
		problems = append(problems, fmt.Sprintf("PartSize %d outside [%d, %d]", c.PartSize, minPartSize, maxPartSize))
	}
	if c.MaxRetries < 0 {
		problems = append(problems, "MaxRetries is negative")
	}
	if len(problems) > 0 {
		return fmt.Errorf("storage/minio: invalid config: %s", strings.Join(problems, "; "))
	}
	return nil
}

// Store is the MinIO/S3 backend. See the package documentation.
type Store struct {
	client   *mc.Client
	core     mc.Core
	bucket   string
	region   string
	prefix   string // "" or ends with "/"
	tmp      string // prefix + tmpDir + "/"
	partSize int64
	log      *slog.Logger
	// smallBufs (smallBuffer bytes) and partBufs (partSize bytes) bound
	// the memory of in-flight Puts.
	smallBufs sync.Pool
	partBufs  sync.Pool
}

var (
	_ storage.Store     = (*Store)(nil)
	_ storage.Presigner = (*Store)(nil)
)

// New builds a Store without any network I/O; call Init before use (or use
// Open, which does both). logger may be nil (silent).
func New(cfg Config, logger *slog.Logger) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	retries := cfg.MaxRetries
	if retries == 0 {
		retries = 3
	}
	client, err := mc.New(cfg.Endpoint, &mc.Options{
		Creds:      credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure:     cfg.Secure,
		Region:     cfg.Region,
		MaxRetries: retries,
	})
	if err != nil {
		return nil, fmt.Errorf("storage/minio: client for %s: %w", cfg.Endpoint, err)
	}
	prefix := cfg.Prefix
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	partSize := cfg.PartSize
	if partSize == 0 {
		partSize = DefaultPartSize
	}
	s := &Store{
		client:   client,
		core:     mc.Core{Client: client},
		bucket:   cfg.Bucket,
		region:   cfg.Region,
		prefix:   prefix,
		tmp:      prefix + tmpDir + "/",
		partSize: partSize,
		log:      logger.With("component", "storage.minio", "bucket", cfg.Bucket),
	}
	s.smallBufs.New = func() any { b := make([]byte, smallBuffer); return &b }
	s.partBufs.New = func() any { b := make([]byte, partSize); return &b }
	return s, nil
}

// Open is New followed by Init.
func Open(ctx context.Context, cfg Config, logger *slog.Logger) (*Store, error) {
	s, err := New(cfg, logger)
	if err != nil {
		return nil, err
	}
	if err := s.Init(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// Init creates the bucket if it is missing and removes leftovers of writers
// that died more than a day ago (temp objects, incomplete multipart
// uploads). It is idempotent and safe to run from several replicas at once.
func (s *Store) Init(ctx context.Context) error {
	ok, err := s.client.BucketExists(ctx, s.bucket)
	if err != nil {
		return translate("init", s.bucket, err)
	}
	if !ok {
		err := s.client.MakeBucket(ctx, s.bucket, mc.MakeBucketOptions{Region: s.region})
		if err != nil {
			code := mc.ToErrorResponse(err).Code
			if code != "BucketAlreadyOwnedByYou" && code != "BucketAlreadyExists" {
				return translate("create bucket", s.bucket, err)
			}
		} else {
			s.log.Info("created bucket")
		}
	}
	return s.sweep(ctx)
}

func (s *Store) sweep(ctx context.Context) error {
	return s.sweepBefore(ctx, time.Now().Add(-staleAfter))
}

// sweepBefore removes temp objects and aborts multipart uploads started
// before cutoff.
func (s *Store) sweepBefore(ctx context.Context, cutoff time.Time) error {
	removed := 0
	for oi := range s.client.ListObjects(ctx, s.bucket, mc.ListObjectsOptions{Prefix: s.tmp, Recursive: true}) {
		if oi.Err != nil {
			return translate("init sweep", s.tmp, oi.Err)
		}
		if oi.LastModified.Before(cutoff) {
			if err := s.client.RemoveObject(ctx, s.bucket, oi.Key, mc.RemoveObjectOptions{}); err == nil {
				removed++
			}
		}
	}
	aborted := 0
	for u := range s.client.ListIncompleteUploads(ctx, s.bucket, s.prefix, true) {
		if u.Err != nil {
			return translate("init sweep uploads", s.prefix, u.Err)
		}
		if u.Initiated.Before(cutoff) {
			if err := s.core.AbortMultipartUpload(ctx, s.bucket, u.Key, u.UploadID); err == nil {
				aborted++
			}
		}
	}
	if removed+aborted > 0 {
		s.log.Info("removed stale uploads", "temp_objects", removed, "multipart_uploads", aborted)
	}
	return nil
}

// Close is a no-op (the HTTP client pools connections for the process); it
// is safe to call more than once.
func (s *Store) Close() error { return nil }

func (s *Store) checkKey(op, key string) error {
	if err := storage.ValidateKey(key); err != nil {
		return fmt.Errorf("minio %s: %w", op, err)
	}
	if key == tmpDir || strings.HasPrefix(key, tmpDir+"/") {
		return fmt.Errorf("minio %s: %q is reserved: %w", op, tmpDir, storage.ErrInvalidKey)
	}
	return nil
}

// ---- errors ----

// isDigestMismatch: the server hashed the body to something else than the
// request said.
func isDigestMismatch(err error) bool {
	var resp mc.ErrorResponse
	return errors.As(err, &resp) && (resp.Code == "XAmzContentSHA256Mismatch" || resp.Code == "BadDigest")
}

// translate maps minio-go and network errors onto storage's sentinels, keeping
// the original error in the chain for logs.
func translate(op, key string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("minio %s %s: %w", op, key, err)
	}
	var sentinel error
	var resp mc.ErrorResponse
	if errors.As(err, &resp) {
		switch resp.Code {
		case "NoSuchKey":
			sentinel = storage.ErrNotFound
		case "PreconditionFailed":
			sentinel = storage.ErrExists
		case "InvalidRange":
			sentinel = storage.ErrInvalidRange
		case "XMinioInvalidObjectName", "InvalidObjectName", "KeyTooLongError", "XMinioObjectNameTooLong":
			sentinel = storage.ErrInvalidKey
		case "BadDigest", "XAmzContentSHA256Mismatch", "XAmzContentChecksumMismatch", "InvalidDigest":
			// The server saw different bytes than we hashed: corrupted in
			// transit. Nothing was stored; the caller may retry.
			sentinel = storage.ErrUnavailable
		case "NoSuchBucket", "SlowDown", "ServiceUnavailable", "RequestTimeout", "InternalError",
			"XMinioServerNotInitialized", "XMinioStorageFull", "XMinioReadQuorum", "XMinioWriteQuorum",
			"OperationTimedOut", "RequestTimeTooSkewed":
			sentinel = storage.ErrUnavailable
		}
		if sentinel == nil && resp.StatusCode >= 500 {
			sentinel = storage.ErrUnavailable
		}
	}
	if sentinel == nil {
		var netErr net.Error
		var urlErr *url.Error
		switch {
		case errors.As(err, &netErr), errors.As(err, &urlErr),
			errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET),
			errors.Is(err, io.ErrUnexpectedEOF):
			sentinel = storage.ErrUnavailable
		}
	}
	if sentinel == nil {
		return fmt.Errorf("minio %s %s: %w", op, key, err)
	}
	return fmt.Errorf("minio %s %s: %w: %w", op, key, sentinel, err)
}

// ---- read side ----

// info converts minio-go's ObjectInfo. HEAD/GET responses carry the hash in
// UserMetadata["Sha256"] and the type in ContentType; MinIO's listing
// extension instead returns UserMetadata{"X-Amz-Meta-Sha256", "content-type"}
// with ContentType empty. Both shapes are handled so List needs no HEADs.
func (s *Store) info(key string, oi mc.ObjectInfo) storage.Info {
	sha, ct := "", oi.ContentType
	var meta map[string]string
	for k, v := range oi.UserMetadata {
		lk := strings.ToLower(strings.TrimPrefix(strings.ToLower(k), "x-amz-meta-"))
		switch {
		case lk == strings.ToLower(metaSHA256):
			sha = v
		case ct == "" && lk == "content-type":
			ct = v
		case strings.HasPrefix(lk, metaUserPrefix):
			if meta == nil {
				meta = map[string]string{}
			}
			meta[strings.TrimPrefix(lk, metaUserPrefix)] = v
		}
	}
	if sha == "" {
		sha = oi.Metadata.Get("X-Amz-Meta-" + metaSHA256)
	}
	return storage.Info{Key: key, Size: oi.Size, SHA256: sha, ContentType: ct, ModTime: oi.LastModified, Metadata: meta}
}

// Get opens the whole object with one GET.
func (s *Store) Get(ctx context.Context, key string) (io.ReadCloser, storage.Info, error) {
	if err := s.checkKey("get", key); err != nil {
		return nil, storage.Info{}, err
	}
	rc, oi, _, err := s.core.GetObject(ctx, s.bucket, s.prefix+key, mc.GetObjectOptions{})
	if err != nil {
		return nil, storage.Info{}, translate("get", key, err)
	}
	return rc, s.info(key, oi), nil
}

// GetRange is one ranged GET. S3 answers 416 both for an offset equal to the
// size (which the contract allows: an empty read) and beyond it, so a 416 is
// disambiguated with a HEAD.
func (s *Store) GetRange(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error) {
	if err := s.checkKey("get range", key); err != nil {
		return nil, err
	}
	if offset < 0 {
		return nil, fmt.Errorf("minio get range %s: offset %d: %w", key, offset, storage.ErrInvalidRange)
	}
	empty := func() (io.ReadCloser, error) {
		info, err := s.Stat(ctx, key)
		if err != nil {
			return nil, err
		}
		if offset > info.Size {
			return nil, fmt.Errorf("minio get range %s: offset %d of %d bytes: %w", key, offset, info.Size, storage.ErrInvalidRange)
		}
		return io.NopCloser(bytes.NewReader(nil)), nil
	}
	if length == 0 {
		return empty()
	}
	var opts mc.GetObjectOptions
	switch {
	case offset == 0 && length < 0:
		// whole object: no Range header
	case length < 0:
		if err := opts.SetRange(offset, 0); err != nil {
			return nil, fmt.Errorf("minio get range %s: %w", key, err)
		}
	default:
		if err := opts.SetRange(offset, offset+length-1); err != nil {
			return nil, fmt.Errorf("minio get range %s: %w", key, err)
		}
	}
	rc, _, _, err := s.core.GetObject(ctx, s.bucket, s.prefix+key, opts)
	if err != nil {
		err = translate("get range", key, err)
		if errors.Is(err, storage.ErrInvalidRange) {
			return empty()
		}
		return nil, err
	}
	return rc, nil
}

// Stat is one HEAD.
func (s *Store) Stat(ctx context.Context, key string) (storage.Info, error) {
	if err := s.checkKey("stat", key); err != nil {
		return storage.Info{}, err
	}
	oi, err := s.client.StatObject(ctx, s.bucket, s.prefix+key, mc.StatObjectOptions{})
	if err != nil {
		return storage.Info{}, translate("stat", key, err)
	}
	return s.info(key, oi), nil
}

// List uses ListObjectsV2 with MinIO's metadata extension, so sizes, hashes
// and content types come with the listing; objects from a server without the
// extension (or written by other tools) fall back to one HEAD each.
// Multipart uploads in progress and temp objects are never listed.
func (s *Store) List(ctx context.Context, prefix string, fn func(storage.Info) error) error {
	if err := storage.ValidatePrefix(prefix); err != nil {
		return fmt.Errorf("minio list: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // stops minio-go's listing goroutine when fn fails
	for oi := range s.client.ListObjects(ctx, s.bucket, mc.ListObjectsOptions{Prefix: s.prefix + prefix, Recursive: true, WithMetadata: true}) {
		if oi.Err != nil {
			return translate("list", prefix, oi.Err)
		}
		if strings.HasPrefix(oi.Key, s.tmp) || !strings.HasPrefix(oi.Key, s.prefix) {
			continue
		}
		key := strings.TrimPrefix(oi.Key, s.prefix)
		info := s.info(key, oi)
		if info.SHA256 == "" || info.ContentType == "" {
			st, err := s.Stat(ctx, key)
			if errors.Is(err, storage.ErrNotFound) {
				continue // deleted while listing
			}
			if err != nil {
				return err
			}
			info = st
		}
		if err := fn(info); err != nil {
			return fmt.Errorf("minio list %q: %w", prefix, err)
		}
	}
	return ctx.Err()
}

// Delete is one DELETE; S3 answers 204 for a missing key as well.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := s.checkKey("delete", key); err != nil {
		return err
	}
	return translate("delete", key, s.client.RemoveObject(ctx, s.bucket, s.prefix+key, mc.RemoveObjectOptions{}))
}

// PresignGet returns a time-limited GET URL for key (1 s … 7 days).
func (s *Store) PresignGet(ctx context.Context, key string, expiry time.Duration) (string, error) {
	if err := s.checkKey("presign", key); err != nil {
		return "", err
	}
	if expiry < time.Second || expiry > 7*24*time.Hour {
		return "", fmt.Errorf("minio presign %s: expiry %v outside 1s..7d", key, expiry)
	}
	u, err := s.client.PresignedGetObject(ctx, s.bucket, s.prefix+key, expiry, nil)
	if err != nil {
		return "", translate("presign", key, err)
	}
	return u.String(), nil
}

// ---- write side ----

// Put streams r into key. See the package documentation for the three write
// paths and why each is atomic.
func (s *Store) Put(ctx context.Context, key string, r io.Reader, opts storage.PutOptions) (storage.Info, error) {
	return s.put(ctx, "put", key, r, opts, false)
}

// PutIfAbsent is Put with If-None-Match: * on the committing request, so the
// server decides races: exactly one concurrent writer succeeds.
func (s *Store) PutIfAbsent(ctx context.Context, key string, r io.Reader, opts storage.PutOptions) (storage.Info, error) {
	if err := s.checkKey("put if absent", key); err != nil {
		return storage.Info{}, err
	}
	// Cheap early answer for the common re-send (no upload at all).
	if info, err := s.Stat(ctx, key); err == nil {
		return info, fmt.Errorf("minio put if absent %s: %w", key, storage.ErrExists)
	} else if !errors.Is(err, storage.ErrNotFound) {
		return storage.Info{}, err
	}
	return s.put(ctx, "put if absent", key, r, opts, true)
}

// readChunk fills buf from r, checking ctx between reads. It returns the
// number of bytes read and whether r reached EOF.
func readChunk(ctx context.Context, r io.Reader, buf []byte) (int, bool, error) {
	n := 0
	for n < len(buf) {
		if err := ctx.Err(); err != nil {
			return n, false, err
		}
		k, err := r.Read(buf[n:])
		n += k
		if err == io.EOF {
			return n, true, nil
		}
		if err != nil {
			return n, false, fmt.Errorf("read source: %w", err)
		}
	}
	return n, false, nil
}

func (s *Store) put(ctx context.Context, op, key string, r io.Reader, opts storage.PutOptions, ifAbsent bool) (storage.Info, error) {
	if err := s.checkKey(op, key); err != nil {
		return storage.Info{}, err
	}
	ct := opts.ContentType
	if ct == "" {
		ct = "application/octet-stream"
	}
	want := strings.ToLower(opts.SHA256)
	if err := storage.ValidateMetadata(opts.Metadata); err != nil {
		return storage.Info{}, fmt.Errorf("minio %s %s: %w", op, key, err)
	}

	// Most objects (CT slices, ECGs, metadata) are well under 1 MiB: read
	// into a small buffer first and take a full part buffer only when the
	// object turns out larger, so many concurrent small uploads cost ~1 MiB
	// each, not a part each.
	sp := s.smallBufs.Get().(*[]byte)
	defer s.smallBufs.Put(sp)
	n, eof, err := readChunk(ctx, r, *sp)
	if err != nil {
		return storage.Info{}, fmt.Errorf("minio %s %s: %w", op, key, err)
	}
	if eof {
		return s.putSingle(ctx, op, key, (*sp)[:n], ct, want, opts.Metadata, opts.Size, ifAbsent)
	}
	if opts.Size > 0 && int64(n) > opts.Size {
		return storage.Info{}, fmt.Errorf("minio %s %s: more than %d bytes: %w", op, key, opts.Size, storage.ErrSizeMismatch)
	}
	bp := s.partBufs.Get().(*[]byte)
	defer s.partBufs.Put(bp)
	buf := *bp
	copy(buf, (*sp)[:n])
	m, eof, err := readChunk(ctx, r, buf[n:])
	n += m
	if err != nil {
		return storage.Info{}, fmt.Errorf("minio %s %s: %w", op, key, err)
	}
	if opts.Size > 0 && int64(n) > opts.Size {
		return storage.Info{}, fmt.Errorf("minio %s %s: more than %d bytes: %w", op, key, opts.Size, storage.ErrSizeMismatch)
	}
	if eof {
		return s.putSingle(ctx, op, key, buf[:n], ct, want, opts.Metadata, opts.Size, ifAbsent)
	}
	return s.putMultipart(ctx, op, key, buf, n, r, ct, want, opts.Metadata, opts.Size, ifAbsent)
}

func putOpts(ct, sha string, meta map[string]string, ifAbsent bool) mc.PutObjectOptions {
	o := mc.PutObjectOptions{ContentType: ct, DisableContentSha256: true}
	if sha != "" || len(meta) > 0 {
		o.UserMetadata = make(map[string]string, len(meta)+1)
	}
	if sha != "" {
		o.UserMetadata[metaSHA256] = sha
	}
	for k, v := range meta {
		o.UserMetadata[metaUserPrefix+k] = v
	}
	if ifAbsent {
		o.SetMatchETagExcept("*")
	}
	return o
}

// putSingle writes a whole object that fits in one part with one PUT. The
// request is signed with the body's SHA-256 (x-amz-content-sha256), so the
// server itself rejects bytes that differ from what we hashed.
func (s *Store) putSingle(ctx context.Context, op, key string, data []byte, ct, want string, meta map[string]string, size int64, ifAbsent bool) (storage.Info, error) {
	if size > 0 && int64(len(data)) != size {
		return storage.Info{}, fmt.Errorf("minio %s %s: got %d bytes, want %d: %w", op, key, len(data), size, storage.ErrSizeMismatch)
	}
	// With the caller's hash the body is signed with it and the server
	// verifies the bytes against it (XAmzContentSHA256Mismatch →
	// ErrDigestMismatch): no second hash of the body here.
	sum := want
	if sum == "" {
		h := sha256.Sum256(data)
		sum = hex.EncodeToString(h[:])
	}
	ui, err := s.core.PutObject(ctx, s.bucket, s.prefix+key, bytes.NewReader(data), int64(len(data)), "", sum, putOpts(ct, sum, meta, ifAbsent))
	if want != "" && isDigestMismatch(err) {
		// Rare: tell a wrong caller hash from bytes damaged in transit.
		if h := sha256.Sum256(data); hex.EncodeToString(h[:]) != want {
			return storage.Info{}, fmt.Errorf("minio %s %s: got sha256 %s, want %s: %w", op, key, hex.EncodeToString(h[:]), want, storage.ErrDigestMismatch)
		}
	}
	return s.committed(ctx, op, key, int64(len(data)), sum, ct, meta, ui.LastModified, err)
}

// committed turns the result of the committing request into Put's result.
func (s *Store) committed(ctx context.Context, op, key string, size int64, sum, ct string, meta map[string]string, mod time.Time, err error) (storage.Info, error) {
	if err != nil {
		err = translate(op, key, err)
		if errors.Is(err, storage.ErrExists) {
			// Lost the race to another PutIfAbsent: report the winner.
			existing, serr := s.Stat(context.WithoutCancel(ctx), key)
			if serr != nil {
				return storage.Info{}, fmt.Errorf("%w (and stat: %v)", err, serr)
			}
			return existing, err
		}
		return storage.Info{}, err
	}
	if mod.IsZero() {
		mod = time.Now().UTC()
	}
	return storage.Info{Key: key, Size: size, SHA256: sum, ContentType: ct, ModTime: mod, Metadata: maps.Clone(meta)}, nil
}

// putMultipart streams an object larger than one part. buf holds the first
// n bytes (a full part). When the caller supplied the SHA-256 the upload goes
// straight to the key with the hash in its metadata and is aborted if the
// bytes do not match; otherwise the hash is only known at the end, after the
// metadata had to be sent, so the bytes go to a temp object first and are
// then copied server-side into a second multipart upload that carries the
// hash. Either way the key changes only at CompleteMultipartUpload, which is
// atomic, and never on failure.
func (s *Store) putMultipart(ctx context.Context, op, key string, buf []byte, n int, r io.Reader, ct, want string, meta map[string]string, size int64, ifAbsent bool) (storage.Info, error) {
	direct := want != ""
	target := s.prefix + key
	if !direct {
		target = s.tmp + randomName()
	}
	uploadID, err := s.core.NewMultipartUpload(ctx, s.bucket, target, putOpts(ct, want, meta, ifAbsent && direct))
	if err != nil {
		return s.committed(ctx, op, key, 0, "", ct, meta, time.Time{}, err)
	}
	completed := false
	defer func() {
		if !completed {
			s.abort(target, uploadID)
		}
	}()

	hash := sha256.New()
	var total int64
	var parts []mc.CompletePart
	eof := false
	for {
		if n > 0 || len(parts) == 0 {
			if len(parts) == maxParts {
				return storage.Info{}, fmt.Errorf("minio %s %s: object larger than %d parts of %d bytes", op, key, maxParts, s.partSize)
			}
			chunk := buf[:n]
			hash.Write(chunk)
			total += int64(n)
			ps := sha256.Sum256(chunk)
			p, err := s.core.PutObjectPart(ctx, s.bucket, target, uploadID, len(parts)+1, bytes.NewReader(chunk), int64(n),
				mc.PutObjectPartOptions{Sha256Hex: hex.EncodeToString(ps[:]), DisableContentSha256: true})
			if err != nil {
				return storage.Info{}, translate(op, key, err)
			}
			parts = append(parts, mc.CompletePart{PartNumber: p.PartNumber, ETag: p.ETag})
		}
		if eof {
			break
		}
		n, eof, err = readChunk(ctx, r, buf)
		if err != nil {
			return storage.Info{}, fmt.Errorf("minio %s %s: %w", op, key, err)
		}
		if size > 0 && total+int64(n) > size {
			return storage.Info{}, fmt.Errorf("minio %s %s: more than %d bytes: %w", op, key, size, storage.ErrSizeMismatch)
		}
	}
	sum := hex.EncodeToString(hash.Sum(nil))
	if size > 0 && total != size {
		return storage.Info{}, fmt.Errorf("minio %s %s: got %d bytes, want %d: %w", op, key, total, size, storage.ErrSizeMismatch)
	}
	if want != "" && want != sum {
		return storage.Info{}, fmt.Errorf("minio %s %s: got sha256 %s, want %s: %w", op, key, sum, want, storage.ErrDigestMismatch)
	}
	if err := ctx.Err(); err != nil {
		return storage.Info{}, fmt.Errorf("minio %s %s: %w", op, key, err)
	}
	var condOpts mc.PutObjectOptions
	if ifAbsent && direct {
		condOpts.SetMatchETagExcept("*")
	}
	ui, err := s.core.CompleteMultipartUpload(ctx, s.bucket, target, uploadID, parts, condOpts)
	if err != nil {
		return s.committed(ctx, op, key, 0, "", ct, meta, time.Time{}, err)
	}
	completed = true
	if direct {
		return s.committed(ctx, op, key, total, sum, ct, meta, ui.LastModified, nil)
	}
	defer s.removeTemp(target)
	return s.copyInto(ctx, op, key, target, total, sum, ct, meta, ifAbsent)
}

// copyInto copies the completed temp object into key with a multipart
// upload whose initiation carries the hash, one UploadPartCopy per GiB.
// Multipart (rather than CopyObject) because its Complete honours
// If-None-Match and it has no 5 GiB limit.
func (s *Store) copyInto(ctx context.Context, op, key, tmp string, total int64, sum, ct string, meta map[string]string, ifAbsent bool) (storage.Info, error) {
	target := s.prefix + key
	uploadID, err := s.core.NewMultipartUpload(ctx, s.bucket, target, putOpts(ct, sum, meta, ifAbsent))
	if err != nil {
		return s.committed(ctx, op, key, 0, "", ct, meta, time.Time{}, err)
	}
	completed := false
	defer func() {
		if !completed {
			s.abort(target, uploadID)
		}
	}()
	var parts []mc.CompletePart
	for off := int64(0); off < total; off += copyPartSize {
		length := min(copyPartSize, total-off)
		p, err := s.core.CopyObjectPart(ctx, s.bucket, tmp, s.bucket, target, uploadID, len(parts)+1, off, length, nil)
		if err != nil {
			return storage.Info{}, translate(op+" copy", key, err)
		}
		parts = append(parts, p)
	}
	var condOpts mc.PutObjectOptions
	if ifAbsent {
		condOpts.SetMatchETagExcept("*")
	}
	ui, err := s.core.CompleteMultipartUpload(ctx, s.bucket, target, uploadID, parts, condOpts)
	if err != nil {
		return s.committed(ctx, op, key, 0, "", ct, meta, time.Time{}, err)
	}
	completed = true
	return s.committed(ctx, op, key, total, sum, ct, meta, ui.LastModified, nil)
}

// cleanupTimeout bounds best-effort cleanup after a failed or cancelled Put;
// it runs on a fresh context because the request's may already be done.
const cleanupTimeout = 30 * time.Second

func (s *Store) abort(object, uploadID string) {
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	if err := s.core.AbortMultipartUpload(ctx, s.bucket, object, uploadID); err != nil {
		s.log.Warn("abort multipart upload failed; Init will sweep it", "object", object, "err", err)
	}
}

func (s *Store) removeTemp(object string) {
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	if err := s.client.RemoveObject(ctx, s.bucket, object, mc.RemoveObjectOptions{}); err != nil {
		s.log.Warn("remove temp object failed; Init will sweep it", "object", object, "err", err)
	}
}

func randomName() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return time.Now().UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b)
}
