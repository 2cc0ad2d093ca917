package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	catbolt "github.com/huren-health/huren/catalog/bolt"
	"github.com/huren-health/huren/hub"
	"github.com/huren-health/huren/ingest"
	"github.com/huren-health/huren/worklist"
	wlopen "github.com/huren-health/huren/worklist/open"
)

// runReindex rebuilds derived state (catalog, and on Redis the worklist's
// queues and leases) from object storage, the
// the source of truth: the recovery path after Redis is lost or flushed.
// Run it with no replica serving.
func runReindex(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	cfg, _, err := loadConfig("reindex", args, stderr, getenv, nil)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	log := hub.NewLogger(cfg, os.Stderr)
	b, err := hub.OpenBackends(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer b.Close()
	start := time.Now()
	var st ingest.Stats
	if bc, ok := b.Catalog.(*catbolt.Catalog); ok {
		// The embedded default's catalog file (the hub must be stopped:
		// it holds the file's lock), rebuilt in batches.
		st, err = hub.RebuildCatalog(ctx, bc, b.Store, log)
		if err == nil {
			// The worklist's copy of its events is refilled from storage
			// at the next start.
			err = bc.ResetEvents()
		}
	} else {
		if cfg.Redis == "" {
			fmt.Fprintln(stdout, "note: this catalog is kept in memory and rebuilt at every start; reindex checks storage for orphans.")
		}
		if err = b.Catalog.Reset(ctx); err != nil {
			return fmt.Errorf("reset catalog: %w", err)
		}
		st, err = ingest.Reindex(ctx, b.Store, b.Catalog, log)
	}
	if err != nil {
		return fmt.Errorf("reindex: %w", err)
	}
	fmt.Fprintf(stdout, "catalog reindexed in %s: %+v\n", time.Since(start).Round(time.Millisecond), st)
	if cfg.Redis == "" {
		return nil // the in-process worklist is rebuilt from task events at every start
	}
	start = time.Now()
	q, err := wlopen.Open(ctx, wlopen.Config{Backend: "redis", RedisURL: cfg.Redis, Prefix: hub.RedisPrefix + "worklist",
		Queue: worklist.Config{Store: b.Store, Logger: log}})
	if err != nil {
		return fmt.Errorf("open worklist: %w", err)
	}
	defer q.Close()
	n, err := wlopen.Rebuild(ctx, q, b.Store)
	if err != nil {
		return fmt.Errorf("rebuild worklist: %w", err)
	}
	fmt.Fprintf(stdout, "worklist rebuilt in %s: %d tasks from their events\n", time.Since(start).Round(time.Millisecond), n)
	// Every study with instances and no task (a crash in its quiet period,
	// instances only the reindex found) gets its task now.
	router, err := worklist.OpenRouter(cfg.RoutingRules, hub.DefaultReadingGroup, log)
	if err != nil {
		return fmt.Errorf("routing rules: %w", err)
	}
	tracker := worklist.NewTracker(worklist.TrackerConfig{Queue: q, Router: router, Catalog: b.Catalog, Logger: log})
	rst, err := tracker.Recover(ctx)
	if cerr := tracker.Close(ctx); err == nil {
		err = cerr // Close creates the recovered studies' tasks
	}
	if err != nil {
		return fmt.Errorf("create missing tasks: %w", err)
	}
	fmt.Fprintf(stdout, "worklist: %d studies checked, %d without a task got one\n", rst.Studies, rst.Missing)
	// The generation marker tells every replica that Redis holds derived
	// state again (see hub.GenerationKey).
	if err := hub.MarkGeneration(ctx, b.Redis, cfg.Node); err != nil {
		return err
	}
	return nil
}
