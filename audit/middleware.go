package audit

import (
	"log/slog"
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
	Log  *slog.Logger
}

// Middleware records one Event per request after it completes: the caller
// (from who, so mount it before the authentication middleware and it still
// sees the principal Authenticate stores), the route as the action, the
// path (or SetResource) as resource, status and outcome — 401/403 are
// "denied", so failed and forbidden attempts are in the trail too. It never
// blocks on storage (Recorder.Record only queues).
func Middleware(rec Recorder, who Who, opts MiddlewareOptions) gin.HandlerFunc {
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return func(c *gin.Context) {
		if opts.Skip != nil && opts.Skip(c) {
			c.Next()
			return
		}
		start := time.Now()
		c.Next()
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
		if err := rec.Record(e); err != nil {
			log.Error("audit record failed", "err", err, "action", e.Action, "request_id", e.RequestID)
		}
	}
}

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
