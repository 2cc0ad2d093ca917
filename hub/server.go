// Package hub assembles a Huren server from its parts: it opens the storage
// and state backends named by a Config, builds the services (ingest,
// catalog, worklist, ECG, accounts, audit), mounts their HTTP handlers on one
// gin engine with the shared middleware, and runs it with graceful shutdown.
// It holds wiring only; every behaviour lives in the packages it wires.
package hub

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/huren-health/huren/auth"
	"github.com/huren-health/huren/dicomweb"
	"github.com/huren-health/huren/httpapi"
)

// Server is one running hub replica.
type Server struct {
	cfg    Config
	log    *slog.Logger
	reg    *prometheus.Registry
	engine *gin.Engine

	// auth is the accounts service (exposed to tests for fixtures).
	auth *auth.Service

	// sighup reloads what can change without a restart (routing rules).
	sighup func() error

	mu      sync.Mutex
	closers []namedCloser // closed in reverse order
	checks  []readyCheck
	closed  bool
}

type namedCloser struct {
	name string
	fn   func() error
}

type readyCheck struct {
	name string
	fn   func(context.Context) error
}

// NewLogger builds the process logger from the config.
func NewLogger(cfg Config, w *os.File) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func (s *Server) onClose(name string, fn func() error) {
	s.closers = append(s.closers, namedCloser{name, fn})
}

func (s *Server) readiness(name string, fn func(context.Context) error) {
	s.checks = append(s.checks, readyCheck{name, fn})
}

// Auth returns the accounts service (test fixtures, admin tooling).
func (s *Server) Auth() *auth.Service { return s.auth }

// Handler is the server's HTTP handler (for tests with httptest).
func (s *Server) Handler() http.Handler { return s.engine }

// Engine exposes the gin engine (route enumeration in tests).
func (s *Server) Engine() *gin.Engine { return s.engine }

// newEngine builds the gin engine with the middleware every route shares and
// the operational endpoints.
func (s *Server) newEngine() {
	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	e.HandleMethodNotAllowed = true
	e.ContextWithFallback = true
	// Trust no proxy headers by default: login lockout is keyed by client
	// address, which X-Forwarded-For must not be able to forge.
	_ = e.SetTrustedProxies(nil)
	m := newHTTPMetrics(s.reg)
	// CORS is engine-wide and first: gin runs group middleware only for
	// matched routes, and browser preflights (OPTIONS) and 404s must carry
	// the headers too, or a viewer on another origin sees opaque failures.
	e.Use(dicomweb.CORS(s.cfg.CORSOrigins), httpapi.RequestIDs(), observe(m, s.log), recoverPanics(s.log),
		minBodyRate(s.cfg.MinUploadRate, s.cfg.UploadRateWindow.Duration))
	e.NoRoute(func(c *gin.Context) {
		c.AbortWithStatusJSON(http.StatusNotFound, httpapi.ErrorBody{
			Error: "no such endpoint: " + c.Request.Method + " " + c.Request.URL.Path, Status: http.StatusNotFound, RequestID: httpapi.RequestID(c)})
	})
	e.NoMethod(func(c *gin.Context) {
		c.AbortWithStatusJSON(http.StatusMethodNotAllowed, httpapi.ErrorBody{
			Error: "method " + c.Request.Method + " not allowed on " + c.Request.URL.Path, Status: http.StatusMethodNotAllowed, RequestID: httpapi.RequestID(c)})
	})
	e.GET("/healthz", func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"status": "ok"}) })
	e.GET("/readyz", s.handleReady)
	e.GET("/metrics", gin.WrapH(promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{Registry: s.reg})))
	s.engine = e
}

// handleReady runs every backend check with a short deadline: 200 when all
// pass, 503 naming the failing backends otherwise (load balancers take the
// replica out of rotation while Redis or MinIO is unreachable).
func (s *Server) handleReady(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), 2*time.Second)
	defer cancel()
	result := gin.H{}
	ok := true
	for _, chk := range s.checks {
		if err := chk.fn(ctx); err != nil {
			ok = false
			result[chk.name] = err.Error()
		} else {
			result[chk.name] = "ok"
		}
	}
	if !ok {
		c.Header("Retry-After", "5")
		c.JSON(http.StatusServiceUnavailable, gin.H{"status": "unavailable", "checks": result})
		return
	}
	c.JSON(http.StatusOK, gin.H{"status": "ready", "checks": result})
}

// Serve answers HTTP on ln until ctx is cancelled, then shuts down
// gracefully: it stops accepting, lets in-flight requests (uploads) finish
// within the shutdown timeout, and closes the backends (flushing audit).
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s.engine,
		ReadHeaderTimeout: 10 * time.Second,
		// Keep-alive connections idle longer than this are closed; bodies
		// are bounded by minBodyRate (a whole-request ReadTimeout would cut
		// legitimate multi-GB uploads).
		IdleTimeout:    s.cfg.IdleTimeout.Duration,
		MaxHeaderBytes: 64 << 10,
		ErrorLog:       slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		BaseContext:    func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	s.log.Info("huren serving", "addr", ln.Addr().String())
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
wait:
	for {
		select {
		case err := <-errc:
			return errors.Join(err, s.Close())
		case <-hup:
			if s.sighup != nil {
				if err := s.sighup(); err != nil {
					s.log.Error("reload on SIGHUP failed; keeping the previous configuration", "err", err)
				} else {
					s.log.Info("reloaded routing rules on SIGHUP")
				}
			}
		case <-ctx.Done():
			break wait
		}
	}
	s.log.Info("shutting down: finishing in-flight requests", "timeout", s.cfg.ShutdownTimeout.Duration)
	sctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout.Duration)
	defer cancel()
	err := srv.Shutdown(sctx)
	if err != nil {
		err = fmt.Errorf("graceful shutdown: %w", err)
	}
	return errors.Join(err, s.Close())
}

// Close releases every backend in reverse order of opening. Safe to call twice.
func (s *Server) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	var errs []error
	for i := len(s.closers) - 1; i >= 0; i-- {
		if err := s.closers[i].fn(); err != nil {
			errs = append(errs, fmt.Errorf("close %s: %w", s.closers[i].name, err))
		}
	}
	return errors.Join(errs...)
}

func newRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// redact hides credentials in a backend URL for logs.
func redact(u string) string {
	if i := strings.Index(u, "@"); i >= 0 {
		if j := strings.Index(u, "://"); j >= 0 && j < i {
			return u[:j+3] + "***" + u[i:]
		}
	}
	return u
}
