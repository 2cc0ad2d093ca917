// Package web is the HTTP API of accounts and the audit trail:
// /api/auth/{login,logout,me,password} and /api/admin/{sites,groups,users,
// tokens,audit}. Every admin handler checks the exact site through
// auth.Policy; users and tokens the caller may not administer are reported
// as not found. Handler is safe for concurrent use.
package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/huren-health/huren/audit"
	"github.com/huren-health/huren/auth"
	"github.com/huren-health/huren/errkind"
	"github.com/huren-health/huren/httpapi"
)

// Deps are what the handlers need.
type Deps struct {
	Service *auth.Service
	// Trail is where audit segments are read from (the storage.Store).
	Trail audit.Source
	// Flusher, when set, is flushed before an audit search so the answer
	// includes the last second's events (the *audit.Log).
	Flusher interface{ Flush(context.Context) error }
	Log     *slog.Logger
}

// Handler serves the API.
type Handler struct {
	d   Deps
	pol *auth.Policy
	log *slog.Logger
}

// New builds the handler.
func New(d Deps) *Handler {
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	return &Handler{d: d, pol: d.Service.Policy(), log: d.Log}
}

// Register mounts the routes on r. Login is public; everything else goes
// through Service.Authenticate and a Require guard, then exact checks in the
// handler. Mount audit.Middleware before this on the same router so every
// call, refused ones included, is in the trail.
func (h *Handler) Register(r gin.IRouter) {
	s := h.d.Service
	w := func(f func(*gin.Context) (any, error)) gin.HandlerFunc { return httpapi.Wrap(h.log, f) }
	r.POST("/api/auth/login", w(h.login))
	a := r.Group("", s.Authenticate())
	a.POST("/api/auth/logout", s.Require(auth.AccountSelf), w(h.logout))
	a.GET("/api/auth/me", s.Require(auth.AccountSelf), w(h.me))
	a.POST("/api/auth/password", s.Require(auth.AccountSelf), w(h.password))

	a.GET("/api/admin/sites", s.Require(auth.SiteCreate), w(h.listSites))
	a.POST("/api/admin/sites", s.Require(auth.SiteCreate), w(h.addSite))
	a.GET("/api/admin/groups", s.Require(auth.UserAdmin), w(h.listGroups))
	a.POST("/api/admin/groups", s.Require(auth.GroupAdmin), w(h.addGroup))

	a.GET("/api/admin/users", s.Require(auth.UserAdmin), w(h.listUsers))
	a.POST("/api/admin/users", s.Require(auth.UserAdmin), w(h.addUser))
	a.GET("/api/admin/users/:user", s.Require(auth.UserAdmin), w(h.getUser))
	a.PUT("/api/admin/users/:user/grants", s.Require(auth.UserAdmin), w(h.setGrants))
	a.POST("/api/admin/users/:user/disable", s.Require(auth.UserAdmin), w(h.disable(true)))
	a.POST("/api/admin/users/:user/enable", s.Require(auth.UserAdmin), w(h.disable(false)))
	a.POST("/api/admin/users/:user/reset-password", s.Require(auth.UserAdmin), w(h.resetPassword))

	a.GET("/api/admin/tokens", s.Require(auth.TokenAdmin), w(h.listTokens))
	a.POST("/api/admin/tokens", s.Require(auth.TokenAdmin), w(h.createToken))
	a.DELETE("/api/admin/tokens/:token", s.Require(auth.TokenAdmin), w(h.revokeToken))

	a.GET("/api/admin/audit", s.Require(auth.AuditRead), w(h.searchAudit))
}

// maxBody bounds every JSON request body of this API.
const maxBody = 64 << 10

var errNotJSON = errkind.New(errkind.Unsupported, "request body must be application/json")

// bind decodes a strict JSON body (unknown fields rejected). Requiring the
// JSON content type also means a cross-site HTML form cannot post here.
func bind(c *gin.Context, v any) error {
	mt, _, err := mime.ParseMediaType(c.GetHeader("Content-Type"))
	if err != nil || mt != "application/json" {
		return errNotJSON
	}
	dec := json.NewDecoder(http.MaxBytesReader(c.Writer, c.Request.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return err
		}
		return fmt.Errorf("%w: body: %v", auth.ErrInvalid, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: trailing data after the JSON body", auth.ErrInvalid)
	}
	return nil
}

// UserView is a user as the API shows it (never the password hash).
type UserView struct {
	Username   string       `json:"username"`
	Name       string       `json:"name,omitempty"`
	Grants     []auth.Grant `json:"grants"`
	Disabled   bool         `json:"disabled"`
	MustChange bool         `json:"must_change"`
	Created    time.Time    `json:"created"`
	Updated    time.Time    `json:"updated"`
}

func view(u auth.User) UserView {
	return UserView{Username: u.Username, Name: u.Name, Grants: u.Grants, Disabled: u.Disabled, MustChange: u.MustChange, Created: u.Created, Updated: u.Updated}
}

// ---- /api/auth ----

type loginReq struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

// LoginResponse is the body of a successful login or password change.
type LoginResponse struct {
	User      UserView `json:"user"`
	CSRFToken string   `json:"csrf_token"`
}

func (h *Handler) login(c *gin.Context) (any, error) {
	var req loginReq
	if err := bind(c, &req); err != nil {
		return nil, err
	}
	id, sess, err := h.d.Service.Login(c.Request.Context(), req.Username, req.Password, c.ClientIP())
	if err != nil {
		return nil, err
	}
	u, err := h.d.Service.User(sess.Username)
	if err != nil {
		return nil, err
	}
	h.d.Service.SetSessionCookies(c, id, sess)
	audit.SetResource(c, "user:"+u.Username)
	return LoginResponse{User: view(u), CSRFToken: sess.CSRF}, nil
}

func (h *Handler) logout(c *gin.Context) (any, error) {
	p, err := auth.PrincipalOf(c)
	if err != nil {
		return nil, err
	}
	if p.SessionID != "" {
		if err := h.d.Service.Logout(c.Request.Context(), p.SessionID); err != nil {
			return nil, err
		}
		h.d.Service.ClearSessionCookies(c)
	}
	return gin.H{"status": "logged out"}, nil
}

// MeResponse describes the caller and what it may see.
type MeResponse struct {
	Kind         string            `json:"kind"`
	Name         string            `json:"name"`
	DisplayName  string            `json:"display_name,omitempty"`
	Grants       []auth.Grant      `json:"grants,omitempty"`
	Capabilities []auth.Capability `json:"capabilities,omitempty"`
	Site         string            `json:"site,omitempty"`
	MustChange   bool              `json:"must_change"`
	// SitesVisible: null = all sites.
	SitesVisible []string        `json:"sites_visible"`
	Groups       map[string]bool `json:"groups"` // group → may sign
	CSRFToken    string          `json:"csrf_token,omitempty"`
}

func (h *Handler) me(c *gin.Context) (any, error) {
	p, err := auth.PrincipalOf(c)
	if err != nil {
		return nil, err
	}
	return MeResponse{Kind: p.Kind, Name: p.Name, DisplayName: p.DisplayName, Grants: p.Grants, Capabilities: p.Capabilities,
		Site: p.HomeSite(), MustChange: p.MustChange, SitesVisible: h.pol.SitesVisible(p), Groups: h.pol.Groups(p), CSRFToken: p.CSRF}, nil
}

type passwordReq struct {
	Current string `json:"current"`
	New     string `json:"new"`
}

func (h *Handler) password(c *gin.Context) (any, error) {
	p, err := auth.PrincipalOf(c)
	if err != nil {
		return nil, err
	}
	if p.Kind != auth.KindUser {
		return nil, fmt.Errorf("%w: tokens have no password", auth.ErrForbidden)
	}
	var req passwordReq
	if err := bind(c, &req); err != nil {
		return nil, err
	}
	id, sess, err := h.d.Service.ChangePassword(c.Request.Context(), p.Name, req.Current, req.New, c.ClientIP())
	if err != nil {
		return nil, err
	}
	u, err := h.d.Service.User(p.Name)
	if err != nil {
		return nil, err
	}
	_ = h.d.Service.Logout(c.Request.Context(), p.SessionID)
	h.d.Service.SetSessionCookies(c, id, sess)
	return LoginResponse{User: view(u), CSRFToken: sess.CSRF}, nil
}

// ---- sites and groups ----

func (h *Handler) listSites(c *gin.Context) (any, error) {
	p, _ := auth.PrincipalOf(c)
	allowed := h.pol.SitesFor(p, auth.SiteCreate)
	out := []auth.Site{}
	for _, s := range h.d.Service.Sites() {
		if allowed == nil || slices.Contains(allowed, s.ID) {
			out = append(out, s)
		}
	}
	return out, nil
}

func (h *Handler) addSite(c *gin.Context) (any, error) {
	p, _ := auth.PrincipalOf(c)
	var st auth.Site
	if err := bind(c, &st); err != nil {
		return nil, err
	}
	// Creating the hub (no parent) is for hub admins only; below a parent,
	// the caller must administer the parent.
	var err error
	if st.Parent == "" {
		err = h.pol.Authorize(p, auth.GroupAdmin, auth.Any)
	} else {
		err = h.pol.Authorize(p, auth.SiteCreate, auth.Resource{Site: st.Parent})
	}
	if err != nil {
		return nil, err
	}
	audit.SetResource(c, "site:"+st.ID)
	return h.d.Service.AddSite(c.Request.Context(), st)
}

func (h *Handler) listGroups(*gin.Context) (any, error) { return h.d.Service.Groups(), nil }

func (h *Handler) addGroup(c *gin.Context) (any, error) {
	var g auth.Group
	if err := bind(c, &g); err != nil {
		return nil, err
	}
	audit.SetResource(c, "group:"+g.ID)
	return h.d.Service.AddGroup(c.Request.Context(), g)
}

// ---- users ----

// grantAllowed: may p hand out (or take away) grant g? Site roles need
// UserAdmin on that site; reading-group roles and hub_admin are hub-level.
func (h *Handler) grantAllowed(p *auth.Principal, g auth.Grant) bool {
	if g.Site != "" && g.Group == "" && g.Role != auth.HubAdmin {
		return h.pol.Authorize(p, auth.UserAdmin, auth.Resource{Site: g.Site}) == nil
	}
	return h.pol.Authorize(p, auth.GroupAdmin, auth.Any) == nil
}

// visible: p administers at least one of u's grants (or is hub admin).
func (h *Handler) visible(p *auth.Principal, u auth.User) bool {
	if h.pol.Authorize(p, auth.GroupAdmin, auth.Any) == nil {
		return true
	}
	return slices.ContainsFunc(u.Grants, func(g auth.Grant) bool { return h.grantAllowed(p, g) })
}

// manageable: p administers every grant u holds, so a site admin cannot
// lock out a hub admin or a reader who also works at another site.
func (h *Handler) manageable(p *auth.Principal, u auth.User) bool {
	for _, g := range u.Grants {
		if !h.grantAllowed(p, g) {
			return false
		}
	}
	return true
}

func (h *Handler) target(c *gin.Context, manage bool) (*auth.Principal, auth.User, error) {
	p, err := auth.PrincipalOf(c)
	if err != nil {
		return nil, auth.User{}, err
	}
	name := c.Param("user")
	audit.SetResource(c, "user:"+name)
	u, err := h.d.Service.User(name)
	if err != nil || !h.visible(p, u) {
		return nil, auth.User{}, fmt.Errorf("user %q: %w", name, auth.ErrNotVisible)
	}
	if manage && !h.manageable(p, u) {
		return nil, auth.User{}, fmt.Errorf("%w: user %q holds roles outside your sites", auth.ErrForbidden, name)
	}
	return p, u, nil
}

func (h *Handler) listUsers(c *gin.Context) (any, error) {
	p, _ := auth.PrincipalOf(c)
	out := []UserView{}
	for _, u := range h.d.Service.Users() {
		if h.visible(p, u) {
			out = append(out, view(u))
		}
	}
	return out, nil
}

// NewUserResponse carries the one-time password, shown once.
type NewUserResponse struct {
	User            UserView `json:"user"`
	OneTimePassword string   `json:"one_time_password,omitempty"`
}

func (h *Handler) addUser(c *gin.Context) (any, error) {
	p, _ := auth.PrincipalOf(c)
	var nu auth.NewUser
	if err := bind(c, &nu); err != nil {
		return nil, err
	}
	audit.SetResource(c, "user:"+nu.Username)
	for _, g := range nu.Grants {
		if !h.grantAllowed(p, g) {
			return nil, fmt.Errorf("%w: you may not grant %s", auth.ErrForbidden, g)
		}
	}
	u, otp, err := h.d.Service.AddUser(c.Request.Context(), nu)
	if err != nil {
		return nil, err
	}
	c.Header("Cache-Control", "no-store")
	return NewUserResponse{User: view(u), OneTimePassword: otp}, nil
}

func (h *Handler) getUser(c *gin.Context) (any, error) {
	_, u, err := h.target(c, false)
	if err != nil {
		return nil, err
	}
	return view(u), nil
}

type grantsReq struct {
	Grants []auth.Grant `json:"grants"`
}

func (h *Handler) setGrants(c *gin.Context) (any, error) {
	p, u, err := h.target(c, true)
	if err != nil {
		return nil, err
	}
	var req grantsReq
	if err := bind(c, &req); err != nil {
		return nil, err
	}
	for _, g := range req.Grants {
		if !h.grantAllowed(p, g) {
			return nil, fmt.Errorf("%w: you may not grant %s", auth.ErrForbidden, g)
		}
	}
	if u.Username == p.Name {
		return nil, fmt.Errorf("%w: ask another administrator to change your own roles", auth.ErrForbidden)
	}
	nu, err := h.d.Service.SetGrants(c.Request.Context(), u.Username, req.Grants)
	if err != nil {
		return nil, err
	}
	return view(nu), nil
}

func (h *Handler) disable(disabled bool) func(*gin.Context) (any, error) {
	return func(c *gin.Context) (any, error) {
		p, u, err := h.target(c, true)
		if err != nil {
			return nil, err
		}
		if u.Username == p.Name {
			return nil, fmt.Errorf("%w: you cannot disable or enable yourself", auth.ErrForbidden)
		}
		nu, err := h.d.Service.SetDisabled(c.Request.Context(), u.Username, disabled)
		if err != nil {
			return nil, err
		}
		return view(nu), nil
	}
}

func (h *Handler) resetPassword(c *gin.Context) (any, error) {
	_, u, err := h.target(c, true)
	if err != nil {
		return nil, err
	}
	otp, err := h.d.Service.ResetPassword(c.Request.Context(), u.Username)
	if err != nil {
		return nil, err
	}
	nu, err := h.d.Service.User(u.Username)
	if err != nil {
		return nil, err
	}
	c.Header("Cache-Control", "no-store")
	return NewUserResponse{User: view(nu), OneTimePassword: otp}, nil
}

// ---- tokens ----

func (h *Handler) listTokens(c *gin.Context) (any, error) {
	p, _ := auth.PrincipalOf(c)
	all, err := h.d.Service.Tokens(c.Request.Context())
	if err != nil {
		return nil, err
	}
	out := []auth.TokenView{}
	for _, t := range all {
		if h.pol.Authorize(p, auth.TokenAdmin, auth.Resource{Site: t.Site}) == nil {
			t.SecretSHA256 = ""
			out = append(out, t)
		}
	}
	return out, nil
}

type tokenReq struct {
	Name         string            `json:"name"`
	Site         string            `json:"site"`
	Capabilities []auth.Capability `json:"capabilities"`
	TTLHours     int               `json:"ttl_hours,omitempty"`
}

// NewTokenResponse carries the bearer secret, shown once.
type NewTokenResponse struct {
	Token  auth.Token `json:"token"`
	Secret string     `json:"secret"`
}

func (h *Handler) createToken(c *gin.Context) (any, error) {
	p, _ := auth.PrincipalOf(c)
	var req tokenReq
	if err := bind(c, &req); err != nil {
		return nil, err
	}
	if err := h.pol.Authorize(p, auth.TokenAdmin, auth.Resource{Site: req.Site}); err != nil {
		return nil, err
	}
	if req.TTLHours < 0 || req.TTLHours > 24*3660 {
		return nil, fmt.Errorf("%w: ttl_hours out of range", auth.ErrInvalid)
	}
	t, secret, err := h.d.Service.CreateToken(c.Request.Context(), auth.NewToken{Name: req.Name, Site: req.Site,
		Capabilities: req.Capabilities, TTL: time.Duration(req.TTLHours) * time.Hour, CreatedBy: p.Name})
	if err != nil {
		return nil, err
	}
	audit.SetResource(c, "token:"+t.ID)
	t.SecretSHA256 = ""
	c.Header("Cache-Control", "no-store")
	return NewTokenResponse{Token: t, Secret: secret}, nil
}

func (h *Handler) revokeToken(c *gin.Context) (any, error) {
	p, _ := auth.PrincipalOf(c)
	id := c.Param("token")
	audit.SetResource(c, "token:"+id)
	t, err := h.d.Service.Token(id)
	if err != nil || h.pol.Authorize(p, auth.TokenAdmin, auth.Resource{Site: t.Site}) != nil {
		return nil, fmt.Errorf("token %q: %w", id, auth.ErrNotVisible)
	}
	t, err = h.d.Service.RevokeToken(c.Request.Context(), id)
	if err != nil {
		return nil, err
	}
	t.SecretSHA256 = ""
	return t, nil
}

// ---- audit ----

func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	t, err := time.ParseInLocation("2006-01-02", s, time.UTC)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: time %q (want RFC 3339 or YYYY-MM-DD)", auth.ErrInvalid, s)
	}
	return t, nil
}

func (h *Handler) searchAudit(c *gin.Context) (any, error) {
	var q audit.Query
	var err error
	if q.From, err = parseTime(c.Query("from")); err != nil {
		return nil, err
	}
	if q.To, err = parseTime(c.Query("to")); err != nil {
		return nil, err
	}
	q.User, q.Patient, q.Site, q.Action, q.Outcome = c.Query("user"), c.Query("patient"), c.Query("site"), c.Query("action"), c.Query("outcome")
	for _, v := range []string{q.User, q.Patient, q.Site, q.Action, q.Outcome} {
		if len(v) > 256 {
			return nil, fmt.Errorf("%w: query parameter longer than 256 bytes", auth.ErrInvalid)
		}
	}
	if l := c.Query("limit"); l != "" {
		if q.Limit, err = strconv.Atoi(l); err != nil || q.Limit < 1 {
			return nil, fmt.Errorf("%w: limit %q", auth.ErrInvalid, l)
		}
	}
	if h.d.Flusher != nil {
		if err := h.d.Flusher.Flush(c.Request.Context()); err != nil {
			h.log.Warn("audit flush before search", "err", err)
		}
	}
	recs, err := audit.Search(c.Request.Context(), h.d.Trail, q)
	if err != nil {
		return nil, err
	}
	if recs == nil {
		recs = []audit.Record{}
	}
	return recs, nil
}
