package hub

import (
	"bytes"
	"context"
	"encoding/json"
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
	file                               string // the DICOM file of the study
}

// newInstance is another instance of the seeded study: its file with a new
// SOP Instance UID (same length, so the file stays valid). Posted by the
// own site's principals it is a write into the own or — the cross-site
// write — the other site's study.
func newInstance(t *testing.T, d seeded) []byte {
	t.Helper()
	data, err := os.ReadFile(d.file)
	if err != nil {
		t.Fatal(err)
	}
	sop := d.instance
	last := (sop[len(sop)-1]-'0'+5)%10 + '0'
	out := bytes.ReplaceAll(data, []byte(sop), []byte(sop[:len(sop)-1]+string(rune(last))))
	if bytes.Equal(out, data) {
		t.Fatalf("%s does not hold its SOP Instance UID %s", d.file, sop)
	}
	return out
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
	// reader), so the own group's queue holds more than one: each
	// uploaded ECG becomes a task.
	for range 3 {
		uploadECG(t, srv, own.token)
	}
	ownWrite, otherWrite := newInstance(t, own), newInstance(t, other)
	otherBefore := studyAs(t, srv, other)
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
		switch method + " " + route {
		case "POST /api/worklist/tasks/:task/renew", "POST /api/worklist/tasks/:task/release",
			"POST /api/worklist/tasks/:task/complete":
			// No lease token: an authorized caller gets 400, nothing changes.
			return "application/json", []byte(`{"token": ""}`)
		case "POST /api/worklist/tasks/:task/reassign", "POST /api/worklist/tasks/:task/cancel":
			return "application/json", []byte(`{"bogus": 1}`) // 400 once authorized
		case "POST /api/worklist/ecg":
			// Only the id: the task's site and patient come from the
			// stored ECG (issue 14, finding 3).
			d := other
			if isOwn {
				d = own
			}
			return "application/json", []byte(`{"id": "` + d.ecg + `"}`)
		case "POST /dicom-web/studies", "POST /dicom-web/studies/:study":
			// Cross-site writes by Study Instance UID (issue 14, finding
			// 1): a new instance of the own study, or of the other site's
			// study — which must be refused on both STOW forms.
			if isOwn {
				return "application/dicom", ownWrite
			}
			return "application/dicom", otherWrite
		}
		return world.Body(method, route, isOwn)
	}
	engine := srv.Handler()
	authtest.Matrix(t, authtest.Env{
		Engine: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == "POST" && strings.HasPrefix(r.URL.Path, "/dicom-web/studies") {
				// STOW-RS answers per instance: 409 means no instance
				// was stored (PS3.18 10.5.3.3) — for a write into the
				// other site's study, the refusal. The matrix reads it
				// as denied; an own write answering 409 then shows as an
				// unexpected deny.
				rec := httptest.NewRecorder()
				engine.ServeHTTP(rec, r)
				code := rec.Code
				if code == http.StatusConflict {
					code = http.StatusForbidden
				}
				w.WriteHeader(code)
				w.Write(rec.Body.Bytes())
				return
			}
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

	// None of the cross-site writes changed the other site's study.
	if after := studyAs(t, srv, other); after != otherBefore {
		t.Errorf("the other site's study changed during the matrix:\n%s\nwas\n%s", after, otherBefore)
	}

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

// uploadECG uploads an ECG as a site's upload token; the hub makes it a
// reading task of that site.
func uploadECG(t *testing.T, srv *Server, bearer string) {
	t.Helper()
	data, err := os.ReadFile("../ecg/aecg/testdata/Example_aECG.xml")
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest("POST", "/api/ecg", bytes.NewReader(data))
	req.Header.Set("Content-Type", "application/xml")
	req.Header.Set("Authorization", "Bearer "+bearer)
	rec := httptest.NewRecorder()
	srv.Handler().ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("POST /api/ecg: %d %s", rec.Code, rec.Body.String())
	}
}

// studyAs is the study-level QIDO answer for a seeded study as its own
// site's token sees it (everything but the retrieve URL's host).
func studyAs(t *testing.T, srv *Server, d seeded) string {
	t.Helper()
	req := httptest.NewRequest("GET", "/dicom-web/studies?includefield=all&StudyInstanceUID="+d.study, nil)
	req.Header.Set("Authorization", "Bearer "+d.token)
	rec := httptest.NewRecorder()
	srv.Handler().ServeHTTP(rec, req)
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), d.study) {
		t.Fatalf("QIDO of the seeded study %s: %d %s", d.study, rec.Code, rec.Body.String())
	}
	return rec.Body.String()
}

// seed uploads a DICOM file and an ECG as an upload token of site, and
// completes the study at once so its reading task exists.
func seed(t *testing.T, srv *Server, site, dicomFile string) seeded {
	t.Helper()
	_, secret, err := srv.Auth().CreateToken(context.Background(), auth.NewToken{Name: "seed-" + site, Site: site,
		Capabilities: []auth.Capability{auth.CapUpload, auth.CapRead}})
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
	d.file = dicomFile
	return d
}
