// Package web is the HTTP ingest and retrieval API for ECGs:
//
//	POST /ecg            one ECG file (DICOM waveform, HL7 aECG, SCP-ECG) as the raw
//	                     body or a multipart part, or a WFDB record as multipart parts
//	                     NAME.hea + NAME.dat (+ NAME.atr); returns the analysis JSON.
//	                     The file's Content-Type must be application/dicom, application/xml,
//	                     text/xml, application/hl7-v3+xml or application/octet-stream
//	                     (the content decides); any other is 415 naming these
//	GET  /ecg/:id        the stored analysis JSON
//	GET  /ecg/:id/svg    the 12-lead tracing (?speed=25|50&gain=5|10|20)
//	GET  /ecg/:id/png    the same as PNG
//
// Mount the routes under /api (Register(engine.Group("/api"))). The original
// bytes are stored unchanged at ecg/{id}/source.{ext} (WFDB: source.hea,
// source.dat, source.atr), then the uploading site at ecg/{id}/record.json,
// then the analysis at ecg/{id}/analysis.json. The write order is the
// guarantee: analysis.json is the commit point, so an ECG that GET can see
// always has its originals and its site record. After all are durable the
// OnAnalyzed and OnAnalyzedAt hooks run, so the hub can create a worklist
// task for the site — with critical priority when Analysis.Critical is set.
//
// Access scoping (like dicomweb): Config.UploadSite names the site a POST is
// recorded for (its error refuses the upload before anything is read or
// stored); Config.Scope lists the sites the caller may see, and an ECG of
// another site is answered exactly like a missing id (404, same body). ECGs
// stored before record.json existed count as site "", visible only to an
// unrestricted (nil) scope.
//
// A Handler is safe for concurrent use.
package web

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/huren-health/huren/ecg"
	"github.com/huren-health/huren/ecg/analysis"
	"github.com/huren-health/huren/ecg/dsp"
	"github.com/huren-health/huren/ecg/read"
	"github.com/huren-health/huren/ecg/render"
	"github.com/huren-health/huren/ecg/rules"
	"github.com/huren-health/huren/ecg/wfdb"
	"github.com/huren-health/huren/errkind"
	"github.com/huren-health/huren/httpapi"
	"github.com/huren-health/huren/storage"
)

// Errors.
var (
	ErrNotFound  = errkind.New(errkind.NotFound, "ecg: no such ECG")
	ErrTooLarge  = errkind.New(errkind.TooLarge, "ecg: upload too large")
	ErrBadUpload = errkind.New(errkind.Invalid, "ecg: bad upload")
	// ErrMediaType: the upload's declared Content-Type is none of the
	// accepted ones (415); the message lists them.
	ErrMediaType = errkind.New(errkind.Unsupported, "ecg: unsupported Content-Type")
)

// acceptedTypes lists the Content-Types POST /ecg accepts, for the 415
// message.
const acceptedTypes = "application/dicom (DICOM waveform), application/xml, text/xml or application/hl7-v3+xml (HL7 aECG), " +
	"application/octet-stream (SCP-ECG, or any of these recognised from its content), " +
	"or multipart/form-data with one such file or a WFDB record's NAME.hea and NAME.dat parts"

// Config tunes the handler. The zero value is usable.
type Config struct {
	// MaxBytes caps an upload (all parts together); default 64 MiB.
	MaxBytes int64
	// Rules is the critical-value table; nil means rules.Default().
	Rules *rules.Table
	// MainsHz is the notch frequency (50 default, 60, or -1 for none).
	MainsHz float64
	// UploadSite returns the site a POST /ecg is recorded for. It runs
	// before the body is read; its error (carrying its errkind, e.g.
	// Forbidden) refuses the upload and nothing is stored. nil records "".
	UploadSite func(*gin.Context) (string, error)
	// Scope returns the sites whose ECGs the caller may see: a nil slice
	// (or a nil Scope) means all, an empty one none. An ECG outside the
	// scope is answered exactly like a missing id (404).
	Scope func(*gin.Context) (sites []string, err error)
}

// Record is ecg/{id}/record.json: who sent the ECG and when.
type Record struct {
	Site       string    `json:"site"`
	ReceivedAt time.Time `json:"received_at"`
}

// Handler serves the ECG API.
type Handler struct {
	store storage.Store
	cfg   Config
	log   *slog.Logger
	// OnAnalyzed, when set, is called after the source and the analysis are
	// stored. An error fails the request (the ECG stays stored under its id,
	// which the error message carries) so the client or operator can retry
	// the task creation.
	OnAnalyzed func(ctx context.Context, a *analysis.Analysis) error
	// OnAnalyzedAt is OnAnalyzed with the ECG's id (= a.ID) and the site it
	// was recorded for, for creating a site-scoped worklist task. When both
	// hooks are set, OnAnalyzed runs first; the same error contract holds.
	OnAnalyzedAt func(ctx context.Context, a *analysis.Analysis, id, site string) error

	ingested *prometheus.CounterVec
	duration prometheus.Histogram
}

// New returns a handler storing into store. logger and reg may be nil.
func New(store storage.Store, cfg Config, logger *slog.Logger, reg prometheus.Registerer) (*Handler, error) {
	if store == nil {
		return nil, errors.New("ecg/web: nil store")
	}
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = 64 << 20
	}
	if cfg.Rules != nil {
		if err := cfg.Rules.Validate(); err != nil {
			return nil, err
		}
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	h := &Handler{store: store, cfg: cfg, log: logger.With("component", "ecg.web"),
		ingested: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "huren_ecg_ingested_total", Help: "ECG uploads by format and result (ok, critical, not_interpretable, error)."}, []string{"format", "result"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "huren_ecg_analysis_seconds", Help: "Time to read and analyse one ECG.", Buckets: prometheus.ExponentialBuckets(0.002, 2, 12)}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{h.ingested, h.duration} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("ecg/web: metrics: %w", err)
			}
		}
	}
	return h, nil
}

// Register mounts the routes on r (normally the /api group).
func (h *Handler) Register(r gin.IRouter) {
	r.POST("/ecg", httpapi.Wrap(h.log, h.post))
	r.GET("/ecg/:id", httpapi.Wrap(h.log, h.get))
	r.GET("/ecg/:id/svg", httpapi.Wrap(h.log, h.image("svg")))
	r.GET("/ecg/:id/png", httpapi.Wrap(h.log, h.image("png")))
}

// upload is one received file.
type upload struct {
	name        string
	contentType string
	data        []byte
}

func (h *Handler) post(c *gin.Context) (any, error) {
	site := ""
	if h.cfg.UploadSite != nil {
		var err error
		if site, err = h.cfg.UploadSite(c); err != nil {
			return nil, err
		}
	}
	body := http.MaxBytesReader(c.Writer, c.Request.Body, h.cfg.MaxBytes)
	ct := c.GetHeader("Content-Type")
	mt, params, _ := mime.ParseMediaType(ct)
	var files []upload
	if strings.HasPrefix(mt, "multipart/") {
		mr := multipart.NewReader(body, params["boundary"])
		var total int64
		for {
			p, err := mr.NextPart()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return nil, h.readErr(err)
			}
			if p.FileName() == "" && p.FormName() != "file" {
				p.Close()
				continue // plain form fields
			}
			b, err := readCapped(p, h.cfg.MaxBytes-total)
			p.Close()
			if err != nil {
				return nil, h.readErr(err)
			}
			total += int64(len(b))
			files = append(files, upload{name: path.Base(p.FileName()), contentType: p.Header.Get("Content-Type"), data: b})
			if len(files) > 4 {
				return nil, fmt.Errorf("%w: more than 4 parts", ErrBadUpload)
			}
		}
	} else {
		b, err := readCapped(body, h.cfg.MaxBytes)
		if err != nil {
			return nil, h.readErr(err)
		}
		files = []upload{{name: c.Query("filename"), contentType: mt, data: b}}
	}
	a, err := h.ingest(c.Request.Context(), site, files)
	if err != nil {
		h.ingested.WithLabelValues("", "error").Inc()
		return nil, err
	}
	return a, nil
}

func (h *Handler) readErr(err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) || errors.Is(err, ErrTooLarge) {
		return fmt.Errorf("%w: over %d bytes", ErrTooLarge, h.cfg.MaxBytes)
	}
	return fmt.Errorf("%w: %v", ErrBadUpload, err)
}

// readCapped reads r fully into memory, failing when it exceeds max bytes:
// the explicit cap is what makes buffering an untrusted body acceptable.
func readCapped(r io.Reader, max int64) ([]byte, error) {
	var b bytes.Buffer
	n, err := io.Copy(&b, io.LimitReader(r, max+1))
	if err != nil {
		return nil, err
	}
	if n > max {
		return nil, ErrTooLarge
	}
	return b.Bytes(), nil
}

// Ingest stores and analyses one single-file ECG (DICOM, aECG or SCP)
// arriving by another path (e.g. a DICOM waveform received over STOW). It
// records site "", visible only to an unrestricted scope; see IngestSite.
func (h *Handler) Ingest(ctx context.Context, r io.Reader, contentType string) (*analysis.Analysis, error) {
	return h.IngestSite(ctx, "", r, contentType)
}

// IngestSite is Ingest recording the ECG for site.
func (h *Handler) IngestSite(ctx context.Context, site string, r io.Reader, contentType string) (*analysis.Analysis, error) {
	b, err := readCapped(r, h.cfg.MaxBytes)
	if err != nil {
		return nil, h.readErr(err)
	}
	return h.ingest(ctx, site, []upload{{contentType: contentType, data: b}})
}

func (h *Handler) options() analysis.Options {
	o := analysis.Options{Rules: h.cfg.Rules}
	if h.cfg.MainsHz != 0 {
		f := dsp.DefaultOptions()
		f.MainsHz = max(h.cfg.MainsHz, 0)
		o.Filter = &f
	}
	return o
}

// sourceFile is one object to store: key suffix and bytes.
type sourceFile struct {
	ext  string
	data []byte
	ct   string
}

func (h *Handler) ingest(ctx context.Context, site string, files []upload) (*analysis.Analysis, error) {
	start := time.Now()
	if len(files) == 0 || len(files[0].data) == 0 {
		return nil, fmt.Errorf("%w: empty body", ErrBadUpload)
	}
	rec, format, sources, err := decode(files)
	if err != nil {
		h.ingested.WithLabelValues(string(format), "error").Inc()
		return nil, err
	}
	a, err := analysis.Analyze(rec, h.options())
	if err != nil {
		return nil, err
	}
	h.duration.Observe(time.Since(start).Seconds())
	a.ID = uuid.NewString()
	for _, s := range sources {
		sum := sha256.Sum256(s.data)
		key := fmt.Sprintf("ecg/%s/source.%s", a.ID, s.ext)
		if _, err := h.store.PutIfAbsent(ctx, key, bytes.NewReader(s.data), storage.PutOptions{
			ContentType: s.ct, Size: int64(len(s.data)), SHA256: hex.EncodeToString(sum[:])}); err != nil {
			return nil, fmt.Errorf("ecg store %s: %w", key, err)
		}
	}
	// The site record goes before analysis.json (the commit point), so a
	// visible ECG is never without the site that scopes it.
	rj, err := json.Marshal(Record{Site: site, ReceivedAt: start.UTC()})
	if err != nil {
		return nil, fmt.Errorf("ecg %s: encode record: %w", a.ID, err)
	}
	key := fmt.Sprintf("ecg/%s/record.json", a.ID)
	if _, err := h.store.Put(ctx, key, bytes.NewReader(rj), storage.PutOptions{ContentType: "application/json", Size: int64(len(rj))}); err != nil {
		return nil, fmt.Errorf("ecg store %s: %w", key, err)
	}
	js, err := json.Marshal(a)
	if err != nil {
		return nil, fmt.Errorf("ecg %s: encode analysis: %w", a.ID, err)
	}
	key = fmt.Sprintf("ecg/%s/analysis.json", a.ID)
	if _, err := h.store.Put(ctx, key, bytes.NewReader(js), storage.PutOptions{ContentType: "application/json", Size: int64(len(js))}); err != nil {
		return nil, fmt.Errorf("ecg store %s: %w", key, err)
	}
	result := "ok"
	switch {
	case !a.Interpretable:
		result = "not_interpretable"
	case a.Critical:
		result = "critical"
	}
	h.ingested.WithLabelValues(string(format), result).Inc()
	h.log.Info("ecg ingested", "id", a.ID, "site", site, "format", format, "interpretable", a.Interpretable, "flags", len(a.Flags))
	if h.OnAnalyzed != nil {
		if err := h.OnAnalyzed(ctx, a); err != nil {
			return nil, fmt.Errorf("ecg %s stored, but the follow-up (task creation) failed: %w", a.ID, err)
		}
	}
	if h.OnAnalyzedAt != nil {
		if err := h.OnAnalyzedAt(ctx, a, a.ID, site); err != nil {
			return nil, fmt.Errorf("ecg %s stored, but the follow-up (task creation) failed: %w", a.ID, err)
		}
	}
	return a, nil
}

// mediaType is the lower-case type/subtype of a Content-Type value,
// without parameters ("application/xml; charset=utf-8" → application/xml).
func mediaType(ct string) string {
	if mt, _, err := mime.ParseMediaType(ct); err == nil {
		return mt
	}
	mt, _, _ := strings.Cut(ct, ";")
	return strings.ToLower(strings.TrimSpace(mt))
}

// decode recognises the upload and reads it. For WFDB it needs the .hea and
// .dat parts (named by extension); .atr is optional.
func decode(files []upload) (*ecg.Record, ecg.Format, []sourceFile, error) {
	var hea, dat, atr *upload
	for i := range files {
		switch strings.ToLower(path.Ext(files[i].name)) {
		case ".hea":
			hea = &files[i]
		case ".dat":
			dat = &files[i]
		case ".atr":
			atr = &files[i]
		}
	}
	if hea == nil && len(files) == 1 && read.SniffWFDBHeader(files[0].data) && read.Sniff(files[0].data) == "" {
		return nil, ecg.FormatWFDB, nil, fmt.Errorf("%w: a WFDB header alone has no samples; send .hea and .dat as multipart parts", ecg.ErrNoWaveform)
	}
	if hea != nil {
		if dat == nil {
			return nil, ecg.FormatWFDB, nil, fmt.Errorf("%w: WFDB upload without the .dat part", ErrBadUpload)
		}
		hd, err := wfdb.ParseHeader(bytes.NewReader(hea.data))
		if err != nil {
			return nil, ecg.FormatWFDB, nil, err
		}
		rec, err := wfdb.ReadSignals(hd, bytes.NewReader(dat.data))
		if err != nil {
			return nil, ecg.FormatWFDB, nil, err
		}
		src := []sourceFile{{"hea", hea.data, "text/plain"}, {"dat", dat.data, "application/octet-stream"}}
		if atr != nil {
			if rec.Annotations, err = wfdb.ReadAnnotations(bytes.NewReader(atr.data)); err != nil {
				return nil, ecg.FormatWFDB, nil, err
			}
			src = append(src, sourceFile{"atr", atr.data, "application/octet-stream"})
		}
		return rec, ecg.FormatWFDB, src, nil
	}
	if len(files) != 1 {
		return nil, "", nil, fmt.Errorf("%w: %d files and no WFDB header among them", ErrBadUpload, len(files))
	}
	f := files[0]
	format := read.Sniff(f.data)
	// The declared type must be one of the documented ones and must not
	// contradict the content; only application/octet-stream (the generic
	// "some bytes", what form uploads send for an unknown file type, and
	// the type of SCP-ECG) leaves the format to the content.
	switch mediaType(f.contentType) {
	case "application/octet-stream":
	case "application/dicom":
		if format != ecg.FormatDICOM {
			return nil, format, nil, fmt.Errorf("%w: Content-Type application/dicom but the body is not DICOM", ecg.ErrUnknownFormat)
		}
	case "application/xml", "text/xml", "application/hl7-v3+xml":
		if format != ecg.FormatAECG {
			return nil, format, nil, fmt.Errorf("%w: Content-Type %s but the body is not an HL7 aECG", ecg.ErrUnknownFormat, f.contentType)
		}
	default:
		declared := mediaType(f.contentType)
		if declared == "" {
			declared = "none"
		} else if len(declared) > 80 {
			declared = declared[:80] + "…"
		}
		return nil, format, nil, fmt.Errorf("%w: Content-Type %s; send %s", ErrMediaType, declared, acceptedTypes)
	}
	rec, format, err := read.Reader(bytes.NewReader(f.data))
	if err != nil {
		return nil, format, nil, err
	}
	ct := map[ecg.Format]string{ecg.FormatDICOM: "application/dicom", ecg.FormatAECG: "application/xml", ecg.FormatSCP: "application/octet-stream"}[format]
	return rec, format, []sourceFile{{read.Ext(format), f.data, ct}}, nil
}

func (h *Handler) id(c *gin.Context) (string, error) {
	id := c.Param("id")
	if _, err := uuid.Parse(id); err != nil || len(id) != 36 {
		return "", fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	return id, nil
}

// notFound is the one answer for a missing ECG and for one outside the
// caller's scope, so the two cannot be told apart.
func notFound(id string) error { return fmt.Errorf("%w: %s", ErrNotFound, id) }

// visible resolves the caller's scope and the id, and checks the ECG's
// recorded site against the scope. A nil Scope (or nil sites) skips the
// record read entirely.
func (h *Handler) visible(c *gin.Context) (string, error) {
	var sites []string
	if h.cfg.Scope != nil {
		var err error
		if sites, err = h.cfg.Scope(c); err != nil {
			return "", err
		}
	}
	id, err := h.id(c)
	if err != nil || sites == nil {
		return id, err
	}
	site, err := h.site(c.Request.Context(), id)
	if err != nil {
		return "", err
	}
	for _, s := range sites {
		if s == site {
			return id, nil
		}
	}
	return "", notFound(id)
}

// site reads the recorded site of id; an ECG stored without record.json
// (before sites were recorded) has site "".
func (h *Handler) site(ctx context.Context, id string) (string, error) {
	rc, _, err := h.store.Get(ctx, "ecg/"+id+"/record.json")
	if errors.Is(err, storage.ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("ecg get %s record: %w", id, err)
	}
	defer rc.Close()
	b, err := readCapped(rc, 1<<20)
	if err != nil {
		return "", fmt.Errorf("ecg get %s record: %w", id, err)
	}
	var r Record
	if err := json.Unmarshal(b, &r); err != nil {
		return "", fmt.Errorf("ecg %s: stored record: %w", id, err)
	}
	return r.Site, nil
}

func (h *Handler) stored(ctx context.Context, id string) (*analysis.Analysis, []byte, error) {
	rc, _, err := h.store.Get(ctx, "ecg/"+id+"/analysis.json")
	if errors.Is(err, storage.ErrNotFound) {
		return nil, nil, notFound(id)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("ecg get %s: %w", id, err)
	}
	defer rc.Close()
	b, err := readCapped(rc, 64<<20)
	if err != nil {
		return nil, nil, fmt.Errorf("ecg get %s: %w", id, err)
	}
	var a analysis.Analysis
	if err := json.Unmarshal(b, &a); err != nil {
		return nil, nil, fmt.Errorf("ecg %s: stored analysis: %w", id, err)
	}
	return &a, b, nil
}

// Stored returns the site an ECG was recorded for and its stored analysis,
// for building its reading task from what was stored rather than from what
// a request claims. A malformed or unknown id is ErrNotFound.
func (h *Handler) Stored(ctx context.Context, id string) (site string, a *analysis.Analysis, err error) {
	if _, perr := uuid.Parse(id); perr != nil || len(id) != 36 {
		return "", nil, notFound(id)
	}
	if a, _, err = h.stored(ctx, id); err != nil {
		return "", nil, err
	}
	if site, err = h.site(ctx, id); err != nil {
		return "", nil, err
	}
	return site, a, nil
}

func (h *Handler) get(c *gin.Context) (any, error) {
	id, err := h.visible(c)
	if err != nil {
		return nil, err
	}
	_, b, err := h.stored(c.Request.Context(), id)
	if err != nil {
		return nil, err
	}
	c.Data(http.StatusOK, "application/json", b)
	return nil, nil
}

func (h *Handler) loadSource(ctx context.Context, id string, a *analysis.Analysis) (*ecg.Record, error) {
	get := func(ext string) ([]byte, error) {
		rc, _, err := h.store.Get(ctx, fmt.Sprintf("ecg/%s/source.%s", id, ext))
		if err != nil {
			return nil, fmt.Errorf("ecg %s source.%s: %w", id, ext, err)
		}
		defer rc.Close()
		return readCapped(rc, h.cfg.MaxBytes)
	}
	if a.Format == ecg.FormatWFDB {
		hea, err := get("hea")
		if err != nil {
			return nil, err
		}
		dat, err := get("dat")
		if err != nil {
			return nil, err
		}
		hd, err := wfdb.ParseHeader(bytes.NewReader(hea))
		if err != nil {
			return nil, err
		}
		return wfdb.ReadSignals(hd, bytes.NewReader(dat))
	}
	b, err := get(read.Ext(a.Format))
	if err != nil {
		return nil, err
	}
	rec, _, err := read.Reader(bytes.NewReader(b))
	return rec, err
}

func (h *Handler) image(kind string) func(*gin.Context) (any, error) {
	return func(c *gin.Context) (any, error) {
		id, err := h.visible(c)
		if err != nil {
			return nil, err
		}
		ctx := c.Request.Context()
		stored, _, err := h.stored(ctx, id)
		if err != nil {
			return nil, err
		}
		rec, err := h.loadSource(ctx, id, stored)
		if err != nil {
			return nil, err
		}
		fresh, err := analysis.Analyze(rec, h.options())
		if err != nil {
			return nil, err
		}
		// Draw the stored verdict (flags, table version) over freshly
		// filtered signals, so the picture matches what was reported.
		stored.Clean, stored.Template = fresh.Clean, fresh.Template
		var o render.Options
		if v := c.Query("speed"); v != "" {
			if o.SpeedMMs, err = strconv.ParseFloat(v, 64); err != nil {
				return nil, fmt.Errorf("%w: speed %q", render.ErrOptions, v)
			}
		}
		if v := c.Query("gain"); v != "" {
			if o.GainMMmV, err = strconv.ParseFloat(v, 64); err != nil {
				return nil, fmt.Errorf("%w: gain %q", render.ErrOptions, v)
			}
		}
		var buf bytes.Buffer
		ct := "image/svg+xml"
		if kind == "png" {
			ct = "image/png"
			err = render.PNG(&buf, stored, o)
		} else {
			err = render.SVG(&buf, stored, o)
		}
		if err != nil {
			return nil, err
		}
		c.Data(http.StatusOK, ct, buf.Bytes())
		return nil, nil
	}
}
