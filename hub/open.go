package hub

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/huren-health/huren/catalog"
	catmemory "github.com/huren-health/huren/catalog/memory"
	"github.com/huren-health/huren/dicomweb"
	"github.com/huren-health/huren/ingest"
	"github.com/huren-health/huren/storage"
	"github.com/huren-health/huren/storage/instrumented"
	storeopen "github.com/huren-health/huren/storage/open"
)

// Backends are the opened storage and state of a hub, shared by `serve` and
// the administrative subcommands (reindex, user, token, audit) so they all
// act on the same data.
type Backends struct {
	Store   storage.Store
	Catalog catalog.Catalog
	closers []namedCloser
}

// Close releases the backends.
func (b *Backends) Close() error {
	var first error
	for i := len(b.closers) - 1; i >= 0; i-- {
		if err := b.closers[i].fn(); err != nil && first == nil {
			first = fmt.Errorf("close %s: %w", b.closers[i].name, err)
		}
	}
	return first
}

// OpenBackends opens the object store and state backends named by cfg.
func OpenBackends(ctx context.Context, cfg Config, log *slog.Logger) (*Backends, error) {
	b := &Backends{}
	storeURL := cfg.Storage
	if storeURL == "" {
		storeURL = filepath.Join(cfg.DataDir, "objects")
	}
	store, err := storeopen.Open(ctx, storeURL, log.With("component", "storage"))
	if err != nil {
		return nil, fmt.Errorf("open storage %s: %w", redact(storeURL), err)
	}
	b.Store = store
	b.closers = append(b.closers, namedCloser{"storage", store.Close})

	cat, err := openCatalog(ctx, cfg, log)
	if err != nil {
		b.Close()
		return nil, err
	}
	b.Catalog = cat
	b.closers = append(b.closers, namedCloser{"catalog", cat.Close})
	return b, nil
}

func openCatalog(ctx context.Context, cfg Config, log *slog.Logger) (catalog.Catalog, error) {
	if cfg.Redis == "" {
		return catmemory.New(log.With("component", "catalog")), nil
	}
	return nil, fmt.Errorf("redis catalog: not wired yet")
}

// Open builds a ready-to-serve hub: backends, services, routes. When the
// catalog is in-process (embedded default) it is rebuilt from storage first,
// so a restart loses nothing. Messages for the operator (first-run admin
// password) go to out.
func Open(ctx context.Context, cfg Config, log *slog.Logger, out io.Writer) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: log, reg: newRegistry()}
	s.newEngine()
	b, err := OpenBackends(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	s.onClose("backends", b.Close)
	store := instrumented.Wrap(b.Store, s.reg)
	s.readiness("storage", func(ctx context.Context) error {
		_, err := store.Stat(ctx, "health/probe")
		if err != nil && errorsIsNotFound(err) {
			return nil
		}
		return err
	})

	if cfg.Redis == "" {
		start := time.Now()
		st, err := ingest.Reindex(ctx, b.Store, b.Catalog, log)
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("load catalog from storage: %w", err)
		}
		log.Info("catalog loaded from storage", "stats", fmt.Sprintf("%+v", st), "took", time.Since(start).Round(time.Millisecond))
	}

	ing, err := ingest.New(ingest.Config{
		Store:            store,
		Catalog:          b.Catalog,
		Logger:           log,
		Registerer:       s.reg,
		MaxInstanceBytes: cfg.MaxUploadBytes,
		TempDir:          filepath.Join(cfg.DataDir, "tmp"),
	})
	if err != nil {
		s.Close()
		return nil, err
	}
	s.onClose("ingest", ing.Close)

	dw, err := dicomweb.New(dicomweb.Config{
		Store:        store,
		Catalog:      b.Catalog,
		Ingest:       ing,
		BaseURL:      cfg.PublicURL,
		PathPrefix:   "/dicom-web",
		Logger:       log,
		Registerer:   s.reg,
		MaxBodyBytes: cfg.MaxUploadBytes,
	})
	if err != nil {
		s.Close()
		return nil, err
	}
	group := s.engine.Group("/dicom-web", dicomweb.CORS(cfg.CORSOrigins))
	dw.Register(group)
	_ = gin.IRouter(group)
	return s, nil
}

func errorsIsNotFound(err error) bool { return errors.Is(err, storage.ErrNotFound) }
