// Package open builds the configured catalog.Catalog backend: the one
// place that knows every backend (an explicit switch, no registration).
package open

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/huren-health/huren/catalog"
	"github.com/huren-health/huren/catalog/memory"
	"github.com/huren-health/huren/catalog/redis"
)

// Backend names.
const (
	Memory = "memory"
	Redis  = "redis"
)

// Config selects and configures the catalog backend.
type Config struct {
	// Backend is "memory" (default when empty) or "redis".
	Backend string
	// Redis is used when Backend is "redis".
	Redis redis.Config
}

// Validate checks the configuration without any I/O.
func (c Config) Validate() error {
	switch c.Backend {
	case "", Memory:
		return nil
	case Redis:
		return c.Redis.Validate()
	default:
		return fmt.Errorf("catalog: unknown backend %q (want %q or %q)", c.Backend, Memory, Redis)
	}
}

// Open returns the configured catalog. For Redis it connects and pings
// (unreachable: catalog.ErrUnavailable). logger may be nil (silent).
// The caller closes the catalog.
func Open(ctx context.Context, cfg Config, logger *slog.Logger) (catalog.Catalog, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Backend == Redis {
		return redis.Open(ctx, cfg.Redis, logger)
	}
	return memory.New(logger), nil
}
