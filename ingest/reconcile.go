package ingest

import (
	"context"
	"errors"
	"fmt"

	"github.com/huren-health/huren/catalog"
	"github.com/huren-health/huren/storage"
)

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
