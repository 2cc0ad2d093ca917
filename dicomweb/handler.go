package dicomweb

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/huren-health/huren/audit"
	"github.com/huren-health/huren/catalog"
	"github.com/huren-health/huren/httpapi"
	"github.com/huren-health/huren/ingest"
	"github.com/huren-health/huren/storage"
)

// Config configures the DICOMweb handlers.
type Config struct {
	Store   storage.Store
	Catalog catalog.Catalog
	// Ingest stores STOW-RS uploads and serves precomputed metadata.
	Ingest *ingest.Service
	// BaseURL is the absolute external URL of the DICOMweb root
	// (e.g. "https://hub.example.org/dicom-web"), used in RetrieveURL and
	// BulkDataURI. Empty: derived per request from X-Forwarded-Proto /
	// X-Forwarded-Host or the Host header, plus PathPrefix.
	BaseURL string
	// PathPrefix is where the handler's group is mounted (default
	// "/dicom-web"); only used to derive the base URL.
	PathPrefix string
	// Scope returns the sites whose instances the caller may see; nil
	// slice (or a nil Scope) means everything. A study outside the scope
	// is answered 404, exactly like a missing one.
	Scope func(*gin.Context) (sites []string, err error)
	// UploadSite returns the site a STOW upload is recorded for (access
	// scoping); nil records "".
	UploadSite func(*gin.Context) (string, error)
	Logger     *slog.Logger
	// Registerer receives the DICOMweb metrics; nil registers nothing.
	Registerer prometheus.Registerer
	// MaxBodyBytes caps one STOW-RS request body (default 4 GiB); a larger
	// body is refused with 413.
	MaxBodyBytes int64
}

// Handler serves QIDO-RS, WADO-RS and STOW-RS. It is safe for concurrent use.
type Handler struct {
	cfg     Config
	log     *slog.Logger
	metrics *handlerMetrics
}

// New builds the handler. Store, Catalog and Ingest are required.
func New(cfg Config) (*Handler, error) {
	if cfg.Store == nil || cfg.Catalog == nil || cfg.Ingest == nil {
		return nil, errors.New("dicomweb: Config.Store, Catalog and Ingest are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.PathPrefix == "" {
		cfg.PathPrefix = "/dicom-web"
	}
	cfg.PathPrefix = "/" + strings.Trim(cfg.PathPrefix, "/")
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 4 << 30
	}
	m, err := newHandlerMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	return &Handler{cfg: cfg, log: cfg.Logger.With("component", "dicomweb"), metrics: m}, nil
}

// Register mounts the routes on r, which the caller mounts at PathPrefix
// (e.g. engine.Group("/dicom-web")). /frames, /rendered and /thumbnail
// belong to package pixels and use the same parameter names.
func (h *Handler) Register(r gin.IRouter) {
	w := func(f func(*gin.Context) (any, error)) gin.HandlerFunc { return httpapi.Wrap(h.log, f) }
	// STOW-RS
	r.POST("/studies", w(h.stow))
	r.POST("/studies/:study", w(h.stow))
	// QIDO-RS
	r.GET("/studies", w(h.searchStudies))
	r.GET("/series", w(h.searchSeries))
	r.GET("/instances", w(h.searchInstances))
	r.GET("/studies/:study/series", w(h.searchSeries))
	r.GET("/studies/:study/instances", w(h.searchInstances))
	r.GET("/studies/:study/series/:series/instances", w(h.searchInstances))
	// WADO-RS
	r.GET("/studies/:study", w(h.retrieve))
	r.GET("/studies/:study/series/:series", w(h.retrieve))
	r.GET("/studies/:study/series/:series/instances/:instance", w(h.retrieve))
	r.GET("/studies/:study/metadata", w(h.metadata))
	r.GET("/studies/:study/series/:series/metadata", w(h.metadata))
	r.GET("/studies/:study/series/:series/instances/:instance/metadata", w(h.metadata))
	r.GET("/studies/:study/series/:series/instances/:instance/bulk/*tagpath", w(h.bulk))
}

// base returns the absolute DICOMweb root URL for this request.
func (h *Handler) base(c *gin.Context) string {
	if h.cfg.BaseURL != "" {
		return h.cfg.BaseURL
	}
	proto := "http"
	if c.Request.TLS != nil {
		proto = "https"
	}
	if p := firstToken(c.GetHeader("X-Forwarded-Proto")); p == "http" || p == "https" {
		proto = p
	}
	host := c.Request.Host
	if fh := firstToken(c.GetHeader("X-Forwarded-Host")); fh != "" && validHost(fh) {
		host = fh
	}
	return proto + "://" + host + h.cfg.PathPrefix
}

func firstToken(s string) string {
	if i := strings.IndexByte(s, ','); i >= 0 {
		s = s[:i]
	}
	return strings.TrimSpace(strings.ToLower(s))
}

// validHost keeps hostile header values out of URLs we hand back.
func validHost(h string) bool {
	if h == "" || len(h) > 255 {
		return false
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte(".-:[]_", c) >= 0) {
			return false
		}
	}
	return true
}

// scope returns the caller's visible sites (nil = all).
func (h *Handler) scope(c *gin.Context) ([]string, error) {
	if h.cfg.Scope == nil {
		return nil, nil
	}
	sites, err := h.cfg.Scope(c)
	if err != nil {
		return nil, err
	}
	if sites == nil {
		return nil, nil
	}
	return sites, nil
}

// visible filters recs to the caller's sites.
func visible(recs []catalog.Record, sites []string) []catalog.Record {
	if sites == nil {
		return recs
	}
	ok := make(map[string]bool, len(sites))
	for _, s := range sites {
		ok[s] = true
	}
	out := recs[:0:0]
	for _, r := range recs {
		if ok[r.Site] {
			out = append(out, r)
		}
	}
	return out
}

// validParam checks a UID path parameter.
func validParam(name, v string) error {
	if !ingest.ValidUID(v) {
		return fmt.Errorf("%w: %s %q is not a valid UID", ErrBadRequest, name, v)
	}
	return nil
}

// records resolves the study/series/instance named by the path to the
// visible catalog records, 404 when none.
func (h *Handler) records(c *gin.Context) ([]catalog.Record, error) {
	study, series, inst := c.Param("study"), c.Param("series"), c.Param("instance")
	if err := validParam("study", study); err != nil {
		return nil, err
	}
	if series != "" {
		if err := validParam("series", series); err != nil {
			return nil, err
		}
	}
	sites, err := h.scope(c)
	if err != nil {
		return nil, err
	}
	ctx := c.Request.Context()
	if inst != "" {
		if err := validParam("instance", inst); err != nil {
			return nil, err
		}
		rec, err := h.cfg.Catalog.Instance(ctx, inst)
		if errors.Is(err, catalog.ErrNotFound) {
			return nil, fmt.Errorf("%w: instance %s", ErrNotFound, inst)
		}
		if err != nil {
			return nil, fmt.Errorf("catalog instance %s: %w", inst, err)
		}
		if rec.StudyUID != study || rec.SeriesUID != series {
			return nil, fmt.Errorf("%w: instance %s in series %s of study %s", ErrNotFound, inst, series, study)
		}
		recs := visible([]catalog.Record{rec}, sites)
		if len(recs) == 0 {
			return nil, fmt.Errorf("%w: instance %s", ErrNotFound, inst)
		}
		auditRead(c, recs)
		return recs, nil
	}
	recs, err := catalog.InstanceKeys(ctx, h.cfg.Catalog, study, series)
	if errors.Is(err, catalog.ErrNotFound) {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, what(study, series))
	}
	if err != nil {
		return nil, fmt.Errorf("catalog instances %s: %w", what(study, series), err)
	}
	recs = visible(recs, sites)
	if len(recs) == 0 {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, what(study, series))
	}
	auditRead(c, recs)
	return recs, nil
}

// auditRead names the patient and study a read concerns on the request's
// audit record, so the trail can be searched by patient ("who looked at
// P001's images?"). Only visible records reach here.
func auditRead(c *gin.Context, recs []catalog.Record) {
	audit.SetPatient(c, recs[0].Attrs.String("00100020"))
	audit.SetResource(c, "study:"+recs[0].StudyUID)
}

func what(study, series string) string {
	if series == "" {
		return "study " + study
	}
	return "series " + series + " of study " + study
}

// lazyWriter buffers the start of a streamed response so that an error
// before the first flush can still become a proper error status (e.g. 503
// when storage is down); after that, an error aborts the connection so the
// client sees an incomplete response, never a truncated one that looks whole.
type lazyWriter struct {
	c           *gin.Context
	status      int
	contentType string
	buf         bytes.Buffer
	started     bool
}

const lazyLimit = 64 << 10

func (l *lazyWriter) Write(p []byte) (int, error) {
	if l.started {
		return l.c.Writer.Write(p)
	}
	l.buf.Write(p)
	if l.buf.Len() >= lazyLimit {
		if err := l.start(); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

func (l *lazyWriter) start() error {
	l.started = true
	l.c.Header("Content-Type", l.contentType)
	l.c.Status(l.status)
	_, err := l.c.Writer.Write(l.buf.Bytes())
	l.buf.Reset()
	return err
}

// finish flushes what is buffered (sets Content-Length when everything fit).
func (l *lazyWriter) finish() error {
	if !l.started {
		l.c.Header("Content-Length", fmt.Sprint(l.buf.Len()))
	}
	if err := l.start(); err != nil {
		return err
	}
	return nil
}

// fail handles a streaming error: before the first byte it is returned for
// the usual error response; afterwards the connection is aborted.
func (l *lazyWriter) fail(err error, log *slog.Logger) error {
	if !l.started {
		return err
	}
	log.Error("response aborted mid-stream", "path", l.c.Request.URL.Path, "request_id", httpapi.RequestID(l.c), "err", err)
	panic(http.ErrAbortHandler)
}
