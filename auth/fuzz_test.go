package auth_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/huren-health/huren/auth"
	"github.com/huren-health/huren/auth/authtest"
	"github.com/huren-health/huren/auth/memory"
)

// FuzzAuthenticate feeds arbitrary Authorization headers and session
// cookies to Authenticate: never a panic, and never an accepted request
// unless the credential is exactly a valid one.
func FuzzAuthenticate(f *testing.F) {
	gin.SetMode(gin.ReleaseMode)
	svc := newService(f, newStore(f), memory.New())
	w := authtest.NewWorld(f, svc)
	valid := w.Bearer["token:read"]
	e := gin.New()
	e.GET("/x", svc.Authenticate(), func(c *gin.Context) { c.Status(204) })
	f.Add("Bearer "+valid, "")
	f.Add("Bearer "+valid[:len(valid)-1]+"B", "")
	f.Add("bearer hrn_", "")
	f.Add("", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
	f.Add("Basic Zm9vOmJhcg==", "x;y")
	f.Fuzz(func(t *testing.T, authz, cookie string) {
		req := httptest.NewRequest("GET", "/x", nil)
		if authz != "" {
			req.Header["Authorization"] = []string{authz}
		}
		if cookie != "" {
			req.Header["Cookie"] = []string{auth.SessionCookie + "=" + cookie}
		}
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		if rec.Code == 204 && authz != "Bearer "+valid && authz != "bearer "+valid && authz != "BEARER "+valid {
			if _, err := svc.TokenPrincipal(req.Context(), authz); err != nil {
				t.Fatalf("accepted %q / %q", authz, cookie)
			}
		}
		if rec.Code != 204 && rec.Code != http.StatusUnauthorized {
			t.Fatalf("status %d for %q / %q", rec.Code, authz, cookie)
		}
	})
}

// FuzzCheckPassword: arbitrary stored hashes never panic or allocate
// beyond the parameter bounds.
func FuzzCheckPassword(f *testing.F) {
	h, _ := auth.HashPassword("pw", cheap)
	f.Add("pw", h)
	f.Add("pw", "$argon2id$v=19$m=1,t=1,p=1$$")
	f.Add("", "$argon2id$v=19$m=1024,t=1,p=255$AAAA$AAAA")
	f.Fuzz(func(t *testing.T, pw, phc string) {
		_, _ = auth.CheckPassword(pw, phc)
	})
}
