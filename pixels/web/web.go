// Package web serves the pixel side of DICOMweb (PS3.18): WADO-RS frames
// (original transfer syntax or decoded little endian, multipart/related),
// rendered images at study, series, instance and frame level, and
// thumbnails, as image/jpeg or image/png.
//
// It reads originals through storage.Reader and finds them through a
// Locator (catalog.Catalog satisfies it). Parsed instances, decoded frames
// and rendered images are kept in a byte-bounded LRU keyed by the
// instance's SHA-256, so a cached entry can never describe other bytes.
// A native grey frame that is not already parsed in the cache is rendered
// while it is read from storage (pixels.ParseHeader on the first bytes,
// then render.GreyStream over the frame's rows): a large radiograph is
// never held whole, and only the rendered image is cached.
// A Handler is safe for concurrent use.
package web

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/huren-health/huren/catalog"
	"github.com/huren-health/huren/errkind"
	"github.com/huren-health/huren/httpapi"
	"github.com/huren-health/huren/pixels"
	"github.com/huren-health/huren/pixels/cache"
	"github.com/huren-health/huren/pixels/codec"
	"github.com/huren-health/huren/pixels/render"
	"github.com/huren-health/huren/storage"
)

var (
	// ErrNotAcceptable: the Accept header asks for a representation this
	// server cannot produce (e.g. decoded frames of a syntax it cannot
	// decode); the message names the transfer syntax.
	ErrNotAcceptable = errkind.New(errkind.NotAcceptable, "pixels/web: requested representation not available")
	// ErrBadRequest: malformed frame list or rendering parameters.
	ErrBadRequest = errkind.New(errkind.Invalid, "pixels/web: bad request")
	// ErrNotFound: no such instance/series/study in the caller's scope.
	ErrNotFound = errkind.New(errkind.NotFound, "pixels/web: not found")
	// ErrTooLarge: the stored object is larger than Config.MaxObjectBytes.
	ErrTooLarge = errkind.New(errkind.TooLarge, "pixels/web: object too large to decode")
)

// Locator finds instance records. catalog.Catalog satisfies it.
type Locator interface {
	Instance(ctx context.Context, instanceUID string) (catalog.Record, error)
	Instances(ctx context.Context, studyUID, seriesUID string) ([]catalog.Record, error)
}

// Config configures a Handler.
type Config struct {
	Store   storage.Reader
	Locator Locator
	// Scope returns the sites the caller may see; a nil slice (or nil
	// Scope) means all. Records of other sites answer 404.
	Scope func(*gin.Context) ([]string, error)
	// CacheBytes is the LRU budget for parsed instances, decoded frames
	// and rendered images (default 512 MiB; negative disables caching).
	CacheBytes int64
	// Registry maps transfer syntaxes to decoders (default codec.Registry()).
	Registry pixels.Registry
	// Limits bound decoding (see pixels.Limits).
	Limits pixels.Limits
	// MaxObjectBytes caps an original read into memory (default 2 GiB).
	MaxObjectBytes int64
	// MaxStudyRendered caps the parts of a study/series-level rendered
	// response (default 500).
	MaxStudyRendered int
	Logger           *slog.Logger
	// Registerer receives metrics; nil registers nothing.
	Registerer prometheus.Registerer
}

// Handler serves frames, rendered and thumbnail resources.
type Handler struct {
	cfg     Config
	log     *slog.Logger
	cache   *cache.Cache
	metrics *metrics
}

// New builds a Handler. Store and Locator are required. It does no I/O.
func New(cfg Config) (*Handler, error) {
	if cfg.Store == nil || cfg.Locator == nil {
		return nil, errors.New("pixels/web: Config.Store and Config.Locator are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.CacheBytes == 0 {
		cfg.CacheBytes = 512 << 20
	}
	if cfg.Registry == nil {
		cfg.Registry = codec.Registry()
	}
	if cfg.MaxObjectBytes <= 0 {
		cfg.MaxObjectBytes = 2 << 30
	}
	if cfg.MaxStudyRendered <= 0 {
		cfg.MaxStudyRendered = 500
	}
	c := cache.New(cfg.CacheBytes)
	m, err := newMetrics(cfg.Registerer, c)
	if err != nil {
		return nil, err
	}
	return &Handler{cfg: cfg, log: cfg.Logger.With("component", "pixels.web"), cache: c, metrics: m}, nil
}

// Register mounts the routes on r (the /dicom-web group).
func (h *Handler) Register(r gin.IRouter) {
	w := func(f func(*gin.Context) (any, error)) gin.HandlerFunc { return httpapi.Wrap(h.log, f) }
	const inst = "/studies/:study/series/:series/instances/:instance"
	r.GET(inst+"/frames/:frames", w(h.frames))
	r.GET(inst+"/frames/:frames/rendered", w(h.rendered))
	r.GET(inst+"/frames/:frames/thumbnail", w(h.thumbnail))
	r.GET(inst+"/rendered", w(h.rendered))
	r.GET(inst+"/thumbnail", w(h.thumbnail))
	r.GET("/studies/:study/series/:series/rendered", w(h.rendered))
	r.GET("/studies/:study/series/:series/thumbnail", w(h.thumbnail))
	r.GET("/studies/:study/rendered", w(h.rendered))
	r.GET("/studies/:study/thumbnail", w(h.thumbnail))
}

// loaded is a parsed instance held in the cache.
type loaded struct {
	rec catalog.Record
	img *pixels.Image
}

func (h *Handler) scope(c *gin.Context) (map[string]bool, error) {
	if h.cfg.Scope == nil {
		return nil, nil
	}
	sites, err := h.cfg.Scope(c)
	if err != nil || sites == nil {
		return nil, err
	}
	ok := make(map[string]bool, len(sites))
	for _, s := range sites {
		ok[s] = true
	}
	return ok, nil
}

// record finds the instance addressed by the URL, in scope.
func (h *Handler) record(c *gin.Context) (catalog.Record, error) {
	sc, err := h.scope(c)
	if err != nil {
		return catalog.Record{}, err
	}
	uid := c.Param("instance")
	rec, err := h.cfg.Locator.Instance(c.Request.Context(), uid)
	if err != nil {
		if errors.Is(err, catalog.ErrNotFound) {
			return rec, fmt.Errorf("instance %s: %w", uid, ErrNotFound)
		}
		return rec, fmt.Errorf("locate instance %s: %w", uid, err)
	}
	if rec.StudyUID != c.Param("study") || rec.SeriesUID != c.Param("series") || (sc != nil && !sc[rec.Site]) {
		return rec, fmt.Errorf("instance %s: %w", uid, ErrNotFound)
	}
	return rec, nil
}

// records lists the instances of the study/series in the URL, in scope.
func (h *Handler) records(c *gin.Context) ([]catalog.Record, error) {
	sc, err := h.scope(c)
	if err != nil {
		return nil, err
	}
	recs, err := h.cfg.Locator.Instances(c.Request.Context(), c.Param("study"), c.Param("series"))
	if err != nil {
		if errors.Is(err, catalog.ErrNotFound) {
			return nil, fmt.Errorf("study %s series %s: %w", c.Param("study"), c.Param("series"), ErrNotFound)
		}
		return nil, err
	}
	if sc != nil {
		recs = slices.DeleteFunc(recs, func(r catalog.Record) bool { return !sc[r.Site] })
	}
	if len(recs) == 0 {
		return nil, fmt.Errorf("study %s series %s: %w", c.Param("study"), c.Param("series"), ErrNotFound)
	}
	return recs, nil
}

func contentKey(rec catalog.Record) string {
	if rec.SHA256 != "" {
		return rec.SHA256
	}
	// No digest recorded: fall back to key + size + arrival, which still
	// changes whenever the object is replaced.
	return fmt.Sprintf("%s|%d|%d", rec.ObjectKey, rec.Size, rec.ReceivedAt.UnixNano())
}

// load reads and parses an instance (cached).
func (h *Handler) load(ctx context.Context, rec catalog.Record) (*loaded, error) {
	v, err := h.cache.Do("i:"+contentKey(rec), func() (any, int64, error) {
		start := time.Now()
		b, err := h.read(ctx, rec)
		if err != nil {
			return nil, 0, err
		}
		img, err := pixels.Parse(b, h.cfg.Limits)
		if err != nil {
			return nil, 0, fmt.Errorf("instance %s: %w", rec.InstanceUID, err)
		}
		h.metrics.observe("parse", start)
		return &loaded{rec: rec, img: img}, int64(len(b)) + 4096, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*loaded), nil
}

// read reads a stored original into memory, bounded by MaxObjectBytes and
// by the recorded size.
func (h *Handler) read(ctx context.Context, rec catalog.Record) ([]byte, error) {
	rc, info, err := h.cfg.Store.Get(ctx, rec.ObjectKey)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", rec.ObjectKey, err)
	}
	defer rc.Close()
	size := info.Size
	if size <= 0 {
		size = rec.Size
	}
	if size > h.cfg.MaxObjectBytes {
		return nil, fmt.Errorf("object %s of %d bytes over %d: %w", rec.ObjectKey, size, h.cfg.MaxObjectBytes, ErrTooLarge)
	}
	if size <= 0 {
		size = 1 << 20
	}
	buf := make([]byte, 0, size)
	lr := io.LimitReader(rc, h.cfg.MaxObjectBytes+1)
	for {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, len(buf))
		}
		n, err := lr.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", rec.ObjectKey, err)
		}
		if int64(len(buf)) > h.cfg.MaxObjectBytes {
			return nil, fmt.Errorf("object %s over %d bytes: %w", rec.ObjectKey, h.cfg.MaxObjectBytes, ErrTooLarge)
		}
	}
	return buf, nil
}

// frame decodes 1-based frame n (cached).
func (h *Handler) frame(l *loaded, n int) (*pixels.Frame, error) {
	v, err := h.cache.Do(fmt.Sprintf("f:%s:%d", contentKey(l.rec), n), func() (any, int64, error) {
		start := time.Now()
		f, err := l.img.DecodeFrame(n, h.cfg.Registry)
		if err != nil {
			return nil, 0, err
		}
		h.metrics.observe("decode", start)
		return f, f.Size(), nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*pixels.Frame), nil
}

// MaxFrameList bounds the numbers in one frame list; more is a 400.
const MaxFrameList = 4096

// parseFrames parses a frame list "1,3,5" against the frame count. A frame
// named twice is sent once: "1,1,1,…" must not multiply one frame into a
// gigabyte answer, so an answer is never larger than the instance's pixel
// data.
func parseFrames(s string, count int) ([]int, error) {
	if n := strings.Count(s, ",") + 1; n > MaxFrameList {
		return nil, fmt.Errorf("%d frames requested, at most %d per request: %w", n, MaxFrameList, ErrBadRequest)
	}
	parts := strings.Split(s, ",")
	out := make([]int, 0, min(len(parts), count))
	seen := make(map[int]bool, min(len(parts), count))
	for _, p := range parts {
		n, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("frame number %q: %w", p, ErrBadRequest)
		}
		if n > count {
			return nil, fmt.Errorf("frame %d of %d: %w", n, count, pixels.ErrFrameRange)
		}
		if seen[n] {
			continue
		}
		seen[n] = true
		out = append(out, n)
	}
	return out, nil
}

// renderParams reads window, viewport, quality and the media type.
func renderParams(c *gin.Context, thumb bool) (render.Params, error) {
	var p render.Params
	if w := c.Query("window"); w != "" {
		parts := strings.Split(w, ",")
		if len(parts) < 2 || len(parts) > 3 {
			return p, fmt.Errorf("window=%q, want center,width[,function]: %w", w, ErrBadRequest)
		}
		cen, err1 := strconv.ParseFloat(strings.TrimSpace(parts[0]), 64)
		wid, err2 := strconv.ParseFloat(strings.TrimSpace(parts[1]), 64)
		if err1 != nil || err2 != nil || math.IsNaN(cen) || math.IsNaN(wid) {
			return p, fmt.Errorf("window=%q: %w", w, ErrBadRequest)
		}
		p.Window = &pixels.Window{Center: cen, Width: wid}
		if len(parts) == 3 {
			p.Function = strings.ReplaceAll(strings.ToUpper(strings.TrimSpace(parts[2])), "-", "_")
		}
	}
	if v := c.Query("viewport"); v != "" {
		parts := strings.Split(v, ",")
		if len(parts) != 2 && len(parts) != 6 {
			return p, fmt.Errorf("viewport=%q, want vw,vh: %w", v, ErrBadRequest)
		}
		vw, err1 := strconv.Atoi(strings.TrimSpace(parts[0]))
		vh, err2 := strconv.Atoi(strings.TrimSpace(parts[1]))
		if err1 != nil || err2 != nil {
			return p, fmt.Errorf("viewport=%q: %w", v, ErrBadRequest)
		}
		p.Width, p.Height = vw, vh
	} else if thumb {
		p.Width, p.Height = 128, 128
	}
	if q := c.Query("quality"); q != "" {
		n, err := strconv.Atoi(q)
		if err != nil {
			return p, fmt.Errorf("quality=%q: %w", q, ErrBadRequest)
		}
		p.Quality = n
	}
	mt, err := pickImageType(c)
	if err != nil {
		return p, err
	}
	p.Format = mt
	if err := p.Validate(); err != nil {
		return p, fmt.Errorf("%v: %w", err, ErrBadRequest)
	}
	return p, nil
}

// pickImageType chooses image/jpeg or image/png from the accept query
// parameter or the Accept header.
func pickImageType(c *gin.Context) (string, error) {
	accept := c.Query("accept")
	if accept == "" {
		accept = c.GetHeader("Accept")
	}
	if strings.TrimSpace(accept) == "" {
		return "image/jpeg", nil
	}
	for _, r := range strings.Split(accept, ",") {
		mt := strings.ToLower(strings.TrimSpace(strings.SplitN(r, ";", 2)[0]))
		switch mt {
		case "image/jpeg", "image/png":
			return mt, nil
		case "*/*", "image/*":
			return "image/jpeg", nil
		}
	}
	return "", fmt.Errorf("rendered media types are image/jpeg and image/png, not %q: %w", accept, ErrNotAcceptable)
}
