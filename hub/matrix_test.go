package hub

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/huren-health/huren/auth"
	"github.com/huren-health/huren/auth/authtest"
)

// seeded is one site's data in the matrix world: a study, an ECG and the
// study's reading task (in the site's reading group).
type seeded struct {
	study, series, instance, ecg, task string
	token                              string // the site's upload token
}

// matrixRules routes each township (and its village) to its own reading
// group, so a task of the own site is in imaging-a's queue and one of the
// other site in imaging-b's.
const matrixRules = `{"default": {"group": "county-reading"}, "rules": [
 {"name": "town-a", "match": {"site": ["town-a", "village-a1"]}, "group": "imaging-a"},
 {"name": "town-b", "match": {"site": ["town-b"]}, "group": "imaging-b"}]}`

// TestAuthorizationMatrix runs auth/matrix.tsv against the fully assembled
// hub: every route the hub serves must have a row (unknown routes fail),
// and every role × own/other site gets exactly the outcome in the table.
func TestAuthorizationMatrix(t *testing.T) {
	cfg := embeddedConfig(t)
	cfg.RoutingRules = filepath.Join(t.TempDir(), "rules.json")
	if err := os.WriteFile(cfg.RoutingRules, []byte(matrixRules), 0o600); err != nil {
		t.Fatal(err)
	}
	srv, err := open(context.Background(), cfg, quietLog(), io.Discard,
		openOptions{argon2: auth.Argon2Params{Memory: 1024, Time: 1, Threads: 1}})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	rows, err := authtest.LoadTable("../auth/matrix.tsv")
	if err != nil {
		t.Fatal(err)
	}
	authtest.CheckRoutes(t, srv.Engine(), rows, true)

	world := authtest.NewWorld(t, srv.Auth())
	own := seed(t, srv, authtest.OwnSite, testFile)
	other := seed(t, srv, authtest.OtherSite, "../ingest/testdata/charset/chrX1.dcm")
	// claim-next hands out a task per allowed caller (reader, senior
	// reader), so the own group's queue holds more than one.
	for i := range 3 {
		worklistECG(t, srv, own.token, fmt.Sprintf("queue-a-%d", i), authtest.OwnSite)
	}
	// Params is called first for every matrix request; the worklist
	// routes keyed by query (?group=) read which side it was for.
	lastOwn := true
	params := func(route string, isOwn bool) map[string]string {
		lastOwn = isOwn
		p := world.Params(route, isOwn)
		d := other
		p["group"] = authtest.OtherGrp
		if isOwn {
			d = own
			p["group"] = authtest.OwnGroup
		}
		p["study"], p["series"], p["instance"], p["frames"], p["id"] = d.study, d.series, d.instance, "1", d.ecg
		p["tagpath"] = "7FE00010"
		p["task"] = d.task
		return p
	}
	body := func(method, route string, isOwn bool) (string, []byte) {
		site := authtest.OtherSite
		if isOwn {
			site = authtest.OwnSite
		}
		switch method + " " + route {
		case "POST /api/worklist/tasks/:task/renew", "POST /api/worklist/tasks/:task/release",
			"POST /api/worklist/tasks/:task/complete":
			// No lease token: an authorized caller gets 400, nothing changes.
			return "application/json", []byte(`{"token": ""}`)
		case "POST /api/worklist/tasks/:task/reassign", "POST /api/worklist/tasks/:task/cancel":
			return "application/json", []byte(`{"bogus": 1}`) // 400 once authorized
		case "POST /api/worklist/ecg":
			return "application/json", []byte(`{"id": "matrix-ecg-` + site + `", "site": "` + site + `"}`)
		}
		return world.Body(method, route, isOwn)
	}
	engine := srv.Handler()
	authtest.Matrix(t, authtest.Env{
		Engine: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch r.URL.Path {
			case "/api/worklist/tasks", "/api/worklist/events":
				g := authtest.OtherGrp
				if lastOwn {
					g = authtest.OwnGroup
				}
				r.URL.RawQuery = "group=" + g
			}
			if r.URL.Path == "/api/worklist/events" {
				// The stream ends as soon as its status is written.
				ctx, cancel := context.WithCancel(r.Context())
				defer cancel()
				r = r.WithContext(ctx)
				w = &cancelOnHeader{ResponseWriter: w, cancel: cancel}
			}
			engine.ServeHTTP(w, r)
		}),
		Authorize: world.Authorize,
		Params:    params,
		Body:      body,
	}, rows)

	// The searches the table marks "all" must return nothing of the other
	// site's study — the same empty list as for a UID that does not exist.
	_, reader, err := srv.Auth().CreateToken(context.Background(), auth.NewToken{Name: "reader-a",
		Site: authtest.OwnSite, Capabilities: []auth.Capability{auth.CapRead}})
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{
		"/dicom-web/studies/" + other.study + "/series",
		"/dicom-web/studies/" + other.study + "/instances",
		"/dicom-web/studies/" + other.study + "/series/" + other.series + "/instances",
		"/dicom-web/studies/1.2.3.4.5.999/series",
	} {
		req := httptest.NewRequest("GET", path, nil)
		req.Header.Set("Authorization", "Bearer "+reader)
		rec := httptest.NewRecorder()
		srv.Handler().ServeHTTP(rec, req)
		if rec.Code != http.StatusOK || bytes.TrimSpace(rec.Body.Bytes()) == nil || string(bytes.TrimSpace(rec.Body.Bytes())) != "[]" {
			t.Errorf("GET %s as town-a reader: %d %s, want 200 []", path, rec.Code, rec.Body.String())
		}
	}
}

// cancelOnHeader cancels a request's context once the status is written,
// so a Server-Sent Events stream answers its status and returns.
type cancelOnHeader struct {
	http.ResponseWriter
	cancel func()
}

func (w *cancelOnHeader) WriteHeader(code int) {
	w.ResponseWriter.WriteHeader(code)
	w.cancel()
}

func (w *cancelOnHeader) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// worklistPost posts JSON to the worklist API with a bearer token and
// returns the task it answers.
func worklistPost(t *testing.T, srv *Server, bearer, path, body string) map[string]any {
	t.Helper()
	req := httptest.NewRequest("POST", "/api/worklist"+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+bearer)
	rec := httptest.NewRecorder()
	srv.Handler().ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("POST /api/worklist%s: %d %s", path, rec.Code, rec.Body.String())
	}
	var v map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// worklistECG queues an ECG reading task for site through the API.
func worklistECG(t *testing.T, srv *Server, bearer, id, site string) {
	t.Helper()
	worklistPost(t, srv, bearer, "/ecg", `{"id": "`+id+`", "site": "`+site+`"}`)
}

// seed uploads a DICOM file and an ECG as an upload token of site, and
// completes the study at once so its reading task exists.
func seed(t *testing.T, srv *Server, site, dicomFile string) seeded {
	t.Helper()
	_, secret, err := srv.Auth().CreateToken(context.Background(), auth.NewToken{Name: "seed-" + site, Site: site,
		Capabilities: []auth.Capability{auth.CapUpload}})
	if err != nil {
		t.Fatal(err)
	}
	post := func(path, ctype, file string) map[string]any {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		req := httptest.NewRequest("POST", path, bytes.NewReader(data))
		req.Header.Set("Content-Type", ctype)
		req.Header.Set("Authorization", "Bearer "+secret)
		rec := httptest.NewRecorder()
		srv.Handler().ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			t.Fatalf("seed %s at %s: %d %s", file, site, rec.Code, rec.Body.String())
		}
		var v map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	stow := post("/dicom-web/studies", "application/dicom", dicomFile)
	ref := stow["00081199"].(map[string]any)["Value"].([]any)[0].(map[string]any)
	url := ref["00081190"].(map[string]any)["Value"].([]any)[0].(string)
	var d seeded
	// …/studies/{study}/series/{series}/instances/{instance}
	parts := bytes.Split([]byte(url), []byte("/"))
	n := len(parts)
	d.study, d.series, d.instance = string(parts[n-5]), string(parts[n-3]), string(parts[n-1])
	ecg := post("/api/ecg", "application/xml", "../ecg/aecg/testdata/Example_aECG.xml")
	id, _ := ecg["id"].(string)
	if id == "" {
		t.Fatalf("seed ECG: no id in %v", ecg)
	}
	d.ecg = id
	task := worklistPost(t, srv, secret, "/studies/"+d.study+"/complete", "")
	d.task, _ = task["id"].(string)
	group := map[string]string{authtest.OwnSite: authtest.OwnGroup, authtest.OtherSite: authtest.OtherGrp}[site]
	if d.task == "" || task["site"] != site || task["group"] != group {
		t.Fatalf("seed study task: %v", task)
	}
	d.token = secret
	return d
}
