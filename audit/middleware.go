package audit

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/huren-health/huren/httpapi"
)

// PurposeHeader carries the caller's stated purpose of access (e.g. for a
// 互认 lookup); it is recorded verbatim (truncated to 200 bytes).
const PurposeHeader = "X-Huren-Purpose"

const (
	keyPatient  = "huren.audit.patient"
	keyResource = "huren.audit.resource"
	keyDetail   = "huren.audit.detail"
)

// SetPatient lets a handler name the patient whose data the request
// touched, so the trail can be searched by patient.
func SetPatient(c *gin.Context, patientID string) { c.Set(keyPatient, patientID) }

// SetResource overrides the recorded resource (default: the request path),
// e.g. "study:1.2.840…".
func SetResource(c *gin.Context, resource string) { c.Set(keyResource, resource) }

// SetDetail adds a short free-text detail to the request's audit record.
func SetDetail(c *gin.Context, detail string) { c.Set(keyDetail, detail) }

// Who reports the authenticated caller of a request (auth.Service.AuditWho).
type Who func(c *gin.Context) (user string, roles []string, site string)

// MiddlewareOptions tune Middleware.
type MiddlewareOptions struct {
	// Skip excludes requests from the trail (health probes, static assets).
	// nil audits everything.
	Skip func(c *gin.Context) bool
	// Durable selects the requests whose answer waits until their record
	// is in storage. nil → every request except GET, HEAD and OPTIONS: a
	// write (STOW, an ECG upload, a claim, a signed report, a login) is
	// acknowledged only with its audit record durable, while reads keep
	// the FlushInterval window.
	Durable func(c *gin.Context) bool
	Log     *slog.Logger
}

// DurableRecorder is a Recorder that can also wait until an event is in
// storage (Log is one).
type DurableRecorder interface {
	Recorder
	RecordDurable(ctx context.Context, e Event) error
}

// maxHeld bounds the response a durable request holds back while its
// record is stored. Write answers are small (a STOW answer is ~200 bytes
// per instance); past this the record is stored first and the rest of the
// answer streams.
const maxHeld = 8 << 20

func safeMethod(c *gin.Context) bool {
	switch c.Request.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return true
	}
	return false
}

// Middleware records one Event per request after it completes: the caller
// (from who, so mount it before the authentication middleware and it still
// sees the principal Authenticate stores), the route as the action, the
// path (or SetResource) as resource, status and outcome — 401/403 are
// "denied", so failed and forbidden attempts are in the trail too.
//
// Reads never wait for storage (Recorder.Record only queues). For a durable
// request (see MiddlewareOptions.Durable) and a rec that is a
// DurableRecorder, the handler's answer is held back until the record is
// stored; if it cannot be stored the client gets 503 with Retry-After
// instead, so nothing is acknowledged without its record (a retried upload
// is idempotent).
func Middleware(rec Recorder, who Who, opts MiddlewareOptions) gin.HandlerFunc {
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	durable := opts.Durable
	if durable == nil {
		durable = func(c *gin.Context) bool { return !safeMethod(c) }
	}
	drec, canWait := rec.(DurableRecorder)
	return func(c *gin.Context) {
		if opts.Skip != nil && opts.Skip(c) {
			c.Next()
			return
		}
		start := time.Now()
		if !canWait || !durable(c) {
			c.Next()
			if err := rec.Record(event(c, who, start)); err != nil {
				log.Error("audit record failed", "err", err, "action", c.Request.Method+" "+c.FullPath(), "request_id", httpapi.RequestID(c))
			}
			return
		}
		// The status starts as the real writer's: gin presets 404/405 there
		// for unmatched routes before running the middleware.
		hw := &heldWriter{ResponseWriter: c.Writer, status: c.Writer.Status()}
		var recErr error
		recorded := false
		store := func() {
			recorded = true
			ctx, cancel := context.WithTimeout(context.WithoutCancel(c.Request.Context()), durableWait)
			defer cancel()
			if recErr = drec.RecordDurable(ctx, event(c, who, start)); recErr != nil {
				log.Error("audit record not stored; answering 503", "err", recErr, "action", c.Request.Method+" "+c.FullPath(), "request_id", httpapi.RequestID(c))
			}
		}
		hw.overflow = func() bool { store(); return recErr == nil }
		c.Writer = hw
		// A panicking handler skips the code below: give the real writer
		// back so the recovery middleware's 500 reaches the client.
		defer func() { c.Writer = hw.ResponseWriter }()
		c.Next()
		if !recorded {
			store() // c.Writer is still hw: the record gets the held status
		}
		c.Writer = hw.ResponseWriter
		if hw.passing {
			return // the record was stored before the answer started streaming
		}
		// A refusal or failure (4xx, 5xx) acknowledged nothing, so its answer
		// stands without a durable record: it says why (a DICOM failure
		// reason, "retry" on 503) better than a generic 503 would, and a
		// client must not retry a bad file because the audit store is down.
		if recErr != nil && hw.status < 400 {
			// Nothing has been sent: replace the held answer.
			h := hw.ResponseWriter.Header()
			for k := range h {
				if k != "X-Request-Id" {
					delete(h, k)
				}
			}
			h.Set("Retry-After", "5")
			c.AbortWithStatusJSON(http.StatusServiceUnavailable, gin.H{"error": "the action's audit record could not be stored (audit storage unavailable); nothing is acknowledged — retry"})
			return
		}
		hw.release()
	}
}

// durableWait bounds how long a write waits for its audit record.
const durableWait = 30 * time.Second

func event(c *gin.Context, who Who, start time.Time) Event {
	status := c.Writer.Status()
	outcome := OK
	switch {
	case status == 401 || status == 403:
		outcome = Denied
	case status >= 400:
		outcome = Failed
	}
	route := c.FullPath()
	if route == "" {
		route = "unmatched"
	}
	e := Event{
		Time:       start,
		Action:     c.Request.Method + " " + route,
		Resource:   trunc(c.Request.URL.Path, 512),
		Outcome:    outcome,
		Status:     status,
		ClientAddr: c.ClientIP(),
		Purpose:    trunc(c.GetHeader(PurposeHeader), 200),
		RequestID:  httpapi.RequestID(c),
	}
	if who != nil {
		e.User, e.Roles, e.Site = who(c)
	}
	if v := c.GetString(keyResource); v != "" {
		e.Resource = trunc(v, 512)
	}
	e.Patient = trunc(c.GetString(keyPatient), 128)
	e.Detail = trunc(c.GetString(keyDetail), 512)
	return e
}

// heldWriter keeps a durable request's status and body until its audit
// record is stored (headers stay in the real writer's map, unsent). Past
// maxHeld bytes it calls overflow (which stores the record) and, if that
// succeeded, passes everything through.
type heldWriter struct {
	gin.ResponseWriter
	status   int
	wrote    bool // WriteHeader or Write called
	buf      bytes.Buffer
	overflow func() bool
	passing  bool
	failed   bool
}

func (w *heldWriter) WriteHeader(code int) {
	if w.passing {
		w.ResponseWriter.WriteHeader(code)
		return
	}
	if code > 0 && !w.wrote {
		w.status = code
	}
}

func (w *heldWriter) WriteHeaderNow() {
	if w.passing {
		w.ResponseWriter.WriteHeaderNow()
		return
	}
	w.wrote = true
}

func (w *heldWriter) Write(b []byte) (int, error) {
	if w.passing {
		return w.ResponseWriter.Write(b)
	}
	if w.failed {
		return 0, errHeld
	}
	w.wrote = true
	if w.buf.Len()+len(b) <= maxHeld {
		return w.buf.Write(b)
	}
	if !w.overflow() {
		w.failed = true
		return 0, errHeld
	}
	w.release()
	return w.ResponseWriter.Write(b)
}

func (w *heldWriter) WriteString(s string) (int, error) { return w.Write([]byte(s)) }

// Status is the status the handler set (what the record says).
func (w *heldWriter) Status() int {
	if w.passing {
		return w.ResponseWriter.Status()
	}
	return w.status
}

func (w *heldWriter) Size() int {
	if w.passing {
		return w.ResponseWriter.Size()
	}
	if !w.wrote {
		return -1
	}
	return w.buf.Len()
}

func (w *heldWriter) Written() bool { return w.passing || w.wrote }

// Flush is a no-op while the answer is held.
func (w *heldWriter) Flush() {
	if w.passing {
		w.ResponseWriter.Flush()
	}
}

// release hands the held status and body to the real writer and passes
// later writes through. A handler that wrote nothing leaves the real
// writer unwritten too, as it would have without this middleware (gin
// then adds its default 404/405 body).
func (w *heldWriter) release() {
	w.passing = true
	w.ResponseWriter.WriteHeader(w.status)
	switch {
	case w.buf.Len() > 0:
		_, _ = w.ResponseWriter.Write(w.buf.Bytes())
	case w.wrote:
		w.ResponseWriter.WriteHeaderNow()
	}
	w.buf = bytes.Buffer{}
}

var errHeld = errors.New("audit: answer withheld: its audit record could not be stored")

// trunc cuts s to at most n bytes on a UTF-8 boundary and drops invalid
// bytes, so the trail stays valid JSON text.
func trunc(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}
