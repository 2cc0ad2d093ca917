package web_test

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/huren-health/huren/audit"
	"github.com/huren-health/huren/auth"
	"github.com/huren-health/huren/auth/authtest"
	"github.com/huren-health/huren/auth/memory"
	"github.com/huren-health/huren/auth/web"
	"github.com/huren-health/huren/httpapi"
	"github.com/huren-health/huren/storage"
	"github.com/huren-health/huren/storage/fs"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type fixture struct {
	store  storage.Store
	state  auth.State
	svc    *auth.Service
	trail  *audit.Log
	world  *authtest.World
	engine *gin.Engine
	clock  *clock
}

// cheap is an argon2id cost for tests only.
var cheap = auth.Argon2Params{Memory: 1024, Time: 1, Threads: 1}

func newFixture(t testing.TB, state auth.State) *fixture {
	t.Helper()
	st, err := fs.New(fs.Config{Root: t.TempDir()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if state == nil {
		state = memory.New()
	}
	return newFixtureOn(t, st, state, true)
}

func newFixtureOn(t testing.TB, st storage.Store, state auth.State, populate bool) *fixture {
	t.Helper()
	f := &fixture{store: st, state: state, clock: &clock{t: time.Now()}}
	trail, err := audit.New(st, audit.Config{Node: audit.SanitizeNode(t.Name())}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := trail.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	f.trail = trail
	f.svc = auth.New(st, state, auth.Config{Argon2: cheap, Audit: trail, Now: f.clock.Now}, nil)
	if err := f.svc.Start(context.Background(), false); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.svc.Close(); _ = trail.Close() })
	if populate {
		f.world = authtest.NewWorld(t, f.svc)
	}
	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	e.ContextWithFallback = true
	e.Use(httpapi.RequestIDs(), audit.Middleware(trail, f.svc.AuditWho, audit.MiddlewareOptions{}))
	web.New(web.Deps{Service: f.svc, Trail: st, Flusher: trail}).Register(e)
	f.engine = e
	return f
}

type resp struct {
	code int
	body string
	hdr  http.Header
}

func (r resp) json(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(r.body), v); err != nil {
		t.Fatalf("decode %q: %v", r.body, err)
	}
}

// do sends a request; opts are header pairs and *http.Cookie values.
func (f *fixture) do(method, path, body string, opts ...any) resp {
	var rd *strings.Reader
	if body != "" {
		rd = strings.NewReader(body)
	} else {
		rd = strings.NewReader("")
	}
	req := httptest.NewRequest(method, path, rd)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i < len(opts); i++ {
		switch v := opts[i].(type) {
		case *http.Cookie:
			req.AddCookie(v)
		case string:
			req.Header.Set(v, opts[i+1].(string))
			i++
		case *tls.ConnectionState:
			req.TLS = v
		}
	}
	rec := httptest.NewRecorder()
	f.engine.ServeHTTP(rec, req)
	return resp{rec.Code, rec.Body.String(), rec.Header()}
}

func cookie(h http.Header, name string) *http.Cookie {
	for _, c := range (&http.Response{Header: h}).Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// login logs in over HTTP and returns the session cookie and CSRF token.
func (f *fixture) login(t testing.TB, user, pw string, opts ...any) (*http.Cookie, string) {
	t.Helper()
	r := f.do("POST", "/api/auth/login", `{"username":"`+user+`","password":"`+pw+`"}`, opts...)
	if r.code != 200 {
		t.Fatalf("login %s: %d %s", user, r.code, r.body)
	}
	var lr web.LoginResponse
	r.json(t, &lr)
	return cookie(r.hdr, auth.SessionCookie), lr.CSRFToken
}

func TestMatrix(t *testing.T) {
	f := newFixture(t, nil)
	rows, err := authtest.LoadTable(authtest.TablePath())
	if err != nil {
		t.Fatal(err)
	}
	authtest.CheckRoutes(t, f.engine, rows, false)
	served := map[string]bool{}
	for _, r := range authtest.Routes(f.engine) {
		served[r] = true
	}
	authtest.Matrix(t, authtest.Env{
		Engine:    f.engine,
		Authorize: f.world.Authorize,
		Params:    f.world.Params,
		Body:      f.world.Body,
		Skip:      func(r authtest.Row) bool { return !served[r.Method+" "+r.Route] },
	}, rows)
}

func TestMatrixFailsOnUnknownRoute(t *testing.T) {
	f := newFixture(t, nil)
	f.engine.GET("/api/admin/new-thing", func(c *gin.Context) {})
	rows, err := authtest.LoadTable(authtest.TablePath())
	if err != nil {
		t.Fatal(err)
	}
	ft := &testing.T{}
	rec := &recorder{TB: ft}
	authtest.CheckRoutes(rec, f.engine, rows, false)
	if len(rec.errs) != 1 || !strings.Contains(rec.errs[0], "/api/admin/new-thing") {
		t.Fatalf("CheckRoutes errors = %q, want one naming the new route", rec.errs)
	}
}

// recorder captures Errorf calls of a checker under test.
type recorder struct {
	testing.TB
	errs []string
}

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, args ...any) {
	r.errs = append(r.errs, strings.TrimSpace(strings.ReplaceAll(format, "%s", "")+" "+joinArgs(args)))
}

func joinArgs(args []any) string {
	var b strings.Builder
	for _, a := range args {
		if s, ok := a.(string); ok {
			b.WriteString(s + " ")
		}
	}
	return b.String()
}

func TestSessionCookiesAndCSRF(t *testing.T) {
	f := newFixture(t, nil)
	r := f.do("POST", "/api/auth/login", `{"username":"probe","password":"`+f.world.Password+`"}`)
	if r.code != 200 {
		t.Fatalf("login: %d %s", r.code, r.body)
	}
	sc, cc := cookie(r.hdr, auth.SessionCookie), cookie(r.hdr, auth.CSRFCookie)
	if sc == nil || !sc.HttpOnly || sc.SameSite != http.SameSiteLaxMode || sc.Secure || sc.Path != "/" {
		t.Fatalf("session cookie over plain HTTP: %+v", sc)
	}
	if cc == nil || cc.HttpOnly || cc.SameSite != http.SameSiteLaxMode {
		t.Fatalf("csrf cookie: %+v", cc)
	}
	r = f.do("POST", "/api/auth/login", `{"username":"probe","password":"`+f.world.Password+`"}`, &tls.ConnectionState{})
	if sc := cookie(r.hdr, auth.SessionCookie); sc == nil || !sc.Secure {
		t.Fatalf("session cookie over TLS not Secure: %+v", sc)
	}

	ses, csrf := f.login(t, "u-site_admin", f.world.Password)
	if r := f.do("GET", "/api/auth/me", "", ses); r.code != 200 {
		t.Fatalf("me: %d %s", r.code, r.body)
	}
	body := `{"grants":[]}`
	// A header of the token's length and alphabet that differs from it in
	// its first character, whatever that character is (replacing it with a
	// fixed one would be the right token whenever the token starts with it).
	wrong := []byte(csrf)
	if wrong[0] == 'A' {
		wrong[0] = 'B'
	} else {
		wrong[0] = 'A'
	}
	tests := []struct {
		name string
		opts []any
		want int
	}{
		{"no csrf header", []any{ses}, 403},
		{"wrong csrf header", []any{ses, auth.CSRFHeader, string(wrong)}, 403},
		{"csrf of another session", []any{ses, auth.CSRFHeader, func() string { _, c := f.login(t, "u-hub_admin", f.world.Password); return c }()}, 403},
		{"right csrf header", []any{ses, auth.CSRFHeader, csrf}, 400}, // passes CSRF, then fails validation
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if r := f.do("PUT", "/api/admin/users/victim-own/grants", body, tc.opts...); r.code != tc.want {
				t.Fatalf("status %d, want %d: %s", r.code, tc.want, r.body)
			}
		})
	}
	// A form post (cross-site HTML form) cannot reach login: JSON only.
	req := httptest.NewRequest("POST", "/api/auth/login", strings.NewReader("username=probe&password=x"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	f.engine.ServeHTTP(rec, req)
	if rec.Code != http.StatusUnsupportedMediaType {
		t.Fatalf("form login: %d", rec.Code)
	}
	// Logout ends the session everywhere it is presented.
	if r := f.do("POST", "/api/auth/logout", "", ses, auth.CSRFHeader, csrf); r.code != 200 {
		t.Fatalf("logout: %d %s", r.code, r.body)
	}
	if r := f.do("GET", "/api/auth/me", "", ses); r.code != 401 {
		t.Fatalf("me after logout: %d", r.code)
	}
}

func TestWrongPasswordsAndLockout(t *testing.T) {
	f := newFixture(t, nil)
	unknown := f.do("POST", "/api/auth/login", `{"username":"nobody","password":"whatever-long-pw"}`)
	wrong := f.do("POST", "/api/auth/login", `{"username":"probe","password":"wrong-password-here"}`)
	if unknown.code != 401 || wrong.code != 401 {
		t.Fatalf("unknown user %d, wrong password %d", unknown.code, wrong.code)
	}
	var e1, e2 httpapi.ErrorBody
	unknown.json(t, &e1)
	wrong.json(t, &e2)
	if e1.Error != e2.Error {
		t.Fatalf("unknown user and wrong password differ: %q vs %q", e1.Error, e2.Error)
	}
	for range 4 {
		f.do("POST", "/api/auth/login", `{"username":"probe","password":"wrong-password-here"}`)
	}
	// Five failures: now even the right password is refused until the window ends.
	r := f.do("POST", "/api/auth/login", `{"username":"probe","password":"`+f.world.Password+`"}`)
	if r.code != http.StatusTooManyRequests {
		t.Fatalf("login after 5 failures: %d %s", r.code, r.body)
	}
	// Another user from the same address is not locked (per-IP threshold is higher).
	f.login(t, "u-technician", f.world.Password)
	// The window ending (statetest checks the expiry) lifts the lockout.
	if err := f.state.ResetFailures(context.Background(), "user:probe"); err != nil {
		t.Fatal(err)
	}
	f.login(t, "probe", f.world.Password)
	// Every attempt is in the trail.
	recs := f.search(t, "action=auth.login&outcome=denied&limit=100")
	if len(recs) < 6 {
		t.Fatalf("denied logins audited: %d, want >= 6", len(recs))
	}
}

func (f *fixture) search(t testing.TB, query string) []audit.Record {
	t.Helper()
	ses, csrf := f.login(t, "u-hub_admin", f.world.Password)
	_ = csrf
	r := f.do("GET", "/api/admin/audit?"+query, "", ses)
	if r.code != 200 {
		t.Fatalf("audit search: %d %s", r.code, r.body)
	}
	var recs []audit.Record
	r.json(t, &recs)
	return recs
}

func TestSessionInvalidation(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	tests := []struct {
		name   string
		cookie func(t *testing.T) *http.Cookie
	}{
		{"forged", func(*testing.T) *http.Cookie {
			return &http.Cookie{Name: auth.SessionCookie, Value: strings.Repeat("A", 43)}
		}},
		{"malformed", func(*testing.T) *http.Cookie {
			return &http.Cookie{Name: auth.SessionCookie, Value: "../../etc/passwd"}
		}},
		{"oversized", func(*testing.T) *http.Cookie {
			return &http.Cookie{Name: auth.SessionCookie, Value: strings.Repeat("A", 8000)}
		}},
		{"user disabled", func(t *testing.T) *http.Cookie {
			c, _ := f.login(t, "victim-own", f.world.Password)
			if _, err := f.svc.SetDisabled(ctx, "victim-own", true); err != nil {
				t.Fatal(err)
			}
			return c
		}},
		{"password reset by admin", func(t *testing.T) *http.Cookie {
			c, _ := f.login(t, "u-technician", f.world.Password)
			if _, err := f.svc.ResetPassword(ctx, "u-technician"); err != nil {
				t.Fatal(err)
			}
			return c
		}},
		{"expired (absolute lifetime)", func(t *testing.T) *http.Cookie {
			c, _ := f.login(t, "u-reader", f.world.Password)
			f.clock.Add(13 * time.Hour)
			return c
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.cookie(t)
			if r := f.do("GET", "/api/auth/me", "", c); r.code != 401 {
				t.Fatalf("me: %d %s", r.code, r.body)
			}
		})
	}
}

func TestTokens(t *testing.T) {
	f := newFixture(t, nil)
	ses, csrf := f.login(t, "u-site_admin", f.world.Password)
	r := f.do("POST", "/api/admin/tokens", `{"name":"CT scanner","site":"town-a","capabilities":["upload"],"ttl_hours":1}`, ses, auth.CSRFHeader, csrf)
	if r.code != 200 {
		t.Fatalf("create token: %d %s", r.code, r.body)
	}
	var nt web.NewTokenResponse
	r.json(t, &nt)
	if !strings.HasPrefix(nt.Secret, "hrn_"+nt.Token.ID+"_") || nt.Token.SecretSHA256 != "" {
		t.Fatalf("token response %+v", nt)
	}
	bearer := "Bearer " + nt.Secret
	if r := f.do("GET", "/api/auth/me", "", "Authorization", bearer); r.code != 200 {
		t.Fatalf("me with token: %d %s", r.code, r.body)
	}
	// Basic-only DICOMweb clients send the token as the password.
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("ct-scanner:"+nt.Secret))
	if r := f.do("GET", "/api/auth/me", "", "Authorization", basic); r.code != 200 {
		t.Fatalf("me with token as Basic password: %d %s", r.code, r.body)
	}
	// A token needs no CSRF header (browsers never send it by themselves).
	if r := f.do("POST", "/api/auth/logout", "", "Authorization", bearer); r.code != 200 {
		t.Fatalf("token POST: %d %s", r.code, r.body)
	}
	// The stored record holds only the hash.
	rec, err := f.svc.Token(nt.Token.ID)
	if err != nil || rec.SecretSHA256 == "" || strings.Contains(rec.SecretSHA256, nt.Secret[len("hrn_")+17:]) {
		t.Fatalf("stored token %+v %v", rec, err)
	}
	// Last-used shows up in the listing (recorded asynchronously).
	deadline := time.Now().Add(5 * time.Second)
	for {
		r := f.do("GET", "/api/admin/tokens", "", ses)
		var list []auth.TokenView
		r.json(t, &list)
		found := false
		for _, tv := range list {
			if tv.ID == nt.Token.ID && !tv.LastUsed.IsZero() {
				found = true
			}
			if tv.SecretSHA256 != "" {
				t.Fatal("listing leaks secret hashes")
			}
		}
		if found {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("last_used never recorded")
		}
		time.Sleep(20 * time.Millisecond)
	}
	secret := nt.Secret[len("hrn_")+17:]
	forged := "hrn_" + nt.Token.ID + "_" + strings.Repeat("A", len(secret))
	tests := []struct{ name, header string }{
		{"forged secret", "Bearer " + forged},
		{"unknown id", "Bearer hrn_0000000000000000_" + secret},
		{"malformed", "Bearer hrn_../../etc"},
		{"basic with a user password", "Basic dXNlcjpwYXNz"},
		{"basic with a forged token", "Basic " + base64.StdEncoding.EncodeToString([]byte("x:"+forged))},
		{"oversized", "Bearer " + strings.Repeat("x", 10000)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := f.do("GET", "/api/auth/me", "", "Authorization", tc.header)
			if r.code != 401 || r.hdr.Get("WWW-Authenticate") == "" {
				t.Fatalf("status %d %s", r.code, r.body)
			}
		})
	}
	t.Run("expired", func(t *testing.T) {
		f.clock.Add(2 * time.Hour)
		defer f.clock.Add(-2 * time.Hour)
		if r := f.do("GET", "/api/auth/me", "", "Authorization", bearer); r.code != 401 {
			t.Fatalf("expired token: %d", r.code)
		}
	})
	t.Run("revoked", func(t *testing.T) {
		if r := f.do("DELETE", "/api/admin/tokens/"+nt.Token.ID, "", ses, auth.CSRFHeader, csrf); r.code != 200 {
			t.Fatalf("revoke: %d %s", r.code, r.body)
		}
		if r := f.do("GET", "/api/auth/me", "", "Authorization", bearer); r.code != 401 {
			t.Fatalf("revoked token: %d", r.code)
		}
	})
}

func TestBootstrapAndMustChange(t *testing.T) {
	st, err := fs.New(fs.Config{Root: t.TempDir()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	f := newFixtureOn(t, st, memory.New(), false)
	ctx := context.Background()
	if !f.svc.NeedsBootstrap() {
		t.Fatal("empty store does not need bootstrap")
	}
	otp, err := f.svc.Bootstrap(ctx, "admin", "county", "县人民医院")
	if err != nil || len(otp) < 16 {
		t.Fatalf("bootstrap: %q %v", otp, err)
	}
	if _, err := f.svc.Bootstrap(ctx, "admin2", "county", "x"); !errors.Is(err, auth.ErrBootstrapped) {
		t.Fatalf("second bootstrap: %v", err)
	}
	ses, csrf := f.login(t, "admin", otp)
	r := f.do("GET", "/api/admin/users", "", ses)
	if r.code != 403 || !strings.Contains(r.body, "password change required") {
		t.Fatalf("admin API before password change: %d %s", r.code, r.body)
	}
	var me web.MeResponse
	f.do("GET", "/api/auth/me", "", ses).json(t, &me)
	if !me.MustChange {
		t.Fatal("me does not say must_change")
	}
	if r := f.do("POST", "/api/auth/password", `{"current":"`+otp+`","new":"short"}`, ses, auth.CSRFHeader, csrf); r.code != 400 {
		t.Fatalf("weak password: %d", r.code)
	}
	if r := f.do("POST", "/api/auth/password", `{"current":"nope-nope-nope","new":"a much better passphrase"}`, ses, auth.CSRFHeader, csrf); r.code != 400 {
		t.Fatalf("wrong current password: %d", r.code)
	}
	r = f.do("POST", "/api/auth/password", `{"current":"`+otp+`","new":"a much better passphrase"}`, ses, auth.CSRFHeader, csrf)
	if r.code != 200 {
		t.Fatalf("change password: %d %s", r.code, r.body)
	}
	// The old session is gone; the response carries a new one.
	if r := f.do("GET", "/api/auth/me", "", ses); r.code != 401 {
		t.Fatalf("old session after password change: %d", r.code)
	}
	ses2 := cookie(r.hdr, auth.SessionCookie)
	if r := f.do("GET", "/api/admin/users", "", ses2); r.code != 200 {
		t.Fatalf("admin API after change: %d %s", r.code, r.body)
	}
	// The one-time password no longer works.
	if r := f.do("POST", "/api/auth/login", `{"username":"admin","password":"`+otp+`"}`); r.code != 401 {
		t.Fatalf("login with old otp: %d", r.code)
	}
}

func TestAdminFlowAndScoping(t *testing.T) {
	f := newFixture(t, nil)
	ses, csrf := f.login(t, "u-site_admin", f.world.Password)
	post := func(path, body string) resp { return f.do("POST", path, body, ses, auth.CSRFHeader, csrf) }
	// A site admin of town-a creates a village below it and a technician there.
	if r := post("/api/admin/sites", `{"id":"village-a2","name":"甲二村","kind":"village","parent":"town-a"}`); r.code != 200 {
		t.Fatalf("add village: %d %s", r.code, r.body)
	}
	r := post("/api/admin/users", `{"username":"wang.fang","name":"王芳","grants":[{"role":"technician","site":"village-a2"}]}`)
	if r.code != 200 {
		t.Fatalf("add user: %d %s", r.code, r.body)
	}
	var nu web.NewUserResponse
	r.json(t, &nu)
	if nu.OneTimePassword == "" || !nu.User.MustChange || strings.Contains(r.body, "argon2") {
		t.Fatalf("new user response %s", r.body)
	}
	// But not a hub admin, a reader, or anyone at town-b.
	for _, body := range []string{
		`{"username":"evil","grants":[{"role":"hub_admin"}]}`,
		`{"username":"evil","grants":[{"role":"reader","group":"imaging-a"}]}`,
		`{"username":"evil","grants":[{"role":"technician","site":"town-b"}]}`,
		`{"username":"evil","grants":[{"role":"technician","site":"town-a"},{"role":"technician","site":"town-b"}]}`,
	} {
		if r := post("/api/admin/users", body); r.code != 403 {
			t.Errorf("%s: %d %s", body, r.code, r.body)
		}
	}
	// The user list holds only town-a's people.
	var users []web.UserView
	f.do("GET", "/api/admin/users", "", ses).json(t, &users)
	for _, u := range users {
		if u.Username == "victim-other" || u.Username == "u-hub_admin" {
			t.Errorf("site admin sees %s", u.Username)
		}
	}
	// Cannot disable a hub admin (invisible → 404) or themselves (403).
	if r := post("/api/admin/users/u-hub_admin/disable", ""); r.code != 404 {
		t.Errorf("disable hub admin: %d", r.code)
	}
	if r := post("/api/admin/users/u-site_admin/disable", ""); r.code != 403 {
		t.Errorf("disable self: %d", r.code)
	}
	// Path traversal and junk in path parameters: plain 404, nothing touched.
	for _, p := range []string{"/api/admin/users/..%2f..%2fetc%2fpasswd", "/api/admin/users/%2e%2e", "/api/admin/users/" + strings.Repeat("a", 5000),
		"/api/admin/users/victim-own%00"} {
		if r := f.do("GET", p, "", ses); r.code != 404 {
			t.Errorf("GET %s: %d %s", p, r.code, r.body)
		}
	}
	if r := f.do("DELETE", "/api/admin/tokens/..%2f..%2faccounts", "", ses, auth.CSRFHeader, csrf); r.code != 404 {
		t.Errorf("revoke traversal: %d", r.code)
	}
	// Oversized body → 413.
	big := `{"username":"x","name":"` + strings.Repeat("a", 100<<10) + `"}`
	if r := post("/api/admin/users", big); r.code != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized body: %d", r.code)
	}
	// Unknown fields are rejected, not ignored.
	if r := post("/api/admin/users", `{"username":"x","grants":[],"is_admin":true}`); r.code != 400 {
		t.Errorf("unknown field: %d", r.code)
	}
	// Everything above is in the trail, with the acting user and outcome.
	recs := f.search(t, "user=u-site_admin&limit=1000")
	var denied, ok int
	for _, rec := range recs {
		switch rec.Outcome {
		case audit.Denied:
			denied++
		case audit.OK:
			ok++
		}
		http := strings.Contains(rec.Action, " ") // "POST /api/…" vs service events like "auth.login"
		if rec.ClientAddr == "" || (http && rec.RequestID == "") || len(rec.Roles) == 0 || rec.Site != "town-a" {
			t.Fatalf("incomplete record %+v", rec)
		}
	}
	if denied < 5 || ok < 3 {
		t.Fatalf("audited: %d denied, %d ok", denied, ok)
	}
	if rep, err := audit.Verify(context.Background(), f.store); err != nil {
		t.Fatalf("verify: %v %+v", err, rep)
	}
}

func TestHeaderSizeLimits(t *testing.T) {
	f := newFixture(t, nil)
	srv := httptest.NewUnstartedServer(f.engine)
	srv.Config.MaxHeaderBytes = 64 << 10
	srv.Start()
	defer srv.Close()
	req, _ := http.NewRequest("GET", srv.URL+"/api/auth/me", nil)
	req.Header.Set("Authorization", "Bearer "+strings.Repeat("x", 200<<10))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("200 KiB header: %d", res.StatusCode)
	}
}
