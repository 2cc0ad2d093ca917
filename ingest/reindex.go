package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/huren-health/huren/catalog"
	"github.com/huren-health/huren/dicomfile"
	"github.com/huren-health/huren/storage"
)

// Stats reports what Reindex did.
type Stats struct {
	// Indexed instances (from their metadata objects or re-derived).
	Indexed int
	// Rederived: originals without (valid, matching) metadata whose
	// metadata was rebuilt by parsing the original — what a crash between
	// write steps 2 and 3 leaves behind.
	Rederived int
	// MissingOriginal: metadata objects whose original is absent; they are
	// reported and not indexed (WADO could not serve them).
	MissingOriginal int
	// Unreadable: originals that cannot be parsed or objects that cannot be
	// read; reported and skipped.
	Unreadable int
	// Series is the number of series seen.
	Series   int
	Duration time.Duration
}

// Reindex rebuilds the catalog from object storage alone: it resets cat,
// then walks dicom/ series by series, indexing each original from its
// metadata object under meta/ (one read per instance). Originals without
// metadata, or whose metadata's sha256 disagrees with the stored original,
// get their metadata re-derived by parsing the original (orphans of an
// interrupted ingest). Metadata without an original is reported and not
// indexed. Memory is bounded by the largest series.
//
// Reindex does not touch series bundles: they are versioned by the
// catalog's instance list and rebuilt on first use.
func Reindex(ctx context.Context, store storage.Store, cat catalog.Catalog, logger *slog.Logger) (Stats, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	start := time.Now()
	var st Stats
	if err := cat.Reset(ctx); err != nil {
		return st, fmt.Errorf("reindex: reset catalog: %w", err)
	}
	r := &reindexer{store: store, cat: cat, log: logger.With("component", "reindex"), seen: map[string]bool{}}
	var cur string
	var group []storage.Info
	err := store.List(ctx, dicomPrefix, func(info storage.Info) error {
		study, series, sop, ok := splitKey(info.Key, dicomPrefix, ".dcm")
		if !ok {
			r.log.Warn("unexpected object under dicom/; skipped", "key", info.Key)
			return nil
		}
		_ = sop
		sk := study + "/" + series
		if sk != cur && len(group) > 0 {
			if err := r.series(ctx, group, nil, &st); err != nil {
				return err
			}
			group = group[:0]
		}
		cur = sk
		group = append(group, info)
		return nil
	})
	if err == nil && len(group) > 0 {
		err = r.series(ctx, group, nil, &st)
	}
	if err != nil {
		return st, fmt.Errorf("reindex: %w", err)
	}
	// Series that have metadata but no original at all.
	err = store.List(ctx, metaPrefix, func(info storage.Info) error {
		study, series, sop, ok := splitKey(info.Key, metaPrefix, ".json")
		if !ok || sop+".json" == bundleName || r.seen[study+"/"+series] {
			return nil
		}
		st.MissingOriginal++
		r.log.Error("metadata without original; not indexed", "key", info.Key)
		return nil
	})
	if err != nil {
		return st, fmt.Errorf("reindex: %w", err)
	}
	st.Duration = time.Since(start)
	logger.Info("reindex done", "indexed", st.Indexed, "rederived", st.Rederived, "missing_original", st.MissingOriginal, "unreadable", st.Unreadable, "series", st.Series, "duration", st.Duration)
	return st, nil
}

type reindexer struct {
	store storage.Store
	cat   catalog.Catalog
	log   *slog.Logger
	seen  map[string]bool
}

// splitKey parses prefix{study}/{series}/{sop}{suffix}.
func splitKey(key, prefix, suffix string) (study, series, sop string, ok bool) {
	rest, found := strings.CutPrefix(key, prefix)
	if !found || !strings.HasSuffix(rest, suffix) {
		return "", "", "", false
	}
	parts := strings.Split(strings.TrimSuffix(rest, suffix), "/")
	if len(parts) != 3 {
		return "", "", "", false
	}
	return parts[0], parts[1], parts[2], true
}

// series indexes one series' originals (all share study/series). Metadata
// objects of instances in skip (already indexed; Reconcile) are ignored.
func (r *reindexer) series(ctx context.Context, group []storage.Info, skip map[string]bool, st *Stats) error {
	study, series, _, _ := splitKey(group[0].Key, dicomPrefix, ".dcm")
	r.seen[study+"/"+series] = true
	st.Series++
	metas := map[string]storage.Info{}
	err := r.store.List(ctx, metaPrefix+study+"/"+series+"/", func(info storage.Info) error {
		if _, _, sop, ok := splitKey(info.Key, metaPrefix, ".json"); ok && sop+".json" != bundleName && !skip[sop] {
			metas[sop] = info
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, obj := range group {
		if err := ctx.Err(); err != nil {
			return err
		}
		_, _, sop, _ := splitKey(obj.Key, dicomPrefix, ".dcm")
		var m *Meta
		if _, ok := metas[sop]; ok {
			delete(metas, sop)
			mm, err := ReadMeta(ctx, r.store, MetaKey(study, series, sop))
			switch {
			case err == nil && mm.SHA256 == obj.SHA256 && mm.InstanceUID == sop:
				m = mm
			case err != nil && errkindUnavailable(err):
				return err
			default:
				r.log.Warn("metadata unreadable or disagrees with the original; re-deriving", "key", obj.Key, "err", err)
			}
		}
		if m == nil {
			mm, err := r.rederive(ctx, obj, study, series, sop)
			if err != nil {
				if errkindUnavailable(err) {
					return err
				}
				st.Unreadable++
				r.log.Error("original cannot be indexed", "key", obj.Key, "err", err)
				continue
			}
			m = mm
			st.Rederived++
		}
		if err := r.cat.Put(ctx, m.Record()); err != nil {
			return fmt.Errorf("catalog put %s: %w", sop, err)
		}
		st.Indexed++
	}
	for sop := range metas {
		st.MissingOriginal++
		r.log.Error("metadata without original; not indexed", "key", MetaKey(study, series, sop))
	}
	return nil
}

func errkindUnavailable(err error) bool {
	return errors.Is(err, storage.ErrUnavailable) || errors.Is(err, catalog.ErrUnavailable)
}

// rederive parses a stored original and writes its metadata object.
func (r *reindexer) rederive(ctx context.Context, obj storage.Info, study, series, sop string) (*Meta, error) {
	return deriveMeta(ctx, r.store, study, series, sop, "")
}

// deriveMeta rebuilds an instance's metadata object from its original: the
// DICOM header from the bytes, the provenance from the original's object
// metadata (originals stored before provenance was recorded get via
// "reindex", no site, and the object's time). wantSHA, when set, is the
// SHA-256 the caller expects (the catalog's); another original is an error.
// The object is written lazily: it can always be derived again.
func deriveMeta(ctx context.Context, store storage.Store, study, series, sop, wantSHA string) (*Meta, error) {
	key := ObjectKey(study, series, sop)
	rc, info, err := store.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	if wantSHA != "" && info.SHA256 != wantSHA {
		return nil, fmt.Errorf("%s: stored original has sha256 %s, the catalog says %s", key, info.SHA256, wantSHA)
	}
	f, err := dicomfile.Parse(rc, info.Size, dicomfile.Options{})
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", key, err)
	}
	if f.StudyInstanceUID != study || f.SeriesInstanceUID != series || f.SOPInstanceUID != sop {
		return nil, fmt.Errorf("%s: its UIDs (%s/%s/%s) do not match its key", key, f.StudyInstanceUID, f.SeriesInstanceUID, f.SOPInstanceUID)
	}
	src, at, ok := sourceOf(info.Metadata)
	if !ok {
		src, at = Source{Via: "reindex"}, info.ModTime.UTC()
	}
	m := buildMeta(f, info.Size, info.SHA256, src, at)
	b, err := encodeMeta(m)
	if err != nil {
		return nil, err
	}
	if _, err := store.Put(ctx, MetaKey(study, series, sop), bytesReader(b), storage.PutOptions{ContentType: "application/json", Size: int64(len(b)), Lazy: true}); err != nil {
		return nil, fmt.Errorf("store metadata %s: %w", sop, err)
	}
	return m, nil
}
