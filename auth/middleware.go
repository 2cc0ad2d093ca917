package auth

import (
	"context"
	"crypto/subtle"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/huren-health/huren/httpapi"
)

// Cookie and header names.
const (
	SessionCookie = "huren_session"
	// CSRFCookie is readable by the page's script, which echoes it in
	// CSRFHeader on every state-changing request (double submit, checked
	// against the copy kept in the server-side session).
	CSRFCookie = "huren_csrf"
	CSRFHeader = "X-CSRF-Token"
	// maxCredentialLen bounds Authorization and cookie values we parse.
	maxCredentialLen = 512
	ctxKey           = "huren.principal"
)

type principalKey struct{}

// FromContext returns the principal stored by Authenticate in a request
// context, for code below the HTTP layer.
func FromContext(ctx context.Context) (*Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(*Principal)
	return p, ok && p != nil
}

// PrincipalOf returns the request's principal, or ErrUnauthenticated when
// Authenticate did not run or did not succeed. This is the generic
// principal getter for handlers that need more than Scope.
func PrincipalOf(c *gin.Context) (*Principal, error) {
	if v, ok := c.Get(ctxKey); ok {
		if p, ok := v.(*Principal); ok && p != nil {
			return p, nil
		}
	}
	return nil, ErrUnauthenticated
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// Authenticate resolves the caller from a bearer token (Authorization:
// Bearer hrn_…) or the session cookie and stores the principal in the gin
// and request contexts. No or bad credentials: 401 JSON. A cookie-
// authenticated unsafe request (POST, PUT, PATCH, DELETE) must carry the
// session's CSRF token in X-CSRF-Token, else 403. Bearer requests need no
// CSRF token: browsers never attach them on their own.
func (s *Service) Authenticate() gin.HandlerFunc {
	return func(c *gin.Context) {
		p, err := s.authenticate(c)
		if err != nil {
			c.Header("WWW-Authenticate", `Bearer realm="huren"`)
			httpapi.Fail(c, s.log, err)
			return
		}
		c.Set(ctxKey, p)
		c.Request = c.Request.WithContext(context.WithValue(c.Request.Context(), principalKey{}, p))
		c.Next()
	}
}

func (s *Service) authenticate(c *gin.Context) (*Principal, error) {
	ctx := c.Request.Context()
	if h := c.GetHeader("Authorization"); h != "" {
		if len(h) > maxCredentialLen {
			return nil, ErrUnauthenticated
		}
		scheme, tok, ok := strings.Cut(h, " ")
		if ok && strings.EqualFold(scheme, "Basic") {
			// Many DICOMweb clients (PACS forwarders, viewers, load tools)
			// only speak HTTP Basic: a device token is accepted as the
			// password, with any user name. Passwords of people are not:
			// they log in and use a session.
			if _, pw, ok := c.Request.BasicAuth(); ok && strings.HasPrefix(pw, tokenPrefix) {
				return s.TokenPrincipal(ctx, pw)
			}
			return nil, ErrUnauthenticated
		}
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			return nil, ErrUnauthenticated
		}
		return s.TokenPrincipal(ctx, strings.TrimSpace(tok))
	}
	ck, err := c.Request.Cookie(SessionCookie)
	if err != nil || ck.Value == "" || len(ck.Value) > maxCredentialLen {
		return nil, ErrUnauthenticated
	}
	p, err := s.SessionPrincipal(ctx, ck.Value)
	if err != nil {
		s.clearCookies(c)
		return nil, err
	}
	if !safeMethod(c.Request.Method) {
		got := c.GetHeader(CSRFHeader)
		if got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(p.CSRF)) != 1 {
			return nil, ErrCSRF
		}
	}
	return p, nil
}

// Require guards a route: the principal must be allowed to perform a
// somewhere (the handler then checks the exact site or group, or scopes its
// query with SitesFor). Mount after Authenticate.
func (s *Service) Require(a Action) gin.HandlerFunc {
	pol := s.Policy()
	return func(c *gin.Context) {
		p, err := PrincipalOf(c)
		if err == nil {
			err = pol.Authorize(p, a, Any)
		}
		if err != nil {
			httpapi.Fail(c, s.log, err)
			return
		}
		c.Next()
	}
}

// Scope is the DICOMweb/catalog hook: the sites whose studies the caller
// may see (nil = all, empty = none), or ErrUnauthenticated.
func (s *Service) Scope(c *gin.Context) ([]string, error) {
	p, err := PrincipalOf(c)
	if err != nil {
		return nil, err
	}
	if err := s.Policy().Authorize(p, StudyRead, Any); err != nil {
		return nil, err
	}
	return s.Policy().SitesVisible(p), nil
}

// ScopeFor returns a Scope-shaped hook for another site action (e.g.
// ReportRead for report listings, StudyUpload for STOW).
func (s *Service) ScopeFor(a Action) func(*gin.Context) ([]string, error) {
	return func(c *gin.Context) ([]string, error) {
		p, err := PrincipalOf(c)
		if err != nil {
			return nil, err
		}
		if err := s.Policy().Authorize(p, a, Any); err != nil {
			return nil, err
		}
		return s.Policy().SitesFor(p, a), nil
	}
}

// AuditWho reports the caller of a request for the audit middleware:
// username (or token:<id>), roles, home site. Unauthenticated → zero values.
func (s *Service) AuditWho(c *gin.Context) (user string, roles []string, site string) {
	p, err := PrincipalOf(c)
	if err != nil {
		return "", nil, ""
	}
	return p.Name, p.RoleStrings(), p.HomeSite()
}

// secure reports whether cookies must carry the Secure flag: when the
// request came over TLS, or Config.SecureCookies forces it (behind a TLS-
// terminating proxy).
func (s *Service) secure(c *gin.Context) bool {
	return c.Request.TLS != nil || s.cfg.SecureCookies
}

// SetSessionCookies writes the session (HttpOnly) and CSRF (script-readable)
// cookies, both SameSite=Lax, Secure when TLS.
func (s *Service) SetSessionCookies(c *gin.Context, id string, sess Session) {
	maxAge := int(s.cfg.SessionMax.Seconds())
	http.SetCookie(c.Writer, &http.Cookie{Name: SessionCookie, Value: id, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: s.secure(c), SameSite: http.SameSiteLaxMode})
	http.SetCookie(c.Writer, &http.Cookie{Name: CSRFCookie, Value: sess.CSRF, Path: "/", MaxAge: maxAge,
		HttpOnly: false, Secure: s.secure(c), SameSite: http.SameSiteLaxMode})
}

func (s *Service) clearCookies(c *gin.Context) {
	for _, name := range []string{SessionCookie, CSRFCookie} {
		http.SetCookie(c.Writer, &http.Cookie{Name: name, Value: "", Path: "/", MaxAge: -1,
			HttpOnly: name == SessionCookie, Secure: s.secure(c), SameSite: http.SameSiteLaxMode})
	}
}

// ClearSessionCookies expires both cookies (logout).
func (s *Service) ClearSessionCookies(c *gin.Context) { s.clearCookies(c) }

// Logger returns the service's logger (for handlers in sub-packages).
func (s *Service) Logger() *slog.Logger { return s.log }

// Check authorizes the request's principal for a on r (handlers that know
// the exact site or group, e.g. after loading a study's record). Denied
// reads of clinical data come back as 404, see Policy.Authorize.
func (s *Service) Check(c *gin.Context, a Action, r Resource) error {
	p, err := PrincipalOf(c)
	if err != nil {
		return err
	}
	return s.Policy().Authorize(p, a, r)
}

// UploadSite returns the site an upload is recorded under: requested when
// given and allowed (else 403), or the caller's only upload site when
// requested is empty. A caller allowed to upload for several sites must
// name one (400).
func (s *Service) UploadSite(c *gin.Context, requested string) (string, error) {
	p, err := PrincipalOf(c)
	if err != nil {
		return "", err
	}
	pol := s.Policy()
	if requested != "" {
		if err := pol.Authorize(p, StudyUpload, Resource{Site: requested}); err != nil {
			return "", err
		}
		return requested, nil
	}
	if err := pol.Authorize(p, StudyUpload, Any); err != nil {
		return "", err
	}
	sites := pol.SitesFor(p, StudyUpload)
	if len(sites) != 1 {
		return "", fmt.Errorf("%w: you may upload for several sites; name one with the site parameter", ErrInvalid)
	}
	return sites[0], nil
}
