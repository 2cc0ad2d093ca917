package ingest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/huren-health/huren/catalog"
	"github.com/huren-health/huren/dicomfile"
	"github.com/huren-health/huren/errkind"
	"github.com/huren-health/huren/pixels/cache"
	"github.com/huren-health/huren/storage"
)

// Source says where an instance came from.
type Source struct {
	// Site is the id of the sending site (stored with the instance; access
	// scoping filters on it).
	Site string
	// Via names the transport: "stow", "dimse", "edge", "upload".
	Via string
	// RemoteAddr is the peer address, for the audit trail and logs.
	RemoteAddr string
	// Study, when set, is the Study Instance UID the transport requires
	// (STOW-RS POST /studies/{study}); an instance of another study fails
	// with ErrStudyMismatch.
	Study string
}

// Result describes one ingested instance. On failure the UIDs that could be
// read are still filled in (for the STOW failed-SOP item).
type Result struct {
	StudyUID, SeriesUID, SOPInstanceUID, SOPClassUID string
	TransferSyntax                                   string
	Size                                             int64
	SHA256                                           string
	// Record is the catalog record (zero on failure).
	Record catalog.Record
	// Duplicate is true when the identical instance was already stored and
	// indexed: nothing was written.
	Duplicate bool
}

// Config configures a Service.
type Config struct {
	Store   storage.Store
	Catalog catalog.Catalog
	// Logger defaults to a silent logger.
	Logger *slog.Logger
	// Registerer receives the ingest metrics; nil registers nothing.
	Registerer prometheus.Registerer
	// MaxInstanceBytes caps one instance (default 4 GiB).
	MaxInstanceBytes int64
	// SpoolMemoryBytes: instances up to this size are buffered in memory
	// while they are parsed and stored, larger ones in a temporary file
	// under TempDir (default 8 MiB; "" TempDir = os.TempDir()).
	SpoolMemoryBytes int64
	TempDir          string
	// WriteTimeout bounds the storage and catalog writes of one instance
	// once its bytes have fully arrived (default 2 min). Those writes are
	// detached from the caller's context, so an instance that arrived
	// completely is stored even when the client disconnects right after.
	WriteTimeout time.Duration
	// OnStored is called after an instance is durably stored and indexed
	// (not for duplicates), e.g. by the worklist to learn that a study got
	// new instances. It runs synchronously on the ingest path: keep it
	// short and non-blocking.
	OnStored func(ctx context.Context, rec catalog.Record)
	// BundleDelay is how long the series metadata bundle waits for more
	// instances of the same series before it is rebuilt (default 2 s);
	// BundleMaxDelay caps the wait under continuous ingest (default 15 s).
	BundleDelay, BundleMaxDelay time.Duration
	// Parse bounds the DICOM parser (dicomfile defaults when zero).
	Parse dicomfile.Options
	// BundleCacheBytes is the memory budget for series metadata bundles
	// kept by this replica after serving them (default 64 MiB; < 0 off).
	BundleCacheBytes int64
	// Now is the clock (tests); default time.Now.
	Now func() time.Time
}

// Service ingests DICOM instances from any transport (STOW-RS, DIMSE
// C-STORE, the edge agent). It is safe for concurrent use.
type Service struct {
	cfg     Config
	store   storage.Store
	cat     catalog.Catalog
	log     *slog.Logger
	metrics *metrics
	bundles *scheduler
	// bundleCache holds served bundle bodies by series and etag (nil: off).
	bundleCache *cache.Cache
	// owners records and checks which site owns each study and series.
	owners *owners
	// sweepOnce runs sweepSpool once, on the first spill to disk.
	sweepOnce sync.Once
}

// New builds a Service. It performs no I/O.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil || cfg.Catalog == nil {
		return nil, errors.New("ingest: Config.Store and Config.Catalog are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxInstanceBytes <= 0 {
		cfg.MaxInstanceBytes = 4 << 30
	}
	if cfg.SpoolMemoryBytes <= 0 {
		cfg.SpoolMemoryBytes = 8 << 20
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = 2 * time.Minute
	}
	if cfg.BundleDelay <= 0 {
		cfg.BundleDelay = 2 * time.Second
	}
	if cfg.BundleMaxDelay < cfg.BundleDelay {
		cfg.BundleMaxDelay = 15 * time.Second
		if cfg.BundleMaxDelay < cfg.BundleDelay {
			cfg.BundleMaxDelay = cfg.BundleDelay
		}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	s := &Service{cfg: cfg, store: cfg.Store, cat: cfg.Catalog, log: cfg.Logger.With("component", "ingest"), metrics: m,
		owners: newOwners(cfg.Store, cfg.Catalog, cfg.Now)}
	if cfg.BundleCacheBytes == 0 {
		cfg.BundleCacheBytes = 64 << 20
	}
	if cfg.BundleCacheBytes > 0 {
		s.bundleCache = cache.New(cfg.BundleCacheBytes)
	}
	s.bundles = newScheduler(s)
	return s, nil
}

// Close flushes pending series bundle rebuilds and stops accepting
// instances. Safe to call more than once.
func (s *Service) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return s.bundles.close(ctx)
}

// Flush rebuilds every series bundle that is waiting for its debounce
// delay now, and waits for running rebuilds (tests, graceful shutdown).
func (s *Service) Flush(ctx context.Context) error { return s.bundles.flush(ctx) }

// Ingest reads one DICOM instance (a Part 10 file) from r and stores it.
// size is the byte count when the transport knows it, else -1; a stream
// that ends early is then reported as truncated.
//
// The write order is what makes a crash at any point harmless:
//
//  1. the bytes are spooled (memory up to SpoolMemoryBytes, else a temp
//     file) while SHA-256 is computed; nothing is written to storage
//     until the whole instance has arrived and parsed — a disconnect
//     leaves nothing;
//  2. the study and series must belong to src.Site (owner.go): the first
//     instance of a study or series records its site as the owner, an
//     instance naming another site's study or series fails with
//     ErrForeignUID and nothing is written;
//     then dicom/{study}/{series}/{sop}.dcm is written durably with
//     PutIfAbsent (atomic: absent or complete), carrying its provenance
//     (site, transport, peer, time received) as object metadata. From
//     here on the instance can never be lost: everything else is derived
//     from this one object. A crash after this leaves an original that
//     QIDO/WADO do not see yet (they go through the catalog); Reindex
//     indexes it, and so does a client's re-send;
//  3. meta/{study}/{series}/{sop}.json is written atomically but lazily
//     (no fsync: it is derived). After a power loss it may be missing or
//     damaged; InstanceMeta and Reindex rebuild it from the original;
//  4. the catalog record is put: from here on QIDO finds it and WADO
//     serves it;
//  5. the series metadata bundle is scheduled for rebuild (derived, and
//     versioned so a stale one is never served), OnStored runs, and only
//     then does Ingest return success — the instance is durable.
//
// Re-sending identical bytes is a success and writes nothing (Duplicate).
// The same SOP Instance UID with other bytes, or in another study/series,
// fails with ErrConflict and the stored original is kept. An instance
// whose study or series another site created fails with ErrForeignUID.
func (s *Service) Ingest(ctx context.Context, r io.Reader, size int64, src Source) (res Result, err error) {
	start := time.Now()
	defer func() {
		if err != nil {
			s.metrics.failures.WithLabelValues(reasonLabel(err)).Inc()
			if errors.Is(err, ErrConflict) {
				s.metrics.conflicts.Inc()
			}
			level := slog.LevelInfo // the client's problem: it gets the reason
			if errkind.Of(err) == errkind.Other || errkind.Of(err) == errkind.Unavailable {
				level = slog.LevelError // ours: the operator must see it
			}
			s.log.Log(ctx, level, "instance rejected", "sop", res.SOPInstanceUID, "study", res.StudyUID, "site", src.Site, "via", src.Via, "remote", src.RemoteAddr, "reason", reasonLabel(err), "err", err)
			return
		}
		s.metrics.latency.Observe(time.Since(start).Seconds())
	}()
	if s.bundles.isClosed() {
		return res, ErrClosed
	}
	sp, err := s.spool(ctx, r, size)
	if sp != nil {
		defer sp.close()
	}
	if err != nil {
		return res, err
	}
	res.Size, res.SHA256 = sp.size, sp.sha
	if sp.size == 0 {
		return res, fmt.Errorf("%w: the part or request body has no bytes", ErrEmpty)
	}
	rd, err := sp.reader()
	if err != nil {
		return res, err
	}
	f, err := dicomfile.Parse(rd, sp.size, s.cfg.Parse)
	if err != nil {
		return res, fmt.Errorf("parse: %w", err)
	}
	res.SOPClassUID, res.SOPInstanceUID = f.SOPClassUID, f.SOPInstanceUID
	res.StudyUID, res.SeriesUID = f.StudyInstanceUID, f.SeriesInstanceUID
	res.TransferSyntax = f.TransferSyntax
	if err := validate(f, src.Study); err != nil {
		return res, err
	}
	// The whole instance has arrived: finish storing it even if the client
	// goes away now, so that what was received is not wasted.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.WriteTimeout)
	defer cancel()
	// A study and a series belong to the site that created them: an
	// instance naming another site's is refused before anything is
	// written, so nothing of that study changes.
	if err := s.owners.claimInstance(wctx, f.StudyInstanceUID, f.SeriesInstanceUID, src.Site); err != nil {
		return res, err
	}
	rec, dup, err := s.write(wctx, f, sp, src)
	if err != nil {
		return res, err
	}
	res.Record, res.Duplicate = rec, dup
	if dup {
		s.metrics.duplicates.Inc()
		return res, nil
	}
	s.metrics.stored.WithLabelValues(viaLabel(src.Via)).Inc()
	s.metrics.bytes.Add(float64(sp.size))
	s.bundles.schedule(rec.StudyUID, rec.SeriesUID)
	if s.cfg.OnStored != nil {
		s.cfg.OnStored(wctx, rec)
	}
	return res, nil
}

func viaLabel(v string) string {
	switch v {
	case "stow", "dimse", "edge", "upload", "reindex":
		return v
	case "":
		return "unknown"
	}
	return "other"
}

// validate checks what ingest needs beyond a clean parse.
func validate(f *dicomfile.File, study string) error {
	for _, u := range []struct{ name, v string }{
		{"SOP Class UID (0008,0016)", f.SOPClassUID},
		{"SOP Instance UID (0008,0018)", f.SOPInstanceUID},
		{"Study Instance UID (0020,000D)", f.StudyInstanceUID},
		{"Series Instance UID (0020,000E)", f.SeriesInstanceUID},
	} {
		if u.v == "" {
			return fmt.Errorf("%w: %s is missing", ErrInvalid, u.name)
		}
		if !ValidUID(u.v) {
			return fmt.Errorf("%w: %s %q is not a valid UID (digits and dots, at most 64 characters)", ErrInvalid, u.name, u.v)
		}
	}
	if study != "" && f.StudyInstanceUID != study {
		return fmt.Errorf("%w: instance %s belongs to study %s, the request is for study %s", ErrStudyMismatch, f.SOPInstanceUID, f.StudyInstanceUID, study)
	}
	return nil
}

// ValidUID reports whether u is a well-formed DICOM UID (PS3.5 9.1):
// 1–64 characters, components of digits separated by single dots. Leading
// zeros in components are tolerated (seen in real files), since they do not
// make the UID unsafe as a storage key or ambiguous as an identifier.
func ValidUID(u string) bool {
	if len(u) == 0 || len(u) > 64 || u[0] == '.' || u[len(u)-1] == '.' {
		return false
	}
	prevDot := false
	for i := 0; i < len(u); i++ {
		c := u[i]
		switch {
		case c == '.':
			if prevDot {
				return false
			}
			prevDot = true
		case c >= '0' && c <= '9':
			prevDot = false
		default:
			return false
		}
	}
	return true
}

// write performs steps 2–4 of the write order.
func (s *Service) write(ctx context.Context, f *dicomfile.File, sp *spooled, src Source) (catalog.Record, bool, error) {
	study, series, sop := f.StudyInstanceUID, f.SeriesInstanceUID, f.SOPInstanceUID
	existing, err := s.cat.Instance(ctx, sop)
	switch {
	case err == nil:
		if existing.Site != src.Site {
			// Another site's instance: say that the UID is taken and
			// nothing else — not its study, series or digest.
			if existing.StudyUID != study || existing.SeriesUID != series || existing.SHA256 != sp.sha {
				s.log.Info("SOP Instance UID of another site's instance refused", "sop", sop, "owner", existing.Site, "site", src.Site)
				return catalog.Record{}, false, conflictForeign(sop, sp.sha)
			}
		}
		if existing.StudyUID != study || existing.SeriesUID != series {
			return catalog.Record{}, false, fmt.Errorf("%w: %s is already stored in study %s series %s", ErrConflict, sop, existing.StudyUID, existing.SeriesUID)
		}
		if existing.SHA256 != sp.sha {
			return catalog.Record{}, false, fmt.Errorf("%w: %s is already stored with sha256 %s, this one has %s", ErrConflict, sop, existing.SHA256, sp.sha)
		}
		return existing, true, nil
	case errors.Is(err, catalog.ErrNotFound):
	default:
		return catalog.Record{}, false, fmt.Errorf("catalog lookup %s: %w", sop, err)
	}

	objKey := ObjectKey(study, series, sop)
	rd, err := sp.reader()
	if err != nil {
		return catalog.Record{}, false, err
	}
	now := s.cfg.Now().UTC()
	m := buildMeta(f, sp.size, sp.sha, src, now)
	// The metadata object is written while the original is: on an object
	// store each write is a round trip of several milliseconds. It is
	// derived data, written lazily (no fsync: the original below is durable
	// and carries everything it is derived from), and nobody reads it
	// before the catalog record, which is put only after both writes. A
	// power loss after the acknowledgement may lose it; InstanceMeta and
	// reindex rebuild it from the original.
	metaDone := make(chan error, 1)
	go func() { metaDone <- s.putMeta(ctx, m) }()
	// The original carries its provenance (site, transport, time) in its
	// object metadata, atomically with its bytes.
	info, err := s.store.PutIfAbsent(ctx, objKey, rd, storage.PutOptions{ContentType: "application/dicom", Size: sp.size, SHA256: sp.sha, Metadata: provenance(src, now)})
	merr := <-metaDone
	switch {
	case err == nil:
	case errors.Is(err, storage.ErrExists):
		if info.SHA256 != sp.sha {
			// Another upload of this SOP Instance UID with other bytes won
			// (or was stored before): our metadata object may have replaced
			// its own, so derive it again from the stored original.
			if _, derr := deriveMeta(ctx, s.store, study, series, sop, info.SHA256); derr != nil {
				s.log.Warn("could not restore the metadata of a conflicting instance; it is rebuilt on first read", "sop", sop, "err", derr)
			}
			if first, _, ok := sourceOf(info.Metadata); ok && first.Site == src.Site {
				return catalog.Record{}, false, fmt.Errorf("%w: %s is already stored with sha256 %s, this one has %s", ErrConflict, sop, info.SHA256, sp.sha)
			}
			return catalog.Record{}, false, conflictForeign(sop, sp.sha)
		}
		// A re-send of an instance whose earlier ingest stopped before the
		// catalog step: the first upload's provenance stands.
		if first, at, ok := sourceOf(info.Metadata); ok && (first != src || !at.Equal(now)) {
			m = buildMeta(f, sp.size, sp.sha, first, at)
			merr = s.putMeta(ctx, m)
		}
	default:
		// No original: remove the metadata object that would describe it
		// (reindex would report it, never index it).
		if derr := s.store.Delete(context.WithoutCancel(ctx), MetaKey(study, series, sop)); derr != nil {
			s.log.Warn("could not remove the metadata of an instance that failed to store", "sop", sop, "err", derr)
		}
		return catalog.Record{}, false, fmt.Errorf("store original %s: %w", objKey, err)
	}
	if merr != nil {
		// The original is stored; a re-send or reindex completes the instance.
		return catalog.Record{}, false, merr
	}
	rec := m.Record()
	if err := s.cat.Put(ctx, rec); err != nil {
		return catalog.Record{}, false, fmt.Errorf("catalog put %s: %w", sop, err)
	}
	return rec, false, nil
}

// conflictForeign is the conflict answer when the stored instance may be
// another site's: it names only what the sender sent (the SOP Instance UID
// and the digest of its own bytes), never the stored instance's study,
// series or digest.
func conflictForeign(sop, sha string) error {
	return fmt.Errorf("%w: SOP Instance UID %s is already in use by another instance (this one has sha256 %s); give the instance a new SOP Instance UID", ErrConflict, sop, sha)
}

// Provenance keys in an original's object metadata.
const (
	provSite     = "site"
	provVia      = "via"
	provRemote   = "remote"
	provReceived = "received"
)

// provenance encodes what only the upload knows. Values are query-escaped:
// object metadata must be printable ASCII, site ids and addresses may not be.
func provenance(src Source, at time.Time) map[string]string {
	m := map[string]string{provReceived: at.UTC().Format(time.RFC3339Nano)}
	for k, v := range map[string]string{provSite: src.Site, provVia: src.Via, provRemote: src.RemoteAddr} {
		if v != "" {
			m[k] = url.QueryEscape(v)
		}
	}
	return m
}

// sourceOf decodes provenance; ok is false when the object has none (an
// original stored before provenance was recorded, or by another tool).
func sourceOf(md map[string]string) (Source, time.Time, bool) {
	at, err := time.Parse(time.RFC3339Nano, md[provReceived])
	if err != nil {
		return Source{}, time.Time{}, false
	}
	un := func(k string) string {
		v, err := url.QueryUnescape(md[k])
		if err != nil {
			return md[k]
		}
		return v
	}
	return Source{Site: un(provSite), Via: un(provVia), RemoteAddr: un(provRemote)}, at.UTC(), true
}

func buildMeta(f *dicomfile.File, size int64, sha string, src Source, now time.Time) *Meta {
	m := &Meta{
		Version:        metaVersion,
		StudyUID:       f.StudyInstanceUID,
		SeriesUID:      f.SeriesInstanceUID,
		InstanceUID:    f.SOPInstanceUID,
		SOPClassUID:    f.SOPClassUID,
		TransferSyntax: f.TransferSyntax,
		Size:           size,
		SHA256:         sha,
		Site:           src.Site,
		Via:            src.Via,
		RemoteAddr:     src.RemoteAddr,
		ReceivedAt:     now,
		ObjectKey:      ObjectKey(f.StudyInstanceUID, f.SeriesInstanceUID, f.SOPInstanceUID),
		Bulk:           f.Bulk,
		Deflated:       f.Deflated,
		Dataset:        f.Dataset,
	}
	if f.Pixels != nil && !f.Deflated {
		m.Frames = f.Pixels.Frames
		if f.Pixels.FramesErr != nil {
			m.FramesError = f.Pixels.FramesErr.Error()
		}
	}
	return m
}

func (s *Service) putMeta(ctx context.Context, m *Meta) error {
	b, err := encodeMeta(m)
	if err != nil {
		return err
	}
	key := MetaKey(m.StudyUID, m.SeriesUID, m.InstanceUID)
	if _, err := s.store.Put(ctx, key, bytes.NewReader(b), storage.PutOptions{ContentType: "application/json", Size: int64(len(b)), Lazy: true}); err != nil {
		return fmt.Errorf("store metadata %s: %w", key, err)
	}
	return nil
}

func encodeMeta(m *Meta) ([]byte, error) {
	b, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encode metadata %s: %w", m.InstanceUID, err)
	}
	return b, nil
}

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }

// maxMetaBytes bounds one metadata object read back (its dataset is capped
// by the parser's MaxHeaderBytes at ingest; this is a second guard).
const maxMetaBytes = 256 << 20

// InstanceMeta returns the metadata object of an indexed instance. The
// object is derived data, written lazily: when it is missing, unreadable or
// describes other bytes than the catalog record (a power loss after the
// acknowledgement, a lost race between two different uploads of one SOP
// Instance UID), it is rebuilt from the original and written back.
func (s *Service) InstanceMeta(ctx context.Context, rec catalog.Record) (*Meta, error) {
	m, err := ReadMeta(ctx, s.store, rec.MetaKey)
	if err == nil && m.SHA256 == rec.SHA256 && m.InstanceUID == rec.InstanceUID {
		return m, nil
	}
	if err != nil && (errors.Is(err, storage.ErrUnavailable) || ctx.Err() != nil) {
		return nil, err
	}
	s.log.Warn("instance metadata missing or stale; rebuilding it from the original", "sop", rec.InstanceUID, "key", rec.MetaKey, "err", err)
	m, derr := deriveMeta(ctx, s.store, rec.StudyUID, rec.SeriesUID, rec.InstanceUID, rec.SHA256)
	if derr != nil {
		return nil, fmt.Errorf("metadata of %s: %w", rec.InstanceUID, errors.Join(err, derr))
	}
	s.metrics.rederived.Inc()
	return m, nil
}

// ReadMeta reads and decodes one metadata object.
func ReadMeta(ctx context.Context, st storage.Reader, key string) (*Meta, error) {
	rc, _, err := st.Get(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("read metadata %s: %w", key, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, maxMetaBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read metadata %s: %w", key, err)
	}
	if len(b) > maxMetaBytes {
		return nil, fmt.Errorf("read metadata %s: larger than %d bytes", key, maxMetaBytes)
	}
	m, err := DecodeMeta(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	return m, nil
}

// hashHex is a small helper for etags.
func hashHex(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		io.WriteString(h, p)
	}
	return hex.EncodeToString(h.Sum(nil))
}
