// Package open assembles a worklist.Queue from configuration with an
// explicit switch over the two backends, so the parent package never
// imports a backend and the hub has one call to make.
package open

import (
	"context"
	"fmt"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/huren-health/huren/errkind"
	"github.com/huren-health/huren/storage"
	"github.com/huren-health/huren/worklist"
	"github.com/huren-health/huren/worklist/memory"
	wlredis "github.com/huren-health/huren/worklist/redis"
)

// ErrConfig: an invalid worklist configuration.
var ErrConfig = errkind.New(errkind.Invalid, "worklist: invalid configuration")

// Config selects and configures the backend.
type Config struct {
	// Backend is "memory" (default) or "redis".
	Backend string
	// RedisURL (redis://host:port/db) and Prefix (default "huren:worklist")
	// for the Redis backend.
	RedisURL string
	Prefix   string
	// Queue holds the shared settings (lease, store, outbox, logger, metrics).
	Queue worklist.Config
}

// Validate checks cfg without I/O.
func (c Config) Validate() error {
	switch c.Backend {
	case "", "memory":
	case "redis":
		if c.RedisURL == "" {
			return fmt.Errorf("worklist backend redis needs a Redis URL: %w", ErrConfig)
		}
		if _, err := goredis.ParseURL(c.RedisURL); err != nil {
			return fmt.Errorf("worklist redis URL: %v: %w", err, ErrConfig)
		}
	default:
		return fmt.Errorf("worklist backend %q (want memory or redis): %w", c.Backend, ErrConfig)
	}
	return nil
}

// Open builds the queue and, for Redis, checks the server answers. Close
// the queue when done; for Redis it also closes the client it opened.
func Open(ctx context.Context, c Config) (worklist.Queue, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if c.Backend != "redis" {
		return memory.New(c.Queue), nil
	}
	opt, _ := goredis.ParseURL(c.RedisURL)
	cl := goredis.NewClient(opt)
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := cl.Ping(pctx).Err(); err != nil {
		_ = cl.Close()
		return nil, fmt.Errorf("worklist redis %s: %w: %w", opt.Addr, worklist.ErrUnavailable, err)
	}
	prefix := c.Prefix
	if prefix == "" {
		prefix = "huren:worklist"
	}
	return &owned{Queue: wlredis.New(cl, prefix, c.Queue), c: cl}, nil
}

type owned struct {
	*wlredis.Queue
	c *goredis.Client
}

func (o *owned) Close() error {
	err := o.Queue.Close()
	if cerr := o.c.Close(); err == nil {
		err = cerr
	}
	return err
}

// Rebuild restores q's whole state from the task events in store (the
// `huren reindex` step for the worklist). Run it with no replica serving.
func Rebuild(ctx context.Context, q worklist.Queue, store storage.Store) (int, error) {
	rb, ok := q.(worklist.Rebuilder)
	if !ok {
		return 0, fmt.Errorf("worklist backend %T cannot rebuild: %w", q, ErrConfig)
	}
	return rb.Rebuild(ctx, store)
}
