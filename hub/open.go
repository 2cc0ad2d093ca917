package hub

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	goredis "github.com/redis/go-redis/v9"

	"github.com/huren-health/huren/audit"
	"github.com/huren-health/huren/auth"
	authcli "github.com/huren-health/huren/auth/cli"
	authmemory "github.com/huren-health/huren/auth/memory"
	authredis "github.com/huren-health/huren/auth/redis"
	authweb "github.com/huren-health/huren/auth/web"
	"github.com/huren-health/huren/catalog"
	catredis "github.com/huren-health/huren/catalog/redis"
	"github.com/huren-health/huren/dicomweb"
	"github.com/huren-health/huren/ecg/analysis"
	ecgweb "github.com/huren-health/huren/ecg/web"
	"github.com/huren-health/huren/ingest"
	"github.com/huren-health/huren/pixels/codec"
	pixelweb "github.com/huren-health/huren/pixels/web"
	"github.com/huren-health/huren/storage"
	"github.com/huren-health/huren/storage/deadline"
	"github.com/huren-health/huren/storage/instrumented"
	storeopen "github.com/huren-health/huren/storage/open"
	"github.com/huren-health/huren/worklist"
	wlapi "github.com/huren-health/huren/worklist/api"
	wlopen "github.com/huren-health/huren/worklist/open"
)

// Backends are the opened storage and state of a hub, shared by `serve` and
// the administrative subcommands (reindex, user, token, audit) so they all
// act on the same data.
type Backends struct {
	Store   storage.Store
	Catalog catalog.Catalog
	// Redis is the shared client when cfg.Redis is set (nil on the
	// embedded default). Each component keys under its own prefix.
	Redis goredis.UniversalClient
	// AuthState holds sessions and lockout counters (memory or Redis).
	AuthState auth.State
	closers   []namedCloser
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
	// Every user of the store — ingest, WADO, audit, accounts, the worklist
	// outbox, reindex — gets calls that fail as unavailable instead of
	// hanging when the backend stops answering.
	b.Store = deadline.Wrap(store, cfg.StorageTimeout.Duration)
	b.closers = append(b.closers, namedCloser{"storage", store.Close})

	if cfg.Redis == "" {
		if b.Catalog, err = openEmbeddedCatalog(cfg, log); err != nil {
			b.Close()
			return nil, err
		}
	} else {
		opts, err := goredis.ParseURL(cfg.Redis)
		if err != nil {
			b.Close()
			return nil, fmt.Errorf("redis URL %s: %w", redact(cfg.Redis), err)
		}
		rdb := goredis.NewClient(opts)
		b.closers = append(b.closers, namedCloser{"redis", rdb.Close})
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err = rdb.Ping(pctx).Err()
		cancel()
		if err != nil {
			b.Close()
			return nil, fmt.Errorf("connect to redis %s: %w (is it running? check --redis / HUREN_REDIS)", redact(cfg.Redis), err)
		}
		b.Redis = rdb
		b.Catalog = catredis.New(rdb, RedisPrefix+"cat:", log.With("component", "catalog"))
		b.AuthState = authredis.New(rdb, RedisPrefix+"auth:")
	}
	if b.AuthState == nil {
		b.AuthState = authmemory.New()
	}
	b.closers = append(b.closers, namedCloser{"catalog", b.Catalog.Close})
	return b, nil
}

// DefaultReadingGroup receives every task no routing rule claims.
const DefaultReadingGroup = "county-reading"

// RedisPrefix starts every key Huren writes to Redis, so one Redis can be
// shared with other applications and `reindex` knows what is ours.
const RedisPrefix = "huren:"

// Open builds a ready-to-serve hub: backends, services, routes. When the
// catalog is in-process (embedded default) it is brought up to date from
// storage first (see loadEmbeddedCatalog), so a restart loses nothing.
// Messages for the operator (first-run admin password) go to out.
func Open(ctx context.Context, cfg Config, log *slog.Logger, out io.Writer) (*Server, error) {
	return open(ctx, cfg, log, out, openOptions{})
}

// openOptions are knobs for tests only (never configuration).
type openOptions struct {
	// argon2 lowers the password hashing cost so tests that log in many
	// times stay fast.
	argon2 auth.Argon2Params
}

func open(ctx context.Context, cfg Config, log *slog.Logger, out io.Writer, opts openOptions) (*Server, error) {
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
		if errors.Is(err, storage.ErrNotFound) { // the probe key need not exist: reaching the store is what counts
			return nil
		}
		return err
	})

	if b.Redis != nil {
		rdb := b.Redis
		s.readiness("redis", func(ctx context.Context) error { return rdb.Ping(ctx).Err() })
	}
	if cfg.Redis == "" {
		if err := loadEmbeddedCatalog(ctx, b.Catalog, b.Store, log); err != nil {
			s.Close()
			return nil, err
		}
	}

	// The audit trail is opened before the services that record into it, so
	// it is closed (and flushed) after them.
	trail, err := audit.New(b.Store, audit.Config{Node: audit.SanitizeNode(cfg.Node)}, log, s.reg)
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("audit trail: %w", err)
	}
	if err := trail.Start(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("start audit trail: %w", err)
	}
	s.onClose("audit", trail.Close)
	svc := auth.New(b.Store, b.AuthState, auth.Config{Argon2: opts.argon2, Audit: trail, SecureCookies: strings.HasPrefix(cfg.PublicURL, "https://")}, log)
	if err := svc.Start(ctx, true); err != nil {
		s.Close()
		return nil, fmt.Errorf("start accounts: %w", err)
	}
	s.onClose("auth", svc.Close)
	s.auth = svc
	state := b.AuthState
	s.readiness("state", state.Ping)
	if err := authcli.BootstrapIfNeeded(ctx, svc, out); err != nil {
		s.Close()
		return nil, fmt.Errorf("first-run bootstrap: %w", err)
	}
	if cfg.Demo {
		if err := setupDemo(ctx, svc, out); err != nil {
			s.Close()
			return nil, err
		}
	}
	s.engine.Use(audit.Middleware(trail, svc.AuditWho, audit.MiddlewareOptions{Log: log}))
	authweb.New(authweb.Deps{Service: svc, Trail: b.Store, Flusher: trail, Log: log}).Register(s.engine)
	uploadSite := func(c *gin.Context) (string, error) { return svc.UploadSite(c, c.Query("site")) }

	// Worklist: queue, routing rules, the tracker that turns stored
	// instances into reading tasks, and the escalator.
	wlCfg := wlopen.Config{Backend: "memory", Queue: worklist.Config{Store: worklistStore(b.Store, b.Catalog), Logger: log, Registerer: s.reg}}
	if cfg.Redis != "" {
		wlCfg.Backend, wlCfg.RedisURL, wlCfg.Prefix = "redis", cfg.Redis, RedisPrefix+"worklist"
	}
	queue, err := wlopen.Open(ctx, wlCfg)
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("open worklist: %w", err)
	}
	s.onClose("worklist", queue.Close)
	if cfg.Redis == "" {
		wlStart := time.Now()
		n, err := loadEmbeddedWorklist(ctx, queue, b.Store, b.Catalog, log)
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("load worklist from storage: %w", err)
		}
		log.Info("worklist loaded", "tasks", n, "took", time.Since(wlStart).Round(time.Millisecond))
	}
	router, err := worklist.OpenRouter(cfg.RoutingRules, DefaultReadingGroup, log)
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("routing rules: %w", err)
	}
	tracker := worklist.NewTracker(worklist.TrackerConfig{Queue: queue, Router: router, Quiet: cfg.QuietPeriod.Duration, Catalog: b.Catalog, Logger: log})
	s.onClose("worklist tracker", func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return tracker.Close(ctx)
	})
	// Background work that lives as long as the server; startRecovery's
	// closer cancels it.
	bg, stopBG := context.WithCancel(context.WithoutCancel(ctx))
	var derived *derivedState
	if b.Redis != nil {
		derived = &derivedState{rdb: b.Redis, store: b.Store, cat: b.Catalog, queue: queue, node: cfg.Node, log: log, ctx: bg,
			after: func(ctx context.Context) {
				if _, err := tracker.Recover(ctx); err != nil {
					log.Error("worklist recovery after rebuild failed", "err", err)
				}
			}}
		s.readiness("derived_state", derived.ready)
	}
	// Registered after the tracker's closer, so it stops first.
	s.startRecovery(bg, stopBG, tracker, derived)
	escCtx, stopEscalator := context.WithCancel(context.WithoutCancel(ctx))
	go worklist.NewEscalator(worklist.EscalatorConfig{Queue: queue, Logger: log}).Run(escCtx)
	s.onClose("worklist escalator", func() error { stopEscalator(); return nil })
	s.sighup = router.Reload

	ing, err := ingest.New(ingest.Config{
		Store:            ingestStore(store, b.Catalog),
		Catalog:          b.Catalog,
		Logger:           log,
		Registerer:       s.reg,
		MaxInstanceBytes: cfg.MaxUploadBytes,
		TempDir:          filepath.Join(cfg.DataDir, "tmp"),
		OnStored: func(ctx context.Context, rec catalog.Record) {
			if err := tracker.OnStored(ctx, rec); err != nil {
				log.Error("worklist: could not track stored instance", "study", rec.StudyUID, "err", err)
			}
		},
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
		Scope:        svc.Scope,
		UploadSite:   uploadSite,
	})
	if err != nil {
		s.Close()
		return nil, err
	}
	px, err := pixelweb.New(pixelweb.Config{
		Store:      store,
		Locator:    b.Catalog,
		Registry:   codec.Registry(),
		Scope:      svc.Scope,
		Logger:     log,
		Registerer: s.reg,
	})
	if err != nil {
		s.Close()
		return nil, err
	}
	group := s.engine.Group("/dicom-web", svc.Authenticate())
	dw.Register(group)
	px.Register(group)

	ecgh, err := ecgweb.New(store, ecgweb.Config{MaxBytes: 64 << 20, UploadSite: uploadSite, Scope: svc.Scope}, log, s.reg)
	if err != nil {
		s.Close()
		return nil, err
	}
	// Every analysed ECG becomes a reading task; one with a critical flag
	// (suspected STEMI, extreme rate, long pause…) jumps its queue.
	ecgh.OnAnalyzedAt = func(ctx context.Context, a *analysis.Analysis, id, site string) error {
		_, err := tracker.SubmitECG(ctx, ecgTask(a, id, site))
		return err
	}
	api := s.engine.Group("/api", svc.Authenticate())
	ecgh.Register(api)
	wlapi.New(wlapi.Config{Queue: queue, Tracker: tracker, Router: router, Identity: svc.Identity, Logger: log,
		// Study completion and ECG submission are uploads: allowed to
		// whoever may upload for the study's (the ECG's) site.
		Authorize: func(c *gin.Context, _ string, site string) error {
			r := auth.Any
			if site != "" {
				r = auth.Resource{Site: site}
			}
			return svc.Check(c, auth.StudyUpload, r)
		},
		// A study belongs to the site that created it (ingest records it),
		// so only that site may signal it complete.
		StudySites: func(ctx context.Context, study string) ([]string, error) {
			site, ok, err := ing.StudyOwner(ctx, study)
			if err != nil {
				return nil, err
			}
			if !ok {
				return nil, fmt.Errorf("study %s: %w", study, catalog.ErrNotFound)
			}
			return []string{site}, nil
		},
		Who: func(c *gin.Context) string {
			user, _, _ := svc.AuditWho(c)
			return user
		},
		// A retried ECG task is built from the stored ECG alone.
		ECG: func(ctx context.Context, id string) (worklist.ECG, error) {
			site, a, err := ecgh.Stored(ctx, id)
			if err != nil {
				return worklist.ECG{}, err
			}
			return ecgTask(a, id, site), nil
		}}).
		Register(api.Group("/worklist"))
	return s, nil
}

// ecgTask describes the reading task of a stored ECG: every analysed ECG
// becomes one, and one with a critical flag (suspected STEMI, extreme
// rate, long pause…) jumps its queue.
func ecgTask(a *analysis.Analysis, id, site string) worklist.ECG {
	prio := worklist.Routine
	if a.Critical {
		prio = worklist.Critical
	}
	return worklist.ECG{ID: id, Site: site, PatientID: a.Patient.ID, PatientName: a.Patient.Name,
		ExamType: "12-lead ECG", Priority: prio}
}
