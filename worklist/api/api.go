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
// development only.
package api

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

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
	// DevHeaders trusts X-Huren-User, X-Huren-Groups (comma-separated) and
	// X-Huren-Roles ("senior", "admin") when Identity is nil. Never in
	// production.
	DevHeaders bool
	// Heartbeat is the SSE keep-alive comment interval; 0 means 15 s.
	Heartbeat time.Duration
	Logger    *slog.Logger
}

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
	t, err := h.cfg.Queue.Get(c.Request.Context(), c.Param("task"))
	if err != nil {
		return nil, err
	}
	if err := canSee(a, t.Group); err != nil {
		return nil, fmt.Errorf("task %s: %w", t.ID, worklist.ErrNotFound) // invisible, not forbidden
	}
	return t, nil
}

func (h *Handler) claim(c *gin.Context) (any, error) {
	a, err := h.actor(c)
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
	return h.cfg.Queue.ClaimNext(c.Request.Context(), a, c.Param("group"), stage)
}

type tokenBody struct {
	Token string `json:"token"`
}

func (h *Handler) lease(op string) func(*gin.Context) (any, error) {
	return func(c *gin.Context) (any, error) {
		a, err := h.actor(c)
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
	a, err := h.actor(c)
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
	a, err := h.actor(c)
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

func (h *Handler) studyComplete(c *gin.Context) (any, error) {
	if _, err := h.actor(c); err != nil {
		return nil, err
	}
	if h.cfg.Tracker == nil {
		return nil, fmt.Errorf("study completion is not enabled on this hub: %w", worklist.ErrNotFound)
	}
	t, err := h.cfg.Tracker.StudyComplete(c.Request.Context(), c.Param("study"))
	return t.Redacted(), err
}

type ecgBody struct {
	ID          string            `json:"id"`
	Site        string            `json:"site"`
	PatientID   string            `json:"patient_id"`
	PatientName string            `json:"patient_name"`
	ExamType    string            `json:"exam_type"`
	Priority    worklist.Priority `json:"priority"`
}

func (h *Handler) submitECG(c *gin.Context) (any, error) {
	if _, err := h.actor(c); err != nil {
		return nil, err
	}
	if h.cfg.Tracker == nil {
		return nil, fmt.Errorf("ECG submission is not enabled on this hub: %w", worklist.ErrNotFound)
	}
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
