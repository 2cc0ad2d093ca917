package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/huren-health/huren/catalog"
	"github.com/huren-health/huren/storage"
)

// ReconcileStats reports what Reconcile did.
type ReconcileStats struct {
	// Checked originals in storage.
	Checked int
	// Indexed: originals the catalog did not know, now indexed.
	Indexed int
	// Rederived: of those, the ones whose metadata had to be rebuilt.
	Rederived int
	// Unreadable originals, reported and skipped.
	Unreadable int
	Duration   time.Duration
}

// Reconcile indexes every original in storage that the catalog does not
// know, without resetting anything: what a crash between an original's
// write and its catalog write leaves behind on a shared catalog (Redis),
// where a restart does not rebuild the catalog. Such an instance was never
// acknowledged, but it is stored, and it must not stay invisible until
// someone runs a reindex. It walks dicom/ series by series and asks the
// catalog once per series, so it costs one listing of the originals plus
// one catalog call per series; safe to run while serving (Put is
// idempotent).
func Reconcile(ctx context.Context, store storage.Store, cat catalog.Catalog, logger *slog.Logger) (ReconcileStats, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	start := time.Now()
	var rs ReconcileStats
	r := &reindexer{store: store, cat: cat, log: logger.With("component", "reconcile"), seen: map[string]bool{}}
	var group []storage.Info
	flush := func() error {
		if len(group) == 0 {
			return nil
		}
		defer func() { group = group[:0] }()
		rs.Checked += len(group)
		study, series, _, _ := splitKey(group[0].Key, dicomPrefix, ".dcm")
		recs, err := catalog.InstanceKeys(ctx, cat, study, series)
		if err != nil && !errors.Is(err, catalog.ErrNotFound) {
			return fmt.Errorf("catalog lookup %s/%s: %w", study, series, err)
		}
		known := make(map[string]bool, len(recs))
		for _, rec := range recs {
			known[rec.InstanceUID] = true
		}
		var missing []storage.Info
		for _, obj := range group {
			if _, _, sop, _ := splitKey(obj.Key, dicomPrefix, ".dcm"); !known[sop] {
				missing = append(missing, obj)
			}
		}
		if len(missing) == 0 {
			return nil
		}
		var st Stats
		err = r.series(ctx, missing, known, &st)
		rs.Indexed += st.Indexed
		rs.Rederived += st.Rederived
		rs.Unreadable += st.Unreadable
		if st.Indexed > 0 {
			r.log.Warn("indexed stored instances the catalog did not know (interrupted ingest)", "study", study, "series", series, "instances", st.Indexed)
		}
		return err
	}
	cur := ""
	err := store.List(ctx, dicomPrefix, func(info storage.Info) error {
		study, series, _, ok := splitKey(info.Key, dicomPrefix, ".dcm")
		if !ok {
			return nil
		}
		if sk := study + "/" + series; sk != cur {
			if err := flush(); err != nil {
				return err
			}
			cur = sk
		}
		group = append(group, info)
		return nil
	})
	if err == nil {
		err = flush()
	}
	rs.Duration = time.Since(start)
	if err != nil {
		return rs, fmt.Errorf("reconcile: %w", err)
	}
	logger.Info("reconcile done", "checked", rs.Checked, "indexed", rs.Indexed, "rederived", rs.Rederived, "unreadable", rs.Unreadable, "duration", rs.Duration)
	return rs, nil
}

// ReindexObject indexes the original stored under key
// (dicom/{study}/{series}/{sop}.dcm) into cat, from its metadata object when
// that agrees with the original, else re-derived from the original. It is
// the start-time catch-up for an original whose catalog write was lost (a
// crash between the two). indexed is false when no original is stored
// under key (its write never completed): there is nothing to index.
func ReindexObject(ctx context.Context, store storage.Store, cat catalog.Catalog, key string) (indexed bool, err error) {
	study, series, sop, ok := splitKey(key, dicomPrefix, ".dcm")
	if !ok {
		return false, fmt.Errorf("reindex %s: not an original's key", key)
	}
	info, err := store.Stat(ctx, key)
	if errors.Is(err, storage.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("reindex %s: %w", key, err)
	}
	m, err := ReadMeta(ctx, store, MetaKey(study, series, sop))
	if err != nil || m.SHA256 != info.SHA256 || m.InstanceUID != sop {
		if m, err = deriveMeta(ctx, store, study, series, sop, ""); err != nil {
			return false, fmt.Errorf("reindex %s: %w", key, err)
		}
	}
	if err := cat.Put(ctx, m.Record()); err != nil {
		return false, fmt.Errorf("reindex %s: catalog put: %w", key, err)
	}
	return true, nil
}
