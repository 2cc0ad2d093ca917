package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/huren-health/huren/hub"
	"github.com/huren-health/huren/ingest"
)

// runReindex rebuilds derived state (the catalog) from object storage, the
// source of truth: the recovery path after Redis is lost or flushed.
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
	if cfg.Redis == "" {
		fmt.Fprintln(stdout, "note: the embedded default keeps its catalog in memory and rebuilds it at every start; reindex checks storage for orphans.")
	}
	start := time.Now()
	if err := b.Catalog.Reset(ctx); err != nil {
		return fmt.Errorf("reset catalog: %w", err)
	}
	st, err := ingest.Reindex(ctx, b.Store, b.Catalog, log)
	if err != nil {
		return fmt.Errorf("reindex: %w", err)
	}
	fmt.Fprintf(stdout, "reindexed in %s: %+v\n", time.Since(start).Round(time.Millisecond), st)
	return nil
}
