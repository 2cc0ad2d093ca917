package hub

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/huren-health/huren/catalog"
	catbolt "github.com/huren-health/huren/catalog/bolt"
	catmemory "github.com/huren-health/huren/catalog/memory"
	"github.com/huren-health/huren/ingest"
	"github.com/huren-health/huren/storage"
	"github.com/huren-health/huren/worklist"
	wlopen "github.com/huren-health/huren/worklist/open"
)

// CatalogFile is the embedded default's catalog database under DataDir.
const CatalogFile = "catalog.bolt"

// openEmbeddedCatalog opens the catalog of a hub without Redis: the bbolt
// file under DataDir, or the in-memory catalog (rebuilt from storage at
// every start) when cfg.MemoryCatalog is set or there is no DataDir.
func openEmbeddedCatalog(cfg Config, log *slog.Logger) (catalog.Catalog, error) {
	if cfg.MemoryCatalog || cfg.DataDir == "" {
		return catmemory.New(log.With("component", "catalog")), nil
	}
	c, err := catbolt.Open(filepath.Join(cfg.DataDir, CatalogFile), catbolt.Options{}, log)
	if err != nil {
		return nil, fmt.Errorf("open catalog: %w", err)
	}
	return c, nil
}

// loadEmbeddedCatalog brings the in-process catalog up to date at start.
// The bbolt catalog is rebuilt from storage only when it needs it (new,
// deleted, another format, interrupted rebuild); otherwise only the
// originals journaled as being written when the last process stopped are
// reconciled — a listing of every object would grow with the archive.
// The memory catalog is rebuilt from storage every time.
func loadEmbeddedCatalog(ctx context.Context, cat catalog.Catalog, store storage.Store, log *slog.Logger) error {
	start := time.Now()
	bc, ok := cat.(*catbolt.Catalog)
	if !ok {
		st, err := ingest.Reindex(ctx, store, cat, log)
		if err != nil {
			return fmt.Errorf("load catalog from storage: %w", err)
		}
		log.Info("catalog loaded from storage", "stats", fmt.Sprintf("%+v", st), "took", time.Since(start).Round(time.Millisecond))
		return nil
	}
	need, err := bc.NeedsRebuild()
	if err != nil {
		return err
	}
	// Searches are served from the file at once; decoding the study
	// summaries into memory happens in the background (see Warm).
	defer bc.StartWarm()
	if need {
		log.Info("catalog database is new, of another version or incomplete: rebuilding it from storage")
		st, err := RebuildCatalog(ctx, bc, store, log)
		if err != nil {
			return err
		}
		log.Info("catalog rebuilt from storage", "stats", fmt.Sprintf("%+v", st), "took", time.Since(start).Round(time.Millisecond))
		return nil
	}
	keys, err := bc.Pending()
	if err != nil {
		return err
	}
	n := 0
	for _, k := range keys {
		indexed, err := ingest.ReindexObject(ctx, store, bc, k)
		if err != nil {
			// The next start tries again; the instance stays invisible
			// until then (or a reindex).
			log.Error("could not reconcile an instance stored before the last stop", "key", k, "err", err)
			continue
		}
		if indexed {
			n++
		}
		if err := bc.ClearPending(k); err != nil {
			return err
		}
	}
	log.Info("catalog opened", "reconciled", n, "journal", len(keys), "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// RebuildCatalog empties the bbolt catalog and indexes everything in
// storage in batches, then marks it complete (what `huren reindex` and a
// start without a usable catalog file do).
func RebuildCatalog(ctx context.Context, bc *catbolt.Catalog, store storage.Store, log *slog.Logger) (ingest.Stats, error) {
	l := bc.Loader()
	st, err := ingest.Reindex(ctx, store, l, log)
	if err == nil {
		err = l.Flush()
	}
	if err != nil {
		return st, fmt.Errorf("rebuild catalog from storage: %w", err)
	}
	if err := bc.MarkComplete(); err != nil {
		return st, err
	}
	return st, nil
}

// journalStore journals each original before it is written (see
// catbolt.Catalog.MarkPending), so an original whose catalog write is lost
// to a crash is found at the next start without listing the store.
type journalStore struct {
	storage.Store
	j *catbolt.Catalog
}

func isOriginal(key string) bool {
	return strings.HasPrefix(key, "dicom/") && strings.HasSuffix(key, ".dcm")
}

func (s journalStore) Put(ctx context.Context, key string, r io.Reader, opts storage.PutOptions) (storage.Info, error) {
	if isOriginal(key) {
		if err := s.j.MarkPending(key); err != nil {
			return storage.Info{}, err
		}
	}
	return s.Store.Put(ctx, key, r, opts)
}

func (s journalStore) PutIfAbsent(ctx context.Context, key string, r io.Reader, opts storage.PutOptions) (storage.Info, error) {
	if isOriginal(key) {
		if err := s.j.MarkPending(key); err != nil {
			return storage.Info{}, err
		}
	}
	return s.Store.PutIfAbsent(ctx, key, r, opts)
}

// ingestStore is the store ingest writes through: journaled on the bbolt
// catalog, as is otherwise.
func ingestStore(store storage.Store, cat catalog.Catalog) storage.Store {
	if bc, ok := cat.(*catbolt.Catalog); ok {
		return journalStore{Store: store, j: bc}
	}
	return store
}

// maxEventBytes bounds one task event read through eventMirror (events
// are < 4 KiB; the worklist itself refuses more than 1 MiB).
const maxEventBytes = 1 << 20

// eventMirror copies every worklist event the in-process queue writes into
// the catalog file before writing it to storage, so the next start loads
// the worklist from the file (see loadEmbeddedWorklist).
type eventMirror struct {
	storage.Store
	c *catbolt.Catalog
}

func (s eventMirror) Put(ctx context.Context, key string, r io.Reader, opts storage.PutOptions) (storage.Info, error) {
	if !catbolt.IsEventKey(key) {
		return s.Store.Put(ctx, key, r, opts)
	}
	b, err := io.ReadAll(io.LimitReader(r, maxEventBytes+1))
	if err != nil {
		return storage.Info{}, err
	}
	if len(b) > maxEventBytes {
		return storage.Info{}, fmt.Errorf("event %s larger than %d bytes", key, maxEventBytes)
	}
	if err := s.c.PutEvent(key, b); err != nil {
		return storage.Info{}, err
	}
	return s.Store.Put(ctx, key, bytes.NewReader(b), opts)
}

// worklistStore is the store the in-process worklist writes its events
// through: mirrored into the catalog file when there is one.
func worklistStore(store storage.Store, cat catalog.Catalog) storage.Store {
	if bc, ok := cat.(*catbolt.Catalog); ok {
		return eventMirror{Store: store, c: bc}
	}
	return store
}

// loadEmbeddedWorklist loads the in-process worklist at start: from the
// catalog file's copy of the task events when it is complete (one file
// instead of an object per event), else from storage — copying the events
// into the file on the way, so the next start is fast.
func loadEmbeddedWorklist(ctx context.Context, q worklist.Queue, store storage.Store, cat catalog.Catalog, log *slog.Logger) (int, error) {
	bc, ok := cat.(*catbolt.Catalog)
	if !ok {
		return wlopen.Rebuild(ctx, q, store)
	}
	complete, err := bc.EventsComplete()
	if err != nil {
		return 0, err
	}
	if !complete {
		start := time.Now()
		if err := bc.ResetEvents(); err != nil {
			return 0, err
		}
		batch := map[string][]byte{}
		n := 0
		err := store.List(ctx, "tasks/", func(info storage.Info) error {
			if !catbolt.IsEventKey(info.Key) {
				return nil
			}
			rc, _, err := store.Get(ctx, info.Key)
			if err != nil {
				return fmt.Errorf("copy worklist events: %w", err)
			}
			b, err := io.ReadAll(io.LimitReader(rc, maxEventBytes+1))
			rc.Close()
			if err != nil {
				return fmt.Errorf("copy worklist events: %s: %w", info.Key, err)
			}
			if len(b) > maxEventBytes {
				return fmt.Errorf("copy worklist events: %s larger than %d bytes", info.Key, maxEventBytes)
			}
			batch[info.Key] = b
			n++
			if len(batch) >= 2000 {
				err = bc.PutEvents(batch)
				clear(batch)
			}
			return err
		})
		if err == nil {
			err = bc.PutEvents(batch)
		}
		if err == nil {
			err = bc.MarkEventsComplete()
		}
		if err != nil {
			return 0, err
		}
		log.Info("worklist events copied from storage into the catalog file", "events", n, "took", time.Since(start).Round(time.Millisecond))
	}
	return wlopen.Rebuild(ctx, q, bc.EventStore())
}
