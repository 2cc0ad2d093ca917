package ingest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sync"
	"time"

	"github.com/huren-health/huren/catalog"
	"github.com/huren-health/huren/storage"
)

// Series metadata bundles.
//
// WADO-RS /studies/{s}/series/{se}/metadata is what a viewer asks first, and
// assembling it from one metadata object per instance costs one storage
// read per instance. Ingest therefore keeps a precomputed bundle per series
// at meta/{study}/{series}/series.json:
//
//	line 1: header JSON {"version":1,"etag":E,"items":[{"sop":…,"sha256":…,"len":n},…]}
//	rest:   the items' DICOM JSON, in catalog order, separated by ","
//	        (no brackets, so series can be concatenated for a study),
//	        BulkDataURIs written as basePlaceholder + "/studies/…/bulk/…"
//
// E is the etag of the exact instance list the bundle was built from:
// SHA-256 over "sop sha256\n" of every instance in catalog order.
//
// Correctness under concurrent ingest: a bundle is served only when its
// etag equals the etag of the instances the catalog lists right now (and
// the caller may see); otherwise the metadata is assembled from the
// per-instance objects and a rebuild is scheduled. A stale bundle — built
// before the last instance arrived, or written late by a slower replica —
// is therefore never served, only ignored. Rebuilds are debounced per series
// (BundleDelay after the last instance, at most BundleMaxDelay after the
// first), incremental (items of unchanged instances are copied from the old
// bundle, only new instances' metadata objects are read), and written with
// an atomic Put, so readers see an old or a new bundle, never a mix.

const (
	bundleVersion = 1
	// basePlaceholder stands for the DICOMweb base URL in bundles; it is
	// replaced while streaming so one bundle serves every Host/base.
	basePlaceholder = "@@HUREN-DICOMWEB-BASE@@"
	// maxBundleHeader bounds the header line read back.
	maxBundleHeader = 32 << 20
	// maxBundleBytes: series whose metadata exceeds this are not bundled
	// (they are assembled per request instead).
	maxBundleBytes = 512 << 20
	// maxReusedItem bounds the buffer for copying one old item (one
	// instance's metadata is kilobytes; a larger one is re-encoded).
	maxReusedItem = 16 << 20
	// maxCachedBundle: larger bundles are streamed from storage each time.
	maxCachedBundle = 16 << 20
)

type bundleItem struct {
	SOP    string `json:"sop"`
	SHA256 string `json:"sha256"`
	Len    int64  `json:"len"`
}

type bundleHeader struct {
	Version int          `json:"version"`
	Etag    string       `json:"etag"`
	Items   []bundleItem `json:"items"`
}

// Etag is the version of an instance list: the bundle built from exactly
// these records (in this order) carries it.
func Etag(recs []catalog.Record) string {
	parts := make([]string, 0, 2*len(recs))
	for _, r := range recs {
		parts = append(parts, r.InstanceUID+" "+r.SHA256+"\n")
	}
	return hashHex(parts...)
}

// InstanceURL is the WADO-RS URL of an instance under base.
func InstanceURL(base, study, series, sop string) string {
	return base + "/studies/" + study + "/series/" + series + "/instances/" + sop
}

// encodeItem renders one instance's metadata as served, with base as the
// DICOMweb base URL.
func encodeItem(m *Meta, base string) ([]byte, error) {
	b, err := json.Marshal(m.WithBulkURIs(InstanceURL(base, m.StudyUID, m.SeriesUID, m.InstanceUID)))
	if err != nil {
		return nil, fmt.Errorf("encode metadata of %s: %w", m.InstanceUID, err)
	}
	return b, nil
}

// buildBundle (re)writes the bundle of one series from the catalog's
// current list, reusing items of the previous bundle where the instance is
// unchanged.
//
// Memory stays small whatever the series size (a 4000-slice CT has a 10 MB
// bundle): the old bundle is read sequentially, items in the same order as
// the catalog lists them (new instances are inserted, removed ones
// skipped), and the new body is spooled to a temporary file, then stored
// behind its header with one streaming Put. An old item found out of order
// is not searched for: its instance's metadata object is read instead.
func (s *Service) buildBundle(ctx context.Context, study, series string) error {
	recs, err := catalog.InstanceKeys(ctx, s.cat, study, series)
	if errors.Is(err, catalog.ErrNotFound) {
		return s.store.Delete(ctx, BundleKey(study, series))
	}
	if err != nil {
		return fmt.Errorf("bundle %s/%s: %w", study, series, err)
	}
	etag := Etag(recs)
	old := &oldBundle{}
	if hdr, br, c, err := openBundle(ctx, s.store, study, series); err == nil {
		defer c.Close()
		if hdr.Etag == etag {
			return nil // already current
		}
		old.items, old.r = hdr.Items, br
	}
	spool, err := os.CreateTemp(s.cfg.TempDir, "huren-bundle-*.json")
	if errors.Is(err, fs.ErrNotExist) && s.cfg.TempDir != "" {
		if mkErr := os.MkdirAll(s.cfg.TempDir, 0o700); mkErr == nil {
			spool, err = os.CreateTemp(s.cfg.TempDir, "huren-bundle-*.json")
		}
	}
	if err != nil {
		return fmt.Errorf("bundle %s/%s: spool: %w", study, series, err)
	}
	defer func() {
		spool.Close()
		os.Remove(spool.Name())
	}()
	body := bufio.NewWriterSize(spool, 64<<10)
	hdr := bundleHeader{Version: bundleVersion, Etag: etag, Items: make([]bundleItem, 0, len(recs))}
	var size int64
	for i, r := range recs {
		if i > 0 {
			if err := body.WriteByte(','); err != nil {
				return fmt.Errorf("bundle %s/%s: spool: %w", study, series, err)
			}
			size++
		}
		n, found, err := old.copyItem(body, r.InstanceUID, r.SHA256)
		if err != nil {
			return fmt.Errorf("bundle %s/%s: %w", study, series, err)
		}
		if !found {
			m, err := s.InstanceMeta(ctx, r)
			if err != nil {
				return fmt.Errorf("bundle %s/%s: %w", study, series, err)
			}
			item, err := encodeItem(m, basePlaceholder)
			if err != nil {
				return err
			}
			if _, err := body.Write(item); err != nil {
				return fmt.Errorf("bundle %s/%s: spool: %w", study, series, err)
			}
			n = int64(len(item))
		}
		size += n
		hdr.Items = append(hdr.Items, bundleItem{SOP: r.InstanceUID, SHA256: r.SHA256, Len: n})
		if size > maxBundleBytes {
			s.log.Warn("series metadata too large to bundle; served by assembly", "study", study, "series", series)
			return s.store.Delete(ctx, BundleKey(study, series))
		}
	}
	if err := body.Flush(); err != nil {
		return fmt.Errorf("bundle %s/%s: spool: %w", study, series, err)
	}
	h, err := json.Marshal(hdr)
	if err != nil {
		return err
	}
	h = append(h, '\n')
	r := io.MultiReader(bytes.NewReader(h), io.NewSectionReader(spool, 0, size))
	if _, err := s.store.Put(ctx, BundleKey(study, series), r, storage.PutOptions{ContentType: "application/json", Size: int64(len(h)) + size, Lazy: true}); err != nil {
		return fmt.Errorf("bundle %s/%s: %w", study, series, err)
	}
	return nil
}

// oldBundle walks the items of the previous bundle in order.
type oldBundle struct {
	items []bundleItem
	r     *bufio.Reader // positioned at the start of items[0]
	bad   bool          // unreadable: stop reusing
}

// copyItem copies the old item of (sop, sha) to w if it comes next in the
// old bundle, skipping items of instances that are gone or changed. found
// is false when it is not there (a new or changed instance, or the old
// bundle is out of order or damaged); nothing is written then.
func (o *oldBundle) copyItem(w io.Writer, sop, sha string) (int64, bool, error) {
	if o.bad || o.r == nil {
		return 0, false, nil
	}
	j := -1
	for k, it := range o.items {
		if it.SOP == sop {
			j = k
			break
		}
		if k > 64 {
			break // not near the front: a new instance, keep the old ones
		}
	}
	if j < 0 || o.items[j].SHA256 != sha {
		return 0, false, nil
	}
	for _, it := range o.items[:j+1] {
		if it.Len < 0 || it.Len > maxBundleBytes {
			o.bad = true
			return 0, false, nil
		}
	}
	// Skip the items before it (instances removed or re-sent since).
	for _, it := range o.items[:j] {
		if _, err := o.r.Discard(int(it.Len) + 1); err != nil {
			o.bad = true
			return 0, false, nil
		}
	}
	it := o.items[j]
	o.items = o.items[j+1:]
	if it.Len > maxReusedItem {
		// Not worth holding in memory (or a damaged header): skip it and
		// let the caller read the instance's metadata object.
		if _, err := o.r.Discard(int(it.Len)); err != nil {
			o.bad = true
		} else if len(o.items) > 0 {
			if sep, err := o.r.ReadByte(); err != nil || sep != ',' {
				o.bad = true
			}
		}
		return 0, false, nil
	}
	// Copy through a buffer first so a short old bundle writes nothing.
	buf := make([]byte, it.Len)
	if _, err := io.ReadFull(o.r, buf); err != nil {
		o.bad = true
		return 0, false, nil
	}
	if len(o.items) > 0 {
		if sep, err := o.r.ReadByte(); err != nil || sep != ',' {
			o.bad = true
		}
	}
	if _, err := w.Write(buf); err != nil {
		return 0, false, fmt.Errorf("spool: %w", err)
	}
	return it.Len, true, nil
}

// openBundle opens a bundle and reads its header; the returned reader is
// positioned at the body.
func openBundle(ctx context.Context, st storage.Reader, study, series string) (*bundleHeader, *bufio.Reader, io.Closer, error) {
	rc, _, err := st.Get(ctx, BundleKey(study, series))
	if err != nil {
		return nil, nil, nil, err
	}
	br := bufio.NewReaderSize(rc, 256<<10)
	var line []byte
	for {
		chunk, err := br.ReadSlice('\n')
		line = append(line, chunk...)
		if err == nil {
			break
		}
		if !errors.Is(err, bufio.ErrBufferFull) || len(line) > maxBundleHeader {
			rc.Close()
			return nil, nil, nil, fmt.Errorf("bundle %s/%s: bad header: %v", study, series, err)
		}
	}
	var hdr bundleHeader
	if err := json.Unmarshal(line, &hdr); err != nil || hdr.Version != bundleVersion {
		rc.Close()
		return nil, nil, nil, fmt.Errorf("bundle %s/%s: bad header", study, series)
	}
	return &hdr, br, rc, nil
}

// WriteMetadata streams the WADO-RS metadata of recs as one JSON array to
// w, with BulkDataURIs under base (the absolute DICOMweb root URL). recs
// are the records the caller may see, in catalog order (one instance, a
// series, or a study's series one after the other). For every series whose
// records are exactly those of a current bundle, the bundle is streamed
// (one storage read); anything else is assembled from the per-instance
// metadata objects, and a bundle rebuild is scheduled.
func (s *Service) WriteMetadata(ctx context.Context, w io.Writer, recs []catalog.Record, base string) error {
	baseJSON, err := json.Marshal(base)
	if err != nil {
		return err
	}
	repl := baseJSON[1 : len(baseJSON)-1]
	if _, err := io.WriteString(w, "["); err != nil {
		return err
	}
	first := true
	for len(recs) > 0 {
		n := 1
		for n < len(recs) && recs[n].SeriesUID == recs[0].SeriesUID && recs[n].StudyUID == recs[0].StudyUID {
			n++
		}
		group := recs[:n]
		recs = recs[n:]
		if !first {
			if _, err := io.WriteString(w, ","); err != nil {
				return err
			}
		}
		first = false
		served, err := s.serveBundle(ctx, w, group, repl)
		if err != nil {
			return err
		}
		if served {
			continue
		}
		if len(group) > 1 {
			s.bundles.schedule(group[0].StudyUID, group[0].SeriesUID)
		}
		if err := s.assemble(ctx, w, group, base); err != nil {
			return err
		}
	}
	_, err = io.WriteString(w, "]")
	return err
}

// serveBundle streams the bundle for group if it is current. It returns
// false, having written nothing, when there is no current bundle.
func (s *Service) serveBundle(ctx context.Context, w io.Writer, group []catalog.Record, base []byte) (bool, error) {
	if len(group) < 2 {
		return false, nil // one read either way
	}
	// Bundles are immutable per etag (the catalog's instance list), so a
	// replica keeps recently served ones in memory under their etag: a
	// viewer re-opening a series skips the object store (a 790 KB GET from
	// MinIO costs milliseconds), and a stale one is never served because a
	// new instance changes the etag.
	etag := Etag(group)
	cacheKey := group[0].StudyUID + "/" + group[0].SeriesUID + "@" + etag
	if s.bundleCache != nil {
		if v, ok := s.bundleCache.Get(cacheKey); ok {
			s.metrics.bundles.WithLabelValues("hit").Inc()
			rw := &replaceWriter{w: w, old: []byte(basePlaceholder), new: base}
			if _, err := rw.Write(v.([]byte)); err != nil {
				return true, fmt.Errorf("stream series bundle: %w", err)
			}
			return true, rw.flush()
		}
	}
	hdr, br, c, err := openBundle(ctx, s.store, group[0].StudyUID, group[0].SeriesUID)
	if err != nil {
		if !errors.Is(err, storage.ErrNotFound) {
			s.log.Warn("series bundle unreadable; assembling", "study", group[0].StudyUID, "series", group[0].SeriesUID, "err", err)
		}
		s.metrics.bundles.WithLabelValues("miss").Inc()
		return false, nil
	}
	defer c.Close()
	if hdr.Etag != etag {
		s.metrics.bundles.WithLabelValues("stale").Inc()
		return false, nil
	}
	s.metrics.bundles.WithLabelValues("hit").Inc()
	rw := &replaceWriter{w: w, old: []byte(basePlaceholder), new: base}
	var n int64
	for i, it := range hdr.Items {
		n += it.Len
		if i > 0 {
			n++
		}
	}
	if n <= maxCachedBundle && s.bundleCache != nil {
		body := make([]byte, n)
		if _, err := io.ReadFull(br, body); err != nil {
			return true, fmt.Errorf("read series bundle: %w", err)
		}
		s.bundleCache.Add(cacheKey, body, n)
		if _, err := rw.Write(body); err != nil {
			return true, fmt.Errorf("stream series bundle: %w", err)
		}
		return true, rw.flush()
	}
	if _, err := io.Copy(rw, br); err != nil {
		return true, fmt.Errorf("stream series bundle: %w", err)
	}
	return true, rw.flush()
}

// assemble writes the items of group from per-instance metadata objects,
// reading up to 8 of them concurrently while preserving order.
func (s *Service) assemble(ctx context.Context, w io.Writer, group []catalog.Record, base string) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type slot struct {
		b   []byte
		err error
	}
	slots := make([]chan slot, len(group))
	for i := range slots {
		slots[i] = make(chan slot, 1)
	}
	sem := make(chan struct{}, 8)
	go func() {
		for i, r := range group {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				slots[i] <- slot{err: ctx.Err()}
				continue
			}
			go func(i int, r catalog.Record) {
				defer func() { <-sem }()
				m, err := s.InstanceMeta(ctx, r)
				if err != nil {
					slots[i] <- slot{err: err}
					return
				}
				b, err := encodeItem(m, base)
				slots[i] <- slot{b: b, err: err}
			}(i, r)
		}
	}()
	for i := range group {
		sl := <-slots[i]
		if sl.err != nil {
			return sl.err
		}
		if i > 0 {
			if _, err := w.Write([]byte{','}); err != nil {
				return err
			}
		}
		if _, err := w.Write(sl.b); err != nil {
			return err
		}
	}
	return nil
}

// replaceWriter replaces every occurrence of old with new in a stream.
type replaceWriter struct {
	w        io.Writer
	old, new []byte
	pending  []byte
}

func (r *replaceWriter) Write(p []byte) (int, error) {
	data := append(r.pending, p...)
	i := 0
	for {
		j := bytes.Index(data[i:], r.old)
		if j < 0 {
			break
		}
		if _, err := r.w.Write(data[i : i+j]); err != nil {
			return 0, err
		}
		if _, err := r.w.Write(r.new); err != nil {
			return 0, err
		}
		i += j + len(r.old)
	}
	rest := data[i:]
	keep := len(r.old) - 1
	if len(rest) > keep {
		if _, err := r.w.Write(rest[:len(rest)-keep]); err != nil {
			return 0, err
		}
		rest = rest[len(rest)-keep:]
	}
	r.pending = append(r.pending[:0:0], rest...)
	return len(p), nil
}

func (r *replaceWriter) flush() error {
	_, err := r.w.Write(r.pending)
	r.pending = nil
	return err
}

// scheduler debounces bundle rebuilds per series.
type scheduler struct {
	svc    *Service
	mu     sync.Mutex
	closed bool
	queue  map[string]*pending
}

type pending struct {
	study, series string
	timer         *time.Timer
	first         time.Time
	running       bool
	again         bool
}

func newScheduler(s *Service) *scheduler {
	return &scheduler{svc: s, queue: map[string]*pending{}}
}

func (sc *scheduler) isClosed() bool {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	return sc.closed
}

func (sc *scheduler) schedule(study, series string) {
	k := study + "/" + series
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if sc.closed {
		return
	}
	cfg := sc.svc.cfg
	p := sc.queue[k]
	switch {
	case p == nil:
		p = &pending{study: study, series: series, first: time.Now()}
		p.timer = time.AfterFunc(cfg.BundleDelay, func() { sc.fire(k) })
		sc.queue[k] = p
	case p.running:
		p.again = true
	case time.Since(p.first) < cfg.BundleMaxDelay:
		p.timer.Reset(cfg.BundleDelay)
	}
}

func (sc *scheduler) fire(k string) {
	sc.mu.Lock()
	p := sc.queue[k]
	if p == nil || p.running {
		sc.mu.Unlock()
		return
	}
	p.running = true
	sc.mu.Unlock()
	sc.run(p)
}

// run builds one bundle; the caller has set p.running.
func (sc *scheduler) run(p *pending) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	err := sc.svc.buildBundle(ctx, p.study, p.series)
	cancel()
	if err != nil {
		sc.svc.metrics.bundles.WithLabelValues("build_error").Inc()
		sc.svc.log.Warn("series bundle rebuild failed; metadata is assembled until the next rebuild", "study", p.study, "series", p.series, "err", err)
	} else {
		sc.svc.metrics.bundles.WithLabelValues("built").Inc()
	}
	k := p.study + "/" + p.series
	sc.mu.Lock()
	defer sc.mu.Unlock()
	p.running = false
	if p.again && !sc.closed {
		p.again = false
		p.first = time.Now()
		p.timer = time.AfterFunc(sc.svc.cfg.BundleDelay, func() { sc.fire(k) })
		return
	}
	delete(sc.queue, k)
}

// flush runs every waiting rebuild now and waits for running ones.
func (sc *scheduler) flush(ctx context.Context) error {
	for {
		sc.mu.Lock()
		var pick *pending
		busy := false
		for _, p := range sc.queue {
			if p.running {
				busy = true
				continue
			}
			if p.timer.Stop() {
				p.running = true
				pick = p
				break
			}
			busy = true // fired, about to run
		}
		sc.mu.Unlock()
		switch {
		case pick != nil:
			sc.run(pick)
		case busy:
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(5 * time.Millisecond):
			}
		default:
			return nil
		}
	}
}

func (sc *scheduler) close(ctx context.Context) error {
	err := sc.flush(ctx)
	sc.mu.Lock()
	sc.closed = true
	sc.mu.Unlock()
	return err
}
