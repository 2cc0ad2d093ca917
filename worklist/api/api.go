// Package api is the worklist's HTTP API (JSON, gin), mounted by the hub
// under /api/worklist: list, get, claim-next, claim, renew, release,
// complete, reassign, cancel, a Server-Sent Events stream per reading group
// and site, study-complete and ECG submission, and rules reload. API.md
// documents every route. Handlers return (value, error) through
// httpapi.Wrap, so status codes come from the worklist error kinds.
//
// Identity comes from Config.Identity (the accounts package supplies it).
// Without one, requests are 401 unless Config.DevHeaders is set, which
// trusts X-Huren-User / X-Huren-Groups / X-Huren-Roles headers — for local
// development only. Tasks of a group the caller cannot see are 404, like
// missing ones; claiming and lease operations need membership of the
// task's group (administrator rights do not make one a reader); reassign
// and cancel are for administrators. Config.Authorize, when set, decides
// study completion and ECG submission by site instead (the hub treats
// them as uploads for that site).
package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/huren-health/huren/audit"
	"github.com/huren-health/huren/errkind"
	"github.com/huren-health/huren/httpapi"
	"github.com/huren-health/huren/worklist"
)

// ErrUnauthenticated: no identity (401).
var ErrUnauthenticated = errkind.New(errkind.Unauthenticated, "worklist api: not authenticated")

// Config wires a Handler.
type Config struct {
	Queue worklist.Queue
	// Tracker enables POST /studies/:study/complete and POST /ecg.
	Tracker *worklist.Tracker
	// Router enables POST /rules/reload and GET /rules.
	Router *worklist.Router
	// Identity returns the caller. Nil: see DevHeaders.
	Identity func(*gin.Context) (worklist.Actor, error)
	// Authorize, when set, authorizes the two site-keyed submissions by
	// site instead of by reading group: POST /studies/:study/complete
	// (action ActionStudyComplete, once per site that sent the study) and
	// POST /ecg (ActionSubmitECG, the stored ECG's site). site "" asks whether the
	// caller may do the action for any site at all (checked before the body
	// is read). With Authorize set these routes do not consult Identity, so
	// a site's upload devices (tokens) can signal their own studies. A
	// refusal for a named site answers 404, like a missing study. Without
	// Authorize any identified caller may submit (development only).
	Authorize func(c *gin.Context, action, site string) error
	// StudySites returns the sites that sent instances of a study
	// (ErrNotFound-kind error if none); required with Authorize for
	// study completion.
	StudySites func(ctx context.Context, study string) ([]string, error)
	// ECG looks up a stored ECG for POST /ecg: the task is built from what
	// was stored with it (its site, patient and the priority its analysis
	// calls for), never from the request, which names only the id. An
	// unknown id is an ErrNotFound-kind error. With Authorize set and no
	// ECG lookup, POST /ecg answers 404: a body naming its own site,
	// patient and priority is trusted only in development (DevHeaders,
	// no Authorize).
	ECG func(ctx context.Context, id string) (worklist.ECG, error)
	// Who names the caller in the events of a task it asked for through
	// POST /ecg (upload devices have no worklist identity); nil or "" falls
	// back to Identity, then to the engine ("system").
	Who func(*gin.Context) string
	// DevHeaders trusts X-Huren-User, X-Huren-Groups (comma-separated) and
	// X-Huren-Roles ("senior", "admin") when Identity is nil. Never in
	// production.
	DevHeaders bool
	// Heartbeat is the SSE keep-alive comment interval; 0 means 15 s.
	Heartbeat time.Duration
	Logger    *slog.Logger
}

// Actions passed to Config.Authorize.
const (
	ActionStudyComplete = "study.complete"
	ActionSubmitECG     = "ecg.submit"
)

// Handler serves the worklist API.
type Handler struct {
	cfg Config
	log *slog.Logger
}

// New returns a handler; it does no I/O.
func New(cfg Config) *Handler {
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = 15 * time.Second
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Handler{cfg: cfg, log: log.With("component", "worklist.api")}
}

// Register adds the routes to r, which the hub mounts at /api/worklist.
func (h *Handler) Register(r gin.IRouter) {
	w := func(f func(*gin.Context) (any, error)) gin.HandlerFunc { return httpapi.Wrap(h.log, f) }
	r.GET("/tasks", w(h.list))
	r.GET("/tasks/:task", w(h.get))
	r.POST("/tasks/:task/claim", w(h.claim))
	r.POST("/tasks/:task/renew", w(h.lease("renew")))
	r.POST("/tasks/:task/release", w(h.lease("release")))
	r.POST("/tasks/:task/complete", w(h.lease("complete")))
	r.POST("/tasks/:task/reassign", w(h.reassign))
	r.POST("/tasks/:task/cancel", w(h.cancel))
	r.POST("/groups/:group/claim-next", w(h.claimNext))
	r.GET("/events", w(h.events))
	r.POST("/studies/:study/complete", w(h.studyComplete))
	r.POST("/ecg", w(h.submitECG))
	r.GET("/rules", w(h.rules))
	r.POST("/rules/reload", w(h.reload))
}

func (h *Handler) actor(c *gin.Context) (worklist.Actor, error) {
	if h.cfg.Identity != nil {
		return h.cfg.Identity(c)
	}
	if !h.cfg.DevHeaders {
		return worklist.Actor{}, fmt.Errorf("no identity provider configured: %w", ErrUnauthenticated)
	}
	a := worklist.Actor{ID: strings.TrimSpace(c.GetHeader("X-Huren-User"))}
	if a.ID == "" {
		return worklist.Actor{}, fmt.Errorf("missing X-Huren-User: %w", ErrUnauthenticated)
	}
	for _, g := range strings.Split(c.GetHeader("X-Huren-Groups"), ",") {
		if g = strings.TrimSpace(g); g != "" {
			a.Groups = append(a.Groups, g)
		}
	}
	for _, r := range strings.Split(c.GetHeader("X-Huren-Roles"), ",") {
		switch strings.TrimSpace(r) {
		case "senior":
			a.Senior = true
		case "admin":
			a.Admin = true
		}
	}
	return a, nil
}

func invalid(format string, args ...any) error {
	return fmt.Errorf(format+": %w", append(args, worklist.ErrInvalid)...)
}

// maxBody caps JSON request bodies.
const maxBody = 64 << 10

func bindJSON(c *gin.Context, v any) error {
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, maxBody)
	dec := json.NewDecoder(c.Request.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return invalid("request body: %v", err)
	}
	return nil
}

func queryInt(c *gin.Context, name string) (int, error) {
	s := c.Query(name)
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, invalid("%s=%q is not a number", name, s)
	}
	return n, nil
}

// canSee: admins see everything; readers see their groups.
func canSee(a worklist.Actor, group string) error {
	if a.InGroup(group) {
		return nil
	}
	return fmt.Errorf("%s is not in group %q: %w", a.ID, group, worklist.ErrForbidden)
}

// reading is a as a reader: admin rights do not make a hub administrator a
// reader of every group, so claiming and lease operations only count the
// groups a actually reads for.
func reading(a worklist.Actor) worklist.Actor {
	a.Admin = false
	return a
}

// visibleTask loads the task and hides it (404) from callers who cannot see
// its group, so another group's task is indistinguishable from a missing one.
func (h *Handler) visibleTask(c *gin.Context, a worklist.Actor) (worklist.Task, error) {
	t, err := h.cfg.Queue.Get(c.Request.Context(), c.Param("task"))
	if err != nil {
		return worklist.Task{}, err
	}
	if canSee(a, t.Group) != nil {
		return worklist.Task{}, fmt.Errorf("task %s: %w", t.ID, worklist.ErrNotFound)
	}
	return t, nil
}

// readerTask is visibleTask for claim and lease operations: the caller must
// read for the task's group (403 for an admin who can see but not read it).
func (h *Handler) readerTask(c *gin.Context) (worklist.Actor, error) {
	a, err := h.actor(c)
	if err != nil {
		return a, err
	}
	t, err := h.visibleTask(c, a)
	if err != nil {
		return a, err
	}
	r := reading(a)
	if err := canSee(r, t.Group); err != nil {
		return r, err
	}
	return r, nil
}

// adminTask authorizes reassign and cancel: 404 for a task the caller cannot
// see, 403 for a reader of its group who is not an administrator.
func (h *Handler) adminTask(c *gin.Context) (worklist.Actor, error) {
	a, err := h.actor(c)
	if err != nil {
		return a, err
	}
	if _, err := h.visibleTask(c, a); err != nil {
		return a, err
	}
	if !a.Admin {
		return a, fmt.Errorf("admin only: %w", worklist.ErrForbidden)
	}
	return a, nil
}

func (h *Handler) list(c *gin.Context) (any, error) {
	a, err := h.actor(c)
	if err != nil {
		return nil, err
	}
	f := worklist.Filter{Group: c.Query("group"), Stage: worklist.Stage(c.Query("stage")), State: worklist.State(c.Query("state")),
		Site: c.Query("site"), Assignee: c.Query("assignee")}
	if f.Limit, err = queryInt(c, "limit"); err != nil {
		return nil, err
	}
	if f.Offset, err = queryInt(c, "offset"); err != nil {
		return nil, err
	}
	if !a.Admin {
		if f.Group == "" {
			return nil, invalid("group is required")
		}
		if err := canSee(a, f.Group); err != nil {
			return nil, err
		}
	}
	return h.cfg.Queue.List(c.Request.Context(), f)
}

func (h *Handler) get(c *gin.Context) (any, error) {
	a, err := h.actor(c)
	if err != nil {
		return nil, err
	}
	return h.visibleTask(c, a)
}

func (h *Handler) claim(c *gin.Context) (any, error) {
	a, err := h.readerTask(c)
	if err != nil {
		return nil, err
	}
	return h.cfg.Queue.Claim(c.Request.Context(), a, c.Param("task"))
}

func (h *Handler) claimNext(c *gin.Context) (any, error) {
	a, err := h.actor(c)
	if err != nil {
		return nil, err
	}
	stage := worklist.Stage(c.DefaultQuery("stage", string(worklist.StageRead)))
	return h.cfg.Queue.ClaimNext(c.Request.Context(), reading(a), c.Param("group"), stage)
}

type tokenBody struct {
	Token string `json:"token"`
}

func (h *Handler) lease(op string) func(*gin.Context) (any, error) {
	return func(c *gin.Context) (any, error) {
		a, err := h.readerTask(c)
		if err != nil {
			return nil, err
		}
		var b tokenBody
		if err := bindJSON(c, &b); err != nil {
			return nil, err
		}
		if b.Token == "" {
			return nil, invalid("token is required")
		}
		ctx, id := c.Request.Context(), c.Param("task")
		var t worklist.Task
		switch op {
		case "renew":
			t, err = h.cfg.Queue.Renew(ctx, a, id, b.Token)
		case "release":
			t, err = h.cfg.Queue.Release(ctx, a, id, b.Token)
		default:
			t, err = h.cfg.Queue.Complete(ctx, a, id, b.Token)
		}
		if err != nil {
			return nil, err
		}
		if op != "renew" {
			t = t.Redacted()
		}
		return t, nil
	}
}

func (h *Handler) reassign(c *gin.Context) (any, error) {
	a, err := h.adminTask(c)
	if err != nil {
		return nil, err
	}
	var b struct {
		Group    string `json:"group"`
		Assignee string `json:"assignee"`
	}
	if err := bindJSON(c, &b); err != nil {
		return nil, err
	}
	t, err := h.cfg.Queue.Reassign(c.Request.Context(), a, c.Param("task"), b.Group, b.Assignee)
	return t.Redacted(), err
}

func (h *Handler) cancel(c *gin.Context) (any, error) {
	a, err := h.adminTask(c)
	if err != nil {
		return nil, err
	}
	var b struct {
		Reason string `json:"reason"`
	}
	if err := bindJSON(c, &b); err != nil {
		return nil, err
	}
	t, err := h.cfg.Queue.Cancel(c.Request.Context(), a, c.Param("task"), b.Reason)
	return t.Redacted(), err
}

// submitter authorizes a site-keyed submission for any site (Authorize
// with site ""), or requires an identity when no Authorize is configured.
func (h *Handler) submitter(c *gin.Context, action string) error {
	if h.cfg.Authorize == nil {
		_, err := h.actor(c)
		return err
	}
	return h.cfg.Authorize(c, action, "")
}

// authorizeSite runs Authorize for a named site; a refusal is 404.
func (h *Handler) authorizeSite(c *gin.Context, action, site, what string) error {
	if h.cfg.Authorize == nil {
		return nil
	}
	if err := h.cfg.Authorize(c, action, site); err != nil {
		if errkind.Of(err) == errkind.Unauthenticated {
			return err
		}
		return fmt.Errorf("%s: %w", what, worklist.ErrNotFound)
	}
	return nil
}

func (h *Handler) studyComplete(c *gin.Context) (any, error) {
	if err := h.submitter(c, ActionStudyComplete); err != nil {
		return nil, err
	}
	if h.cfg.Tracker == nil {
		return nil, fmt.Errorf("study completion is not enabled on this hub: %w", worklist.ErrNotFound)
	}
	ctx, uid := c.Request.Context(), c.Param("study")
	var sites []string
	if h.cfg.Authorize != nil {
		if h.cfg.StudySites == nil {
			return nil, fmt.Errorf("study completion needs a study site lookup: %w", worklist.ErrNotFound)
		}
		var err error
		if sites, err = h.cfg.StudySites(ctx, uid); err != nil {
			return nil, fmt.Errorf("study %s: %w", uid, err)
		}
		var denied error
		for _, s := range sites {
			if denied = h.authorizeSite(c, ActionStudyComplete, s, "study "+uid); denied == nil {
				break
			}
		}
		if len(sites) == 0 {
			denied = fmt.Errorf("study %s: %w", uid, worklist.ErrNotFound)
		}
		if denied != nil {
			return nil, denied
		}
	}
	t, err := h.cfg.Tracker.StudyComplete(ctx, uid)
	if errors.Is(err, worklist.ErrNotFound) && len(sites) > 0 {
		// Already flushed (quiet period, or an earlier call): answer with
		// the study's open task, so the signal is idempotent.
		if open, ok, ferr := h.openStudyTask(ctx, uid, sites); ferr != nil {
			return nil, ferr
		} else if ok {
			return open.Redacted(), nil
		}
	}
	return t.Redacted(), err
}

// openStudyTask finds the open task of a study among its sites' open tasks.
func (h *Handler) openStudyTask(ctx context.Context, uid string, sites []string) (worklist.Task, bool, error) {
	for _, s := range sites {
		f := worklist.Filter{Site: s, Limit: 1000}
		for {
			p, err := h.cfg.Queue.List(ctx, f)
			if err != nil {
				return worklist.Task{}, false, fmt.Errorf("find task of study %s: %w", uid, err)
			}
			for _, t := range p.Tasks {
				if t.Kind == worklist.KindStudy && t.Ref == uid {
					return t, true, nil
				}
			}
			f.Offset += len(p.Tasks)
			if len(p.Tasks) == 0 || f.Offset >= p.Total {
				break
			}
		}
	}
	return worklist.Task{}, false, nil
}

type ecgBody struct {
	ID          string            `json:"id"`
	Site        string            `json:"site"`
	PatientID   string            `json:"patient_id"`
	PatientName string            `json:"patient_name"`
	ExamType    string            `json:"exam_type"`
	Priority    worklist.Priority `json:"priority"`
}

// submitECG (re)creates the reading task of a stored ECG. The hub creates
// it when the ECG is uploaded; this route retries that step when it failed
// after the ECG was stored (the upload's error names the ECG id).
func (h *Handler) submitECG(c *gin.Context) (any, error) {
	if err := h.submitter(c, ActionSubmitECG); err != nil {
		return nil, err
	}
	if h.cfg.Tracker == nil || h.cfg.ECG == nil && h.cfg.Authorize != nil {
		return nil, fmt.Errorf("ECG submission is not enabled on this hub: %w", worklist.ErrNotFound)
	}
	if h.cfg.ECG == nil {
		return h.submitDevECG(c)
	}
	var b struct {
		ID string `json:"id"`
	}
	if err := bindJSON(c, &b); err != nil {
		return nil, fmt.Errorf("%w (the body names only the ECG: {\"id\": \"…\"}; site, patient and priority come from the stored ECG)", err)
	}
	if b.ID == "" {
		return nil, invalid("id is required")
	}
	ctx := c.Request.Context()
	// An unknown ECG and another site's answer alike (404, same text).
	what := "ECG " + b.ID
	e, err := h.cfg.ECG(ctx, b.ID)
	if errkind.Of(err) == errkind.NotFound {
		return nil, fmt.Errorf("%s: %w", what, worklist.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if err := h.authorizeSite(c, ActionSubmitECG, e.Site, what); err != nil {
		return nil, err
	}
	e.ID, e.Actor = b.ID, h.who(c)
	t, err := h.cfg.Tracker.SubmitECG(ctx, e)
	if err != nil {
		return nil, err
	}
	// The task's history names the caller; the audit trail records the
	// request against the ECG.
	audit.SetResource(c, "ecg:"+b.ID)
	audit.SetDetail(c, "reading task "+t.ID+" submitted for the stored ECG")
	h.log.Info("ECG task submitted through the API", "ecg", b.ID, "task", t.ID, "site", e.Site, "by", e.Actor)
	return t.Redacted(), nil
}

// who names the caller for a task's events ("" = the engine).
func (h *Handler) who(c *gin.Context) string {
	if h.cfg.Who != nil {
		if w := h.cfg.Who(c); w != "" {
			return w
		}
	}
	if h.cfg.Identity != nil {
		if a, err := h.cfg.Identity(c); err == nil {
			return a.ID
		}
	}
	return ""
}

// submitDevECG is POST /ecg in development mode (no Authorize, no ECG
// lookup): the body describes the task.
func (h *Handler) submitDevECG(c *gin.Context) (any, error) {
	var b ecgBody
	if err := bindJSON(c, &b); err != nil {
		return nil, err
	}
	t, err := h.cfg.Tracker.SubmitECG(c.Request.Context(), worklist.ECG{ID: b.ID, Site: b.Site, PatientID: b.PatientID,
		PatientName: b.PatientName, ExamType: b.ExamType, Priority: b.Priority})
	return t.Redacted(), err
}

func (h *Handler) admin(c *gin.Context) error {
	a, err := h.actor(c)
	if err != nil {
		return err
	}
	if !a.Admin {
		return fmt.Errorf("admin only: %w", worklist.ErrForbidden)
	}
	if h.cfg.Router == nil {
		return fmt.Errorf("routing rules are not configured: %w", worklist.ErrNotFound)
	}
	return nil
}

func (h *Handler) rules(c *gin.Context) (any, error) {
	if err := h.admin(c); err != nil {
		return nil, err
	}
	return h.cfg.Router.Rules(), nil
}

func (h *Handler) reload(c *gin.Context) (any, error) {
	if err := h.admin(c); err != nil {
		return nil, err
	}
	if err := h.cfg.Router.Reload(); err != nil {
		return nil, err
	}
	return gin.H{"reloaded": true, "rules": len(h.cfg.Router.Rules().Rules)}, nil
}
