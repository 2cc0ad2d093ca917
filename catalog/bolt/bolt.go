// Package bolt is the embedded default's persistent catalog: the derived
// state of `huren serve` without Redis, kept in one bbolt file under the
// data directory so a restart does not re-read every stored object.
//
// Why bbolt (go.etcd.io/bbolt v1.5.0) among the cgo-free embedded databases
// the project allows: the catalog needs ordered keys (the canonical study
// order, prefix walks over a study's series and instances, exact-value
// indexes), ACID transactions (Put changes a record, its aggregates and its
// indexes together) and cheap, consistent reads from many goroutines while
// one writer works — exactly a copy-on-write B+tree with memory-mapped
// reads. It is one file, pure Go with golang.org/x/sys as its only
// dependency, builds with CGO_ENABLED=0 and for windows/arm64, has no
// background compaction or goroutines to tune (pebble, badger: LSM trees
// made for write-heavy loads far above ~250,000 instances a day, larger
// dependency trees, extra files), and needs no SQL layer or query planner
// (modernc.org/sqlite: a large transpiled C library; ncruces/go-sqlite3: a
// WebAssembly runtime) for what is a handful of key layouts. Its weakness,
// one fsync per write transaction, is amortised by Loader for rebuilds.
//
// Like the Redis catalog it is derived state: the object store is the
// source of truth, the file may be deleted at any time, and a file of
// another layout (FormatVersion) or an interrupted rebuild is wiped and
// reported by NeedsRebuild so the hub rebuilds it from storage.
//
// Layout (buckets; "\x00" separates key parts, which UIDs never contain):
//
//	meta  "format" → FormatVersion; "complete" → "1" once a rebuild finished
//	rec   SOP UID → storedRecord (JSON)
//	st    study UID → studyState (JSON: summary, aggregates, representative)
//	se    study \x00 series → seriesState (JSON)
//	mem   study \x00 series \x00 SOP → ReceivedScore (8 bytes, big endian)
//	ord   score (8 bytes, big endian) study UID → "" (walked backwards: canonical order)
//	pid   PatientID \x00 study → "";  acc  AccessionNumber \x00 study → ""
//	pend  object key → "" (journal: originals being written, see MarkPending)
//	wlev  event object key → event JSON (the in-process worklist's copy, see events.go)
//
// Searches run the shared engine (catalog.Execute) over these keys. Decoded
// study summaries are cached in memory (invalidated by every write to the
// study), so repeated searches cost what the in-memory catalog's do without
// loading anything at start.
//
// Concurrency: writers take an exclusive lock around their transaction and
// the cache invalidation, searches a shared one, so every answer is a
// consistent snapshot and the cache never holds a stale summary.
package bolt

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/huren-health/huren/catalog"
	"github.com/huren-health/huren/dicomjson"
)

// FormatVersion marks the key layout and encodings. A file with another
// value was written by another version of Huren: it is wiped and rebuilt.
// Change it whenever what is stored (or how) changes.
const FormatVersion = "huren-catalog-bolt/1"

var (
	bMeta   = []byte("meta")
	bRec    = []byte("rec")
	bStudy  = []byte("st")
	bSeries = []byte("se")
	bMember = []byte("mem")
	bOrder  = []byte("ord")
	bPID    = []byte("pid")
	bAcc    = []byte("acc")
	bPend   = []byte("pend")

	// derived lists the buckets Reset clears (not meta, not the journal).
	derived = [][]byte{bRec, bStudy, bSeries, bMember, bOrder, bPID, bAcc}

	keyFormat   = []byte("format")
	keyComplete = []byte("complete")
)

var _ catalog.Catalog = (*Catalog)(nil)

// Catalog is a catalog.Catalog in a bbolt file.
type Catalog struct {
	db  *bbolt.DB
	log *slog.Logger

	// mu orders writers (exclusive) against searches (shared): see the
	// package comment.
	mu sync.RWMutex

	cacheMu  sync.Mutex
	cache    map[string]*studyState
	cacheMax int

	group groupCommit // see commit.go

	closeOnce sync.Once
	closeErr  error
	warmStop  func() // set by StartWarm: cancels and waits
}

// Options tune Open.
type Options struct {
	// CacheStudies bounds the decoded study summaries kept in memory
	// (default 2,000,000; when full the cache is emptied and refills).
	CacheStudies int
	// Timeout is how long Open waits for another process holding the file
	// (default 2 s), e.g. a running hub while `huren reindex` runs.
	Timeout time.Duration
}

// Open opens (creating it if needed) the catalog file at path. A file of
// another FormatVersion is emptied; check NeedsRebuild afterwards.
func Open(path string, opts Options, logger *slog.Logger) (*Catalog, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if opts.CacheStudies <= 0 {
		opts.CacheStudies = 2_000_000
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 2 * time.Second
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("catalog bolt: %w", err)
	}
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{
		Timeout: opts.Timeout,
		// The free list is written at every commit (the default): with
		// NoFreelistSync, Open would rebuild it by walking every page of
		// the file, a start cost that grows with the archive.
		FreelistType: bbolt.FreelistMapType,
	})
	if errors.Is(err, bbolt.ErrTimeout) {
		return nil, fmt.Errorf("catalog bolt: %s is locked by another process (is the hub running?): %w", path, err)
	}
	if err != nil {
		return nil, fmt.Errorf("catalog bolt: open %s: %w", path, err)
	}
	c := &Catalog{db: db, log: logger.With("component", "catalog.bolt"), cache: map[string]*studyState{}, cacheMax: opts.CacheStudies}
	err = db.Update(func(tx *bbolt.Tx) error {
		meta, err := tx.CreateBucketIfNotExists(bMeta)
		if err != nil {
			return err
		}
		if f := meta.Get(keyFormat); f != nil && string(f) != FormatVersion {
			c.log.Warn("catalog file has another format; it is emptied and rebuilt from storage", "path", path, "found", string(f), "want", FormatVersion)
			if err := resetTx(tx); err != nil {
				return err
			}
			if err := tx.DeleteBucket(bEvents); err != nil && !errors.Is(err, bbolt.ErrBucketNotFound) {
				return err
			}
			if err := meta.Delete(keyEventsReady); err != nil {
				return err
			}
		}
		for _, b := range append(derived, bPend, bEvents) {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return meta.Put(keyFormat, []byte(FormatVersion))
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("catalog bolt: initialise %s: %w", path, err)
	}
	return c, nil
}

// NeedsRebuild reports whether the file lacks a complete rebuild: new,
// emptied for another format, reset, or a rebuild that did not finish.
func (c *Catalog) NeedsRebuild() (bool, error) {
	var complete bool
	err := c.db.View(func(tx *bbolt.Tx) error {
		complete = string(tx.Bucket(bMeta).Get(keyComplete)) == "1"
		return nil
	})
	if err != nil {
		return false, c.fail("read meta", err)
	}
	return !complete, nil
}

// MarkComplete records that the catalog now holds everything in storage
// (call it after a rebuild); Reset clears the mark.
func (c *Catalog) MarkComplete() error {
	return c.fail("mark complete", c.db.Update(func(tx *bbolt.Tx) error {
		return tx.Bucket(bMeta).Put(keyComplete, []byte("1"))
	}))
}

// MarkPending journals that the original under key is about to be written:
// Put of a record with that ObjectKey removes the entry in its own
// transaction. Entries left after a crash (written original, no record)
// are what Pending returns at the next start.
func (c *Catalog) MarkPending(key string) error {
	return c.fail("journal", c.write(func(tx *bbolt.Tx) error {
		return tx.Bucket(bPend).Put([]byte(key), nil)
	}, nil))
}

// Pending lists the journal's entries (see MarkPending).
func (c *Catalog) Pending() ([]string, error) {
	var out []string
	err := c.db.View(func(tx *bbolt.Tx) error {
		return tx.Bucket(bPend).ForEach(func(k, _ []byte) error {
			out = append(out, string(k))
			return nil
		})
	})
	return out, c.fail("journal", err)
}

// ClearPending removes journal entries once they are reconciled.
func (c *Catalog) ClearPending(keys ...string) error {
	return c.fail("journal", c.db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bPend)
		for _, k := range keys {
			if err := b.Delete([]byte(k)); err != nil {
				return err
			}
		}
		return nil
	}))
}

func (c *Catalog) fail(op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, catalog.ErrInvalidRecord) || errors.Is(err, catalog.ErrNotFound) {
		return err
	}
	return fmt.Errorf("catalog bolt %s: %w: %w", op, catalog.ErrUnavailable, err)
}

// encodeRecord and decodeRecord store records as the Redis backend does
// (json.Marshal of the record; catalog.DecodeRecord).
func encodeRecord(rec catalog.Record) ([]byte, error) { return json.Marshal(rec) }

func decodeRecord(b []byte) (catalog.Record, error) { return catalog.DecodeRecord(b) }

// recordIDs is the part of a stored record that removal needs.
type recordIDs struct{ StudyUID, SeriesUID string }

// rep identifies a representative: the member with the greatest (TS, UID).
type rep struct {
	UID string
	TS  int64
}

func (r rep) less(o rep) bool { return r.TS < o.TS || r.TS == o.TS && r.UID < o.UID }

// studyState is a study's stored summary and what keeps it current.
type studyState struct {
	Score   int64
	Attrs   json.RawMessage // StudyDataset(rep's StudyPart, aggregates)
	Part    json.RawMessage // the representative's StudyPart
	Rep     rep
	NSeries int
	NInst   int
	Mods    map[string]int
	SiteCnt map[string]int
	Names   []string // PNTokens of PatientName (NamePrefix filter)
	PIDs    []string
	Accs    []string

	view catalog.StudyView // decoded (cache only)
}

type seriesState struct {
	Attrs   json.RawMessage // SeriesDataset(rep's SeriesPart, count)
	Part    json.RawMessage
	Rep     rep
	N       int
	SiteCnt map[string]int
}

func skey(parts ...string) []byte { return []byte(strings.Join(parts, "\x00")) }

func orderKey(score int64, uid string) []byte {
	k := make([]byte, 8+len(uid))
	binary.BigEndian.PutUint64(k, uint64(score)) // scores are >= 0
	copy(k[8:], uid)
	return k
}

func getJSON(b *bbolt.Bucket, key []byte, v any) (bool, error) {
	raw := b.Get(key)
	if raw == nil {
		return false, nil
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return false, fmt.Errorf("decode %q: %w", key, err)
	}
	return true, nil
}

func putJSON(b *bbolt.Bucket, key []byte, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Put(key, raw)
}

// Put implements catalog.Catalog.
func (c *Catalog) Put(ctx context.Context, rec catalog.Record) error {
	rec, err := catalog.Normalize(rec)
	if err != nil {
		return err
	}
	err = c.write(func(tx *bbolt.Tx) error { return putTx(tx, rec) }, func() { c.invalidate(rec.StudyUID) })
	return c.fail("put", err)
}

// putTx indexes a normalised record, replacing any with its InstanceUID.
func putTx(tx *bbolt.Tx, rec catalog.Record) error {
	old := tx.Bucket(bRec).Get([]byte(rec.InstanceUID))
	if old != nil {
		var o recordIDs
		if err := json.Unmarshal(old, &o); err != nil {
			return fmt.Errorf("stored record %s: %w", rec.InstanceUID, err)
		}
		if err := removeTx(tx, o.StudyUID, o.SeriesUID, rec.InstanceUID); err != nil {
			return err
		}
	}
	if rec.ObjectKey != "" {
		if err := tx.Bucket(bPend).Delete([]byte(rec.ObjectKey)); err != nil {
			return err
		}
	}
	raw, err := encodeRecord(rec)
	if err != nil {
		return err
	}
	if err := tx.Bucket(bRec).Put([]byte(rec.InstanceUID), raw); err != nil {
		return err
	}
	ts := catalog.ReceivedScore(rec.ReceivedAt)
	var tsb [8]byte
	binary.BigEndian.PutUint64(tsb[:], uint64(ts))
	if err := tx.Bucket(bMember).Put(skey(rec.StudyUID, rec.SeriesUID, rec.InstanceUID), tsb[:]); err != nil {
		return err
	}
	me := rep{UID: rec.InstanceUID, TS: ts}

	stB, seB := tx.Bucket(bStudy), tx.Bucket(bSeries)
	var st studyState
	found, err := getJSON(stB, []byte(rec.StudyUID), &st)
	if err != nil {
		return err
	}
	prev := st
	if !found {
		st = studyState{Mods: map[string]int{}, SiteCnt: map[string]int{}}
	}
	var se seriesState
	seKey := skey(rec.StudyUID, rec.SeriesUID)
	sfound, err := getJSON(seB, seKey, &se)
	if err != nil {
		return err
	}
	if !sfound {
		se = seriesState{SiteCnt: map[string]int{}}
		st.NSeries++
	}
	st.NInst++
	for _, m := range catalog.Modalities(rec) {
		st.Mods[m]++
	}
	st.SiteCnt[rec.Site]++
	se.N++
	se.SiteCnt[rec.Site]++
	if !found || st.Rep.less(me) {
		st.Rep = me
		if st.Part, err = json.Marshal(catalog.StudyPart(rec)); err != nil {
			return err
		}
	}
	if !sfound || se.Rep.less(me) {
		se.Rep = me
		if se.Part, err = json.Marshal(catalog.SeriesPart(rec)); err != nil {
			return err
		}
	}
	if err := writeSeries(seB, seKey, &se); err != nil {
		return err
	}
	return writeStudy(tx, rec.StudyUID, found, &prev, &st)
}

// removeTx drops an instance and updates what it belonged to.
func removeTx(tx *bbolt.Tx, studyUID, seriesUID, uid string) error {
	rawRec := tx.Bucket(bRec).Get([]byte(uid))
	if rawRec == nil {
		return nil
	}
	rec, err := decodeRecord(rawRec)
	if err != nil {
		return err
	}
	if err := tx.Bucket(bRec).Delete([]byte(uid)); err != nil {
		return err
	}
	memB := tx.Bucket(bMember)
	if err := memB.Delete(skey(studyUID, seriesUID, uid)); err != nil {
		return err
	}
	stB, seB := tx.Bucket(bStudy), tx.Bucket(bSeries)
	var st studyState
	found, err := getJSON(stB, []byte(studyUID), &st)
	if err != nil || !found {
		return err
	}
	prev := st
	st.NInst--
	for _, m := range catalog.Modalities(rec) {
		if st.Mods[m]--; st.Mods[m] <= 0 {
			delete(st.Mods, m)
		}
	}
	if st.SiteCnt[rec.Site]--; st.SiteCnt[rec.Site] <= 0 {
		delete(st.SiteCnt, rec.Site)
	}
	var se seriesState
	seKey := skey(studyUID, seriesUID)
	if _, err := getJSON(seB, seKey, &se); err != nil {
		return err
	}
	se.N--
	if se.SiteCnt[rec.Site]--; se.SiteCnt[rec.Site] <= 0 {
		delete(se.SiteCnt, rec.Site)
	}
	if se.N <= 0 {
		st.NSeries--
		if err := seB.Delete(seKey); err != nil {
			return err
		}
	} else {
		if se.Rep.UID == uid {
			r, err := newest(tx, skey(studyUID, seriesUID, ""))
			if err != nil {
				return err
			}
			se.Rep = r.rep
			if se.Part, err = json.Marshal(catalog.SeriesPart(r.rec)); err != nil {
				return err
			}
		}
		if err := writeSeries(seB, seKey, &se); err != nil {
			return err
		}
	}
	if st.NInst > 0 && st.Rep.UID == uid {
		r, err := newest(tx, skey(studyUID, ""))
		if err != nil {
			return err
		}
		st.Rep = r.rep
		if st.Part, err = json.Marshal(catalog.StudyPart(r.rec)); err != nil {
			return err
		}
	}
	return writeStudy(tx, studyUID, true, &prev, &st)
}

type repRec struct {
	rep rep
	rec catalog.Record
}

// newest finds the representative among the members under prefix and
// loads its record (rare: only when the representative is removed).
func newest(tx *bbolt.Tx, prefix []byte) (repRec, error) {
	var best rep
	cur := tx.Bucket(bMember).Cursor()
	for k, v := cur.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = cur.Next() {
		uid := string(k[bytes.LastIndexByte(k, 0)+1:])
		r := rep{UID: uid, TS: int64(binary.BigEndian.Uint64(v))}
		if best.UID == "" || best.less(r) {
			best = r
		}
	}
	raw := tx.Bucket(bRec).Get([]byte(best.UID))
	if raw == nil {
		return repRec{}, fmt.Errorf("member %s of %q has no record", best.UID, prefix)
	}
	rec, err := decodeRecord(raw)
	return repRec{rep: best, rec: rec}, err
}

func writeSeries(seB *bbolt.Bucket, key []byte, se *seriesState) error {
	part, err := dicomjson.Decode(se.Part)
	if err != nil {
		return err
	}
	if se.Attrs, err = json.Marshal(catalog.SeriesDataset(part, se.N)); err != nil {
		return err
	}
	return putJSON(seB, key, se)
}

// writeStudy stores st (or deletes the study when it has no instances
// left) and moves its index entries from prev's values to st's.
func writeStudy(tx *bbolt.Tx, uid string, existed bool, prev, st *studyState) error {
	ordB, pidB, accB := tx.Bucket(bOrder), tx.Bucket(bPID), tx.Bucket(bAcc)
	if existed {
		if err := ordB.Delete(orderKey(prev.Score, uid)); err != nil {
			return err
		}
		for _, v := range prev.PIDs {
			if err := pidB.Delete(skey(v, uid)); err != nil {
				return err
			}
		}
		for _, v := range prev.Accs {
			if err := accB.Delete(skey(v, uid)); err != nil {
				return err
			}
		}
	}
	if st.NInst <= 0 {
		return tx.Bucket(bStudy).Delete([]byte(uid))
	}
	part, err := dicomjson.Decode(st.Part)
	if err != nil {
		return err
	}
	mods := make([]string, 0, len(st.Mods))
	for m := range st.Mods {
		mods = append(mods, m)
	}
	attrs := catalog.StudyDataset(part, st.NSeries, st.NInst, mods)
	st.Score = catalog.StudyScore(attrs)
	st.Names = st.Names[:0]
	for _, v := range attrs.Strings(catalog.TagPatientName) {
		st.Names = append(st.Names, catalog.PNTokens(v)...)
	}
	st.PIDs = catalog.IndexValues(attrs, catalog.TagPatientID)
	st.Accs = catalog.IndexValues(attrs, catalog.TagAccessionNumber)
	if st.Attrs, err = json.Marshal(attrs); err != nil {
		return err
	}
	if err := ordB.Put(orderKey(st.Score, uid), nil); err != nil {
		return err
	}
	for _, v := range st.PIDs {
		if err := pidB.Put(skey(v, uid), nil); err != nil {
			return err
		}
	}
	for _, v := range st.Accs {
		if err := accB.Put(skey(v, uid), nil); err != nil {
			return err
		}
	}
	return putJSON(tx.Bucket(bStudy), []byte(uid), st)
}

func keys(m map[string]int) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func (c *Catalog) invalidate(studyUID string) {
	c.cacheMu.Lock()
	delete(c.cache, studyUID)
	c.cacheMu.Unlock()
}

// study returns the decoded summary of a study (nil if absent), from the
// cache or the file. Callers hold mu (shared or exclusive).
func (c *Catalog) study(tx *bbolt.Tx, uid string) (*studyState, error) {
	c.cacheMu.Lock()
	st := c.cache[uid]
	c.cacheMu.Unlock()
	if st != nil {
		return st, nil
	}
	st = &studyState{}
	found, err := getJSON(tx.Bucket(bStudy), []byte(uid), st)
	if err != nil || !found {
		return nil, err
	}
	attrs, err := dicomjson.Decode(st.Attrs)
	if err != nil {
		return nil, fmt.Errorf("study %s: %w", uid, err)
	}
	st.view = catalog.StudyView{UID: uid, Score: st.Score, Attrs: attrs, Sites: keys(st.SiteCnt)}
	st.Attrs, st.Part = nil, nil // only the view is used from here on
	c.cacheMu.Lock()
	if len(c.cache) >= c.cacheMax {
		clear(c.cache)
	}
	c.cache[uid] = st
	c.cacheMu.Unlock()
	return st, nil
}

// Instance implements catalog.Catalog.
func (c *Catalog) Instance(ctx context.Context, uid string) (catalog.Record, error) {
	var rec catalog.Record
	err := c.db.View(func(tx *bbolt.Tx) error {
		raw := tx.Bucket(bRec).Get([]byte(uid))
		if raw == nil {
			return catalog.ErrNotFound
		}
		var err error
		rec, err = decodeRecord(raw)
		return err
	})
	return rec, c.fail("instance", err)
}

// Instances implements catalog.Catalog.
func (c *Catalog) Instances(ctx context.Context, studyUID, seriesUID string) ([]catalog.Record, error) {
	var out []catalog.Record
	err := c.db.View(func(tx *bbolt.Tx) error {
		prefix := skey(studyUID, "")
		if seriesUID != "" {
			prefix = skey(studyUID, seriesUID, "")
		}
		var err error
		out, err = records(tx, prefix)
		return err
	})
	if err != nil {
		return nil, c.fail("instances", err)
	}
	if len(out) == 0 {
		return nil, catalog.ErrNotFound
	}
	catalog.SortRecords(out)
	return out, nil
}

// records loads the records of the members under prefix.
func records(tx *bbolt.Tx, prefix []byte) ([]catalog.Record, error) {
	var out []catalog.Record
	recB := tx.Bucket(bRec)
	cur := tx.Bucket(bMember).Cursor()
	for k, _ := cur.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = cur.Next() {
		uid := k[bytes.LastIndexByte(k, 0)+1:]
		raw := recB.Get(uid)
		if raw == nil {
			return nil, fmt.Errorf("member %s has no record", uid)
		}
		rec, err := decodeRecord(raw)
		if err != nil {
			return nil, err
		}
		out = append(out, rec)
	}
	return out, nil
}

// Search implements catalog.Catalog.
func (c *Catalog) Search(ctx context.Context, q catalog.Query) ([]dicomjson.Dataset, error) {
	p, err := catalog.Compile(q)
	if err != nil {
		return nil, err
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	var out []dicomjson.Dataset
	err = c.db.View(func(tx *bbolt.Tx) error {
		var err error
		out, err = catalog.Execute(ctx, p, source{c: c, tx: tx})
		return err
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil, err
		}
		return nil, c.fail("search", err)
	}
	return out, nil
}

// Delete implements catalog.Catalog.
func (c *Catalog) Delete(ctx context.Context, uid string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var study string
	err := c.db.Update(func(tx *bbolt.Tx) error {
		raw := tx.Bucket(bRec).Get([]byte(uid))
		if raw == nil {
			return nil
		}
		var o recordIDs
		if err := json.Unmarshal(raw, &o); err != nil {
			return fmt.Errorf("stored record %s: %w", uid, err)
		}
		study = o.StudyUID
		return removeTx(tx, o.StudyUID, o.SeriesUID, uid)
	})
	c.invalidate(study)
	return c.fail("delete", err)
}

// Reset implements catalog.Catalog. It also clears the complete mark (see
// NeedsRebuild) until MarkComplete.
func (c *Catalog) Reset(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	err := c.db.Update(func(tx *bbolt.Tx) error {
		if err := resetTx(tx); err != nil {
			return err
		}
		for _, b := range derived {
			if _, err := tx.CreateBucket(b); err != nil {
				return err
			}
		}
		return nil
	})
	c.cacheMu.Lock()
	clear(c.cache)
	c.cacheMu.Unlock()
	return c.fail("reset", err)
}

// resetTx drops the derived buckets and the complete mark.
func resetTx(tx *bbolt.Tx) error {
	for _, b := range derived {
		if err := tx.DeleteBucket(b); err != nil && !errors.Is(err, bbolt.ErrBucketNotFound) {
			return err
		}
	}
	return tx.Bucket(bMeta).Delete(keyComplete)
}

// Close implements catalog.Catalog.
func (c *Catalog) Close() error {
	c.closeOnce.Do(func() {
		if c.warmStop != nil {
			c.warmStop()
		}
		c.closeErr = c.db.Close()
	})
	return c.closeErr
}

// source runs a search inside one read transaction under mu (shared).
type source struct {
	c  *Catalog
	tx *bbolt.Tx
}

func (s source) ScanStudies(ctx context.Context, p *catalog.Plan, fn func(catalog.StudyView) bool) error {
	visit := func(uid string) (bool, error) {
		st, err := s.c.study(s.tx, uid)
		if err != nil || st == nil {
			return err == nil, err
		}
		if p.NamePrefix != "" && !hasPrefixToken(st.Names, p.NamePrefix) {
			return true, nil
		}
		return fn(st.view), nil
	}
	var cand []string
	switch {
	case p.StudyUIDs != nil:
		cand = p.StudyUIDs
	case p.PatientIDs != nil:
		cand = indexed(s.tx.Bucket(bPID), p.PatientIDs)
	case p.Accessions != nil:
		cand = indexed(s.tx.Bucket(bAcc), p.Accessions)
	}
	if p.StudyUIDs != nil || p.PatientIDs != nil || p.Accessions != nil {
		var views []catalog.StudyView
		seen := map[string]bool{}
		for _, u := range cand {
			if seen[u] {
				continue
			}
			seen[u] = true
			st, err := s.c.study(s.tx, u)
			if err != nil {
				return err
			}
			if st != nil && (p.NamePrefix == "" || hasPrefixToken(st.Names, p.NamePrefix)) {
				views = append(views, st.view)
			}
		}
		catalog.SortStudies(views)
		for _, v := range views {
			if !fn(v) {
				return nil
			}
		}
		return nil
	}
	cur := s.tx.Bucket(bOrder).Cursor()
	var k []byte
	if p.DateRange && p.ScoreMax < 1<<62 {
		// The last key with a score <= ScoreMax: seek past it, step back.
		if k, _ = cur.Seek(orderKey(p.ScoreMax+1, "")); k == nil {
			k, _ = cur.Last()
		} else {
			k, _ = cur.Prev()
		}
	} else {
		k, _ = cur.Last()
	}
	for ; k != nil; k, _ = cur.Prev() {
		if p.DateRange && int64(binary.BigEndian.Uint64(k)) < p.ScoreMin {
			return nil
		}
		more, err := visit(string(k[8:]))
		if err != nil || !more {
			return err
		}
	}
	return nil
}

func hasPrefixToken(names []string, prefix string) bool {
	for _, t := range names {
		if strings.HasPrefix(t, prefix) {
			return true
		}
	}
	return false
}

// indexed returns the studies filed under any of vals in an exact-value
// index (duplicates possible).
func indexed(b *bbolt.Bucket, vals []string) []string {
	var out []string
	cur := b.Cursor()
	for _, v := range vals {
		prefix := skey(v, "")
		for k, _ := cur.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = cur.Next() {
			out = append(out, string(k[len(prefix):]))
		}
	}
	return out
}

func (s source) Series(ctx context.Context, studyUID string) ([]catalog.SeriesView, error) {
	var out []catalog.SeriesView
	prefix := skey(studyUID, "")
	cur := s.tx.Bucket(bSeries).Cursor()
	for k, v := cur.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = cur.Next() {
		var se seriesState
		if err := json.Unmarshal(v, &se); err != nil {
			return nil, fmt.Errorf("series %q: %w", k, err)
		}
		attrs, err := dicomjson.Decode(se.Attrs)
		if err != nil {
			return nil, fmt.Errorf("series %q: %w", k, err)
		}
		out = append(out, catalog.SeriesView{StudyUID: studyUID, UID: string(k[len(prefix):]), Attrs: attrs, Sites: keys(se.SiteCnt)})
	}
	return out, nil
}

func (s source) Records(ctx context.Context, studyUID, seriesUID string) ([]catalog.Record, error) {
	return records(s.tx, skey(studyUID, seriesUID, ""))
}
