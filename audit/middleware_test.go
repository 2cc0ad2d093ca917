package audit_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/huren-health/huren/audit"
	"github.com/huren-health/huren/httpapi"
)

func TestMiddleware(t *testing.T) {
	gin.SetMode(gin.ReleaseMode)
	st := newStore(t)
	l := newLog(t, st, "mw", 0)
	e := gin.New()
	who := func(c *gin.Context) (string, []string, string) {
		if c.GetHeader("X-Test-User") == "" {
			return "", nil, ""
		}
		return c.GetHeader("X-Test-User"), []string{"reader@group:imaging-a"}, "county"
	}
	e.Use(httpapi.RequestIDs(), audit.Middleware(l, who, audit.MiddlewareOptions{Skip: func(c *gin.Context) bool { return c.FullPath() == "/healthz" }}))
	e.GET("/healthz", func(c *gin.Context) { c.Status(200) })
	e.GET("/studies/:study", func(c *gin.Context) {
		if c.Param("study") == "other" {
			c.AbortWithStatus(404)
			return
		}
		audit.SetPatient(c, "P001")
		audit.SetResource(c, "study:"+c.Param("study"))
		c.Status(200)
	})
	e.POST("/denied", func(c *gin.Context) { c.AbortWithStatus(403) })
	send := func(method, path string, hdr map[string]string) {
		req := httptest.NewRequest(method, path, nil)
		req.RemoteAddr = "10.9.8.7:1234"
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		e.ServeHTTP(httptest.NewRecorder(), req)
	}
	send("GET", "/healthz", nil)
	send("GET", "/studies/1.2.3", map[string]string{"X-Test-User": "li.wei", audit.PurposeHeader: "互认 lookup " + strings.Repeat("长", 300)})
	send("GET", "/studies/other", map[string]string{"X-Test-User": "li.wei"})
	send("POST", "/denied", nil)
	send("GET", "/nowhere", nil)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := audit.Search(context.Background(), st, audit.Query{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	var events []audit.Event
	for i := len(got) - 1; i >= 0; i-- { // oldest first
		events = append(events, got[i].Event)
	}
	want := []audit.Event{
		{User: "li.wei", Roles: []string{"reader@group:imaging-a"}, Site: "county", Action: "GET /studies/:study", Resource: "study:1.2.3",
			Patient: "P001", Outcome: audit.OK, Status: 200, ClientAddr: "10.9.8.7"},
		{User: "li.wei", Roles: []string{"reader@group:imaging-a"}, Site: "county", Action: "GET /studies/:study", Resource: "/studies/other",
			Outcome: audit.Failed, Status: 404, ClientAddr: "10.9.8.7"},
		{Action: "POST /denied", Resource: "/denied", Outcome: audit.Denied, Status: 403, ClientAddr: "10.9.8.7"},
		{Action: "GET unmatched", Resource: "/nowhere", Outcome: audit.Failed, Status: 404, ClientAddr: "10.9.8.7"},
	}
	if d := cmp.Diff(want, events, cmpopts.IgnoreFields(audit.Event{}, "Time", "RequestID", "Purpose")); d != "" {
		t.Fatalf("events (-want +got):\n%s", d)
	}
	if p := events[0].Purpose; !strings.HasPrefix(p, "互认 lookup") || len(p) > 200 || !strings.HasSuffix(p, "长") {
		t.Fatalf("purpose %q (len %d): want truncated on a rune boundary", p, len(p))
	}
	for _, e := range events {
		if e.RequestID == "" || e.Time.IsZero() {
			t.Fatalf("event without request id or time: %+v", e)
		}
	}
}
