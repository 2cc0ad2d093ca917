package hub

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/huren-health/huren/catalog"
	"github.com/huren-health/huren/ingest"
	"github.com/huren-health/huren/storage"
	"github.com/huren-health/huren/worklist"
	wlopen "github.com/huren-health/huren/worklist/open"
)

// GenerationKey is the generation marker: written when Redis's derived state
// (catalog, worklist) has been built from object storage, by a replica's
// rebuild or by `huren reindex`. A Redis without it was flushed or replaced
// and holds nothing — a hub answering from it would look healthy while
// showing an empty archive.
const GenerationKey = RedisPrefix + "generation"

// rebuildLockKey lets one replica rebuild at a time; the others report
// not-ready until the marker is back.
const rebuildLockKey = RedisPrefix + "rebuild-lock"

// rebuildLockTTL bounds a dead rebuilder's lock; a live one renews it.
const rebuildLockTTL = time.Minute

// MarkGeneration records that rdb holds derived state rebuilt from storage.
func MarkGeneration(ctx context.Context, rdb goredis.UniversalClient, node string) error {
	v := time.Now().UTC().Format(time.RFC3339Nano) + " " + node
	if err := rdb.Set(ctx, GenerationKey, v, 0).Err(); err != nil {
		return fmt.Errorf("set generation marker: %w", err)
	}
	return nil
}

// HasGeneration reports whether rdb carries the generation marker.
func HasGeneration(ctx context.Context, rdb goredis.UniversalClient) (bool, error) {
	n, err := rdb.Exists(ctx, GenerationKey).Result()
	if err != nil {
		return false, fmt.Errorf("read generation marker: %w", err)
	}
	return n == 1, nil
}

// derivedState watches Redis's derived state and rebuilds it from object
// storage when the generation marker is gone.
type derivedState struct {
	rdb   goredis.UniversalClient
	store storage.Store
	cat   catalog.Catalog
	queue worklist.Queue
	node  string
	log   *slog.Logger
	// after runs once a rebuild finished (restart recovery of tasks).
	after func(context.Context)

	mu         sync.Mutex
	rebuilding bool
	ctx        context.Context // the server's lifetime
	wg         sync.WaitGroup  // the background rebuild, waited for at close
}

// ready is the /readyz check: not ready while the marker is missing, and
// a missing marker starts a rebuild.
func (d *derivedState) ready(ctx context.Context) error {
	ok, err := HasGeneration(ctx, d.rdb)
	if err != nil {
		return err
	}
	if ok {
		return nil
	}
	d.startRebuild()
	return errors.New("redis holds no derived state (generation marker missing: Redis was flushed or replaced); rebuilding from object storage")
}

// startRebuild runs one rebuild in the background unless one runs here.
func (d *derivedState) startRebuild() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.rebuilding || d.ctx.Err() != nil {
		return
	}
	d.rebuilding = true
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		defer func() {
			d.mu.Lock()
			d.rebuilding = false
			d.mu.Unlock()
		}()
		if err := d.rebuild(d.ctx); err != nil && d.ctx.Err() == nil {
			d.log.Error("rebuilding derived state failed; /readyz stays not ready and the next check retries", "err", err)
		}
	}()
}

// rebuild reindexes the catalog and rebuilds the worklist from storage,
// then sets the marker — unless another replica holds the rebuild lock.
func (d *derivedState) rebuild(ctx context.Context) error {
	got, err := d.rdb.SetNX(ctx, rebuildLockKey, d.node, rebuildLockTTL).Result()
	if err != nil {
		return fmt.Errorf("rebuild lock: %w", err)
	}
	if !got {
		d.log.Info("derived state missing; another replica is rebuilding it")
		return nil
	}
	renewCtx, stopRenew := context.WithCancel(ctx)
	defer stopRenew()
	go func() {
		t := time.NewTicker(rebuildLockTTL / 3)
		defer t.Stop()
		for {
			select {
			case <-renewCtx.Done():
				return
			case <-t.C:
				d.rdb.PExpire(renewCtx, rebuildLockKey, rebuildLockTTL)
			}
		}
	}()
	defer d.rdb.Del(context.WithoutCancel(ctx), rebuildLockKey)

	d.log.Warn("redis holds no derived state (generation marker missing); rebuilding catalog and worklist from object storage")
	start := time.Now()
	st, err := ingest.Reindex(ctx, d.store, d.cat, d.log)
	if err != nil {
		return fmt.Errorf("rebuild catalog: %w", err)
	}
	n, err := wlopen.Rebuild(ctx, d.queue, d.store)
	if err != nil {
		return fmt.Errorf("rebuild worklist: %w", err)
	}
	if err := MarkGeneration(ctx, d.rdb, d.node); err != nil {
		return err
	}
	d.log.Warn("derived state rebuilt from object storage", "instances", st.Indexed, "tasks", n, "took", time.Since(start).Round(time.Millisecond))
	if d.after != nil {
		d.after(ctx)
	}
	return nil
}

// prepare runs at start before the task recovery: a missing marker means a
// rebuild (here, or by the replica holding the lock: wait for it); a
// present one a reconcile of instances a crash left out of the catalog.
func (d *derivedState) prepare(ctx context.Context) error {
	ok, err := HasGeneration(ctx, d.rdb)
	if err != nil {
		return err
	}
	if !ok {
		if err := d.rebuild(ctx); err != nil {
			return err
		}
		for {
			if ok, err := HasGeneration(ctx, d.rdb); err != nil || ok {
				return err
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Second):
			}
		}
	}
	_, err = ingest.Reconcile(ctx, d.store, d.cat, d.log)
	return err
}
