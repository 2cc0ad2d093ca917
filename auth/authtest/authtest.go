// Package authtest provides the authorization matrix harness and a
// ready-made world of sites, groups, users and tokens for HTTP tests.
//
// The matrix (auth/matrix.tsv) lists every route of the hub with the
// expected outcome for each principal column, for a resource of the
// principal's own site and of another site. Matrix runs every row against
// an engine; CheckRoutes fails on any route the engine serves that the
// table does not list, so a new endpoint cannot ship without a decision.
package authtest

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
)

// Columns are the principals of the matrix, in table order. "anon" sends no
// credentials; token:* columns are bearer tokens of the own site.
var Columns = []string{"anon", "technician", "reader", "senior_reader", "referring_doctor", "site_admin", "hub_admin",
	"token:upload", "token:read", "token:report-delivery"}

// Expectation of one cell.
type Expectation string

// Cell values.
const (
	Deny Expectation = "deny" // denied for own and other site
	Own  Expectation = "own"  // allowed on the own site's resource, denied on the other's
	All  Expectation = "all"  // allowed on both
)

// Row is one route of the table.
type Row struct {
	Method string
	Route  string // gin route pattern, e.g. /dicom-web/studies/:study
	Cells  map[string]Expectation
	Line   int
}

// TablePath is the path of auth/matrix.tsv in this source tree.
func TablePath() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "matrix.tsv")
}

// LoadTable parses the table: tab-separated, '#' comments, a header line
// "method route <Columns…>".
func LoadTable(path string) ([]Row, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var rows []Row
	seen := map[string]bool{}
	header := false
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		if !header {
			want := append([]string{"method", "route"}, Columns...)
			if !slices.Equal(f, want) {
				return nil, fmt.Errorf("%s:%d: header must be %q", path, n, strings.Join(want, "\t"))
			}
			header = true
			continue
		}
		if len(f) != 2+len(Columns) {
			return nil, fmt.Errorf("%s:%d: %d fields, want %d", path, n, len(f), 2+len(Columns))
		}
		r := Row{Method: f[0], Route: f[1], Cells: map[string]Expectation{}, Line: n}
		if seen[r.Method+" "+r.Route] {
			return nil, fmt.Errorf("%s:%d: duplicate row %s %s", path, n, r.Method, r.Route)
		}
		seen[r.Method+" "+r.Route] = true
		for i, c := range Columns {
			e := Expectation(f[2+i])
			if e != Deny && e != Own && e != All {
				return nil, fmt.Errorf("%s:%d: cell %q for %s (want deny, own or all)", path, n, e, c)
			}
			r.Cells[c] = e
		}
		rows = append(rows, r)
	}
	return rows, sc.Err()
}

// Routes lists the engine's routes as "METHOD /pattern".
func Routes(engine *gin.Engine) []string {
	var out []string
	for _, r := range engine.Routes() {
		out = append(out, r.Method+" "+r.Path)
	}
	slices.Sort(out)
	return out
}

// CheckRoutes fails t for every engine route missing from the table. With
// strict, it also fails for table rows the engine does not serve (stale
// rows) — use strict from the hub's full-router test.
func CheckRoutes(t testing.TB, engine *gin.Engine, rows []Row, strict bool) {
	t.Helper()
	inTable := map[string]bool{}
	for _, r := range rows {
		inTable[r.Method+" "+r.Route] = true
	}
	served := map[string]bool{}
	for _, r := range Routes(engine) {
		served[r] = true
		if !inTable[r] {
			t.Errorf("route %s is not in the authorization matrix %s: add a row with the intended allow/deny per role", r, TablePath())
		}
	}
	if strict {
		for _, r := range rows {
			if !served[r.Method+" "+r.Route] {
				t.Errorf("matrix row %d (%s %s) names a route the engine does not serve", r.Line, r.Method, r.Route)
			}
		}
	}
}

// Env is what Matrix needs to exercise a route as each principal.
type Env struct {
	Engine http.Handler
	// Authorize decorates a request with the column's credentials (cookie
	// plus CSRF header, or bearer). It is called for every request, so it
	// may open a fresh session each time (rows like logout end sessions).
	Authorize func(t testing.TB, column string, req *http.Request)
	// Params returns path parameter values for a route pattern, for a
	// resource at the principal's own site (own=true) or another site. It
	// must name resources that exist, so an allowed request is not a 404.
	Params func(route string, own bool) map[string]string
	// Body returns a request body and content type for (method, route, own);
	// nil → an empty body. An allowed request may answer 400 (bad input):
	// only 401, 403 and 404 count as denied.
	Body func(method, route string, own bool) (contentType string, body []byte)
	// Skip, if set, skips rows it returns true for (e.g. routes of another
	// package tested elsewhere).
	Skip func(r Row) bool
}

// Denied reports whether a status means the request was refused (or the
// resource hidden): 401, 403 and 404.
func Denied(status int) bool {
	return status == http.StatusUnauthorized || status == http.StatusForbidden || status == http.StatusNotFound
}

// Matrix runs every row × column × {own, other} that the engine serves and
// fails on any outcome different from the table — above all any allow the
// table does not grant.
func Matrix(t *testing.T, env Env, rows []Row) {
	t.Helper()
	for _, r := range rows {
		if env.Skip != nil && env.Skip(r) {
			continue
		}
		for _, col := range Columns {
			for _, own := range []bool{true, false} {
				want := r.Cells[col] == All || (own && r.Cells[col] == Own)
				status, body := Do(t, env, r, col, own)
				if got := !Denied(status); got != want {
					where := "other site"
					if own {
						where = "own site"
					}
					kind := "unexpected DENY"
					if got {
						kind = "UNEXPECTED ALLOW"
					}
					t.Errorf("%s: %s %s as %s on %s: status %d (matrix.tsv line %d says %s): %s",
						kind, r.Method, r.Route, col, where, status, r.Line, r.Cells[col], truncate(body, 200))
				}
			}
		}
	}
}

// Do performs one matrix request and returns its status and body.
func Do(t testing.TB, env Env, r Row, col string, own bool) (int, string) {
	t.Helper()
	path := r.Route
	var params map[string]string
	if env.Params != nil {
		params = env.Params(r.Route, own)
	}
	segs := strings.Split(path, "/")
	for i, s := range segs {
		if strings.HasPrefix(s, ":") || strings.HasPrefix(s, "*") {
			v, ok := params[s[1:]]
			if !ok {
				t.Fatalf("matrix: no value for parameter %s of %s (own=%v); extend Env.Params", s, r.Route, own)
			}
			segs[i] = v
		}
	}
	path = strings.Join(segs, "/")
	var body io.Reader
	ct := ""
	if env.Body != nil {
		var b []byte
		ct, b = env.Body(r.Method, r.Route, own)
		if b != nil {
			body = bytes.NewReader(b)
		}
	}
	req := httptest.NewRequestWithContext(context.Background(), r.Method, path, body)
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	if col != "anon" && env.Authorize != nil {
		env.Authorize(t, col, req)
	}
	rec := httptest.NewRecorder()
	env.Engine.ServeHTTP(rec, req)
	return rec.Code, rec.Body.String()
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
