package auth_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/huren-health/huren/auth"
	"github.com/huren-health/huren/auth/authtest"
	"github.com/huren-health/huren/auth/memory"
	"github.com/huren-health/huren/auth/redis"
	"github.com/huren-health/huren/internal/testbackend"
)

// BenchmarkAuthenticateAndAuthorize measures what authentication plus
// authorization add to a request: Authenticate (session or bearer),
// Require(StudyRead) and the Scope hook a QIDO handler calls. "none" is the
// same engine without them; the difference is the cost. p50-ns is the
// median of individual requests.
func BenchmarkAuthenticateAndAuthorize(b *testing.B) {
	gin.SetMode(gin.ReleaseMode)
	run := func(b *testing.B, state auth.State) {
		svc := newService(b, newStore(b), state)
		w := authtest.NewWorld(b, svc)
		id, _, err := svc.Login(context.Background(), "u-technician", w.Password, "10.0.0.1")
		if err != nil {
			b.Fatal(err)
		}
		handler := func(c *gin.Context) {
			sites, err := svc.Scope(c)
			if err != nil || len(sites) != 1 {
				c.AbortWithStatus(500)
				return
			}
			c.Status(204)
		}
		plain := gin.New()
		plain.GET("/studies", func(c *gin.Context) { c.Status(204) })
		guarded := gin.New()
		guarded.GET("/studies", svc.Authenticate(), svc.Require(auth.StudyRead), handler)
		cases := []struct {
			name   string
			engine *gin.Engine
			set    func(*http.Request)
		}{
			{"none", plain, func(*http.Request) {}},
			{"session", guarded, func(r *http.Request) { r.AddCookie(&http.Cookie{Name: auth.SessionCookie, Value: id}) }},
			{"token", guarded, func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+w.Bearer["token:read"]) }},
		}
		for _, tc := range cases {
			b.Run(tc.name, func(b *testing.B) {
				req := httptest.NewRequest("GET", "/studies", nil)
				tc.set(req)
				durs := make([]time.Duration, 0, b.N)
				b.ResetTimer()
				for b.Loop() {
					rec := httptest.NewRecorder()
					t0 := time.Now()
					tc.engine.ServeHTTP(rec, req)
					durs = append(durs, time.Since(t0))
					if rec.Code != 204 {
						b.Fatalf("status %d", rec.Code)
					}
				}
				slices.Sort(durs)
				b.ReportMetric(float64(durs[len(durs)/2].Nanoseconds()), "p50-ns")
			})
		}
	}
	b.Run("memory", func(b *testing.B) { run(b, memory.New()) })
	b.Run("redis", func(b *testing.B) {
		addr := testbackend.RedisAddr(b)
		s, err := redis.Open("redis://"+addr+"/0", testbackend.UniqueName("huren-bench-auth-")+":")
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		defer s.Purge(context.Background())
		run(b, s)
	})
}
