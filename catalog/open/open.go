// Package open builds the configured catalog.Catalog backend: the one
// place that knows every backend (an explicit switch, no registration).
package open

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/huren-health/huren/catalog"
	"github.com/huren-health/huren/catalog/bolt"
	"github.com/huren-health/huren/catalog/memory"
	"github.com/huren-health/huren/catalog/redis"
)

// Backend names.
const (
	Memory = "memory"
	Redis  = "redis"
	Bolt   = "bolt"
)

// Config selects and configures the catalog backend.
type Config struct {
	// Backend is "memory" (default when empty), "redis" or "bolt".
	Backend string
	// Redis is used when Backend is "redis".
	Redis redis.Config
	// BoltPath is the catalog file when Backend is "bolt" (the hub's
	// embedded default: DataDir/catalog.bolt).
	BoltPath string
}

// Validate checks the configuration without any I/O.
func (c Config) Validate() error {
	switch c.Backend {
	case "", Memory:
		return nil
	case Redis:
		return c.Redis.Validate()
	case Bolt:
		if c.BoltPath == "" {
			return fmt.Errorf("catalog: backend %q needs a file path", Bolt)
		}
		return nil
	default:
		return fmt.Errorf("catalog: unknown backend %q (want %q, %q or %q)", c.Backend, Memory, Redis, Bolt)
	}
}

// Open returns the configured catalog. For Redis it connects and pings
// (unreachable: catalog.ErrUnavailable). logger may be nil (silent).
// The caller closes the catalog.
func Open(ctx context.Context, cfg Config, logger *slog.Logger) (catalog.Catalog, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	switch cfg.Backend {
	case Redis:
		return redis.Open(ctx, cfg.Redis, logger)
	case Bolt:
		return bolt.Open(cfg.BoltPath, bolt.Options{}, logger)
	}
	return memory.New(logger), nil
}
