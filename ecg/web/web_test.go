package web

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/huren-health/huren/ecg/analysis"
	"github.com/huren-health/huren/errkind"
	"github.com/huren-health/huren/httpapi"
	"github.com/huren-health/huren/storage"
	"github.com/huren-health/huren/storage/fs"
)

func newServer(t *testing.T) (*httptest.Server, *Handler, storage.Store) {
	t.Helper()
	gin.SetMode(gin.TestMode)
	st, err := fs.New(fs.Config{Root: t.TempDir()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	h, err := New(st, Config{MaxBytes: 2 << 20}, nil, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	r := gin.New()
	r.Use(httpapi.RequestIDs())
	h.Register(r.Group("/api"))
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return srv, h, st
}

type result struct {
	ID            string  `json:"id"`
	Format        string  `json:"format"`
	FS            float64 `json:"fs"`
	Beats         []int   `json:"beats"`
	Interpretable bool    `json:"interpretable"`
	Critical      bool    `json:"critical"`
}

func post(t *testing.T, url, ct string, body io.Reader) (int, []byte) {
	t.Helper()
	resp, err := http.Post(url, ct, body)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func TestUploadEachFormat(t *testing.T) {
	srv, h, st := newServer(t)
	var mu sync.Mutex
	var hooked []string
	h.OnAnalyzed = func(_ context.Context, a *analysis.Analysis) error {
		mu.Lock()
		defer mu.Unlock()
		hooked = append(hooked, a.ID)
		return nil
	}
	files := []struct{ path, ct, format, ext string }{
		{"../dicomwave/testdata/waveform_ecg.dcm", "application/dicom", "dicom", "dcm"},
		{"../dicomwave/testdata/wave_dfl", "application/octet-stream", "dicom", "dcm"},
		{"../aecg/testdata/Example_aECG.xml", "application/xml", "aecg", "xml"},
		{"../scp/testdata/Example.scp", "application/octet-stream", "scp", "scp"},
	}
	for _, f := range files {
		raw, err := os.ReadFile(f.path)
		if err != nil {
			t.Fatal(err)
		}
		code, body := post(t, srv.URL+"/api/ecg", f.ct, bytes.NewReader(raw))
		if code != 200 {
			t.Fatalf("%s: %d %s", f.path, code, body)
		}
		var r result
		json.Unmarshal(body, &r)
		if r.Format != f.format || r.ID == "" || len(r.Beats) == 0 {
			t.Errorf("%s: %+v", f.path, r)
		}
		// Original stored byte-for-byte.
		rc, _, err := st.Get(context.Background(), "ecg/"+r.ID+"/source."+f.ext)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(rc)
		rc.Close()
		if !bytes.Equal(got, raw) {
			t.Errorf("%s: stored source differs", f.path)
		}
		for _, sfx := range []string{"", "/svg", "/png"} {
			resp, err := http.Get(srv.URL + "/api/ecg/" + r.ID + sfx)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || len(b) < 500 {
				t.Errorf("GET %s%s: %d (%d bytes)", r.ID, sfx, resp.StatusCode, len(b))
			}
		}
	}
	if len(hooked) != len(files) {
		t.Errorf("hook ran %d times", len(hooked))
	}
}

func TestUploadWFDBMultipart(t *testing.T) {
	srv, _, st := newServer(t)
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, ext := range []string{"hea", "dat", "atr"} {
		b, err := os.ReadFile("../wfdb/testdata/100s." + ext)
		if err != nil {
			t.Fatal(err)
		}
		w, _ := mw.CreateFormFile("file", "100s."+ext)
		w.Write(b)
	}
	mw.Close()
	code, body := post(t, srv.URL+"/api/ecg", mw.FormDataContentType(), &buf)
	if code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	var r result
	json.Unmarshal(body, &r)
	if r.Format != "wfdb" || r.FS != 360 || len(r.Beats) < 11 {
		t.Errorf("%+v", r)
	}
	for _, ext := range []string{"hea", "dat", "atr"} {
		if _, err := st.Stat(context.Background(), "ecg/"+r.ID+"/source."+ext); err != nil {
			t.Errorf("source.%s: %v", ext, err)
		}
	}
	resp, _ := http.Get(srv.URL + "/api/ecg/" + r.ID + "/svg?speed=50&gain=20")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/svg+xml" {
		t.Errorf("svg: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	resp.Body.Close()
}

func TestBadUploads(t *testing.T) {
	srv, _, st := newServer(t)
	dcm, _ := os.ReadFile("../dicomwave/testdata/waveform_ecg.dcm")
	hea, _ := os.ReadFile("../wfdb/testdata/100s.hea")
	empty, _ := os.ReadFile("../aecg/testdata/empty.xml")
	tests := []struct {
		name, ct string
		body     []byte
		status   int
	}{
		{"empty body", "application/octet-stream", nil, 400},
		{"garbage", "application/octet-stream", []byte("hello, this is not an ECG"), 415},
		{"truncated DICOM", "application/dicom", dcm[:len(dcm)/2], 400},
		{"xml says dicom", "application/dicom", empty, 415},
		{"aECG without waveform", "application/xml", empty, 422},
		{"WFDB header alone", "text/plain", hea, 422},
		{"too large", "application/octet-stream", make([]byte, 3<<20), 413},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, body := post(t, srv.URL+"/api/ecg", tc.ct, bytes.NewReader(tc.body))
			if code != tc.status {
				t.Errorf("status %d, want %d: %s", code, tc.status, body)
			}
			if !strings.Contains(string(body), `"error"`) {
				t.Errorf("no error envelope: %s", body)
			}
		})
	}
	n := 0
	if err := st.List(context.Background(), "ecg/", func(storage.Info) error { n++; return nil }); err != nil {
		t.Fatalf("listing the store: %v", err)
	}
	if n != 0 {
		t.Errorf("%d objects stored from bad uploads", n)
	}
	for _, p := range []string{"/api/ecg/not-a-uuid", "/api/ecg/6f1c5b2e-1111-4a2b-9c3d-000000000000/svg"} {
		resp, err := http.Get(srv.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 404 {
			t.Errorf("GET %s: %d", p, resp.StatusCode)
		}
		resp.Body.Close()
	}
}

func TestHookFailureKeepsData(t *testing.T) {
	srv, h, st := newServer(t)
	h.OnAnalyzed = func(context.Context, *analysis.Analysis) error { return storage.ErrUnavailable }
	dcm, _ := os.ReadFile("../dicomwave/testdata/waveform_ecg.dcm")
	code, body := post(t, srv.URL+"/api/ecg", "application/dicom", bytes.NewReader(dcm))
	if code != 503 {
		t.Fatalf("status %d: %s", code, body)
	}
	n := 0
	if err := st.List(context.Background(), "ecg/", func(storage.Info) error { n++; return nil }); err != nil {
		t.Fatalf("listing the store: %v", err)
	}
	if n != 3 {
		t.Errorf("%d objects, want source + record + analysis kept", n)
	}
}

// scopeHeader carries the test caller's scope: absent = nil (all sites),
// "" = empty (none), else comma-separated sites.
const scopeHeader = "X-Test-Scope"

func newScopedServer(t *testing.T, uploadSite func(*gin.Context) (string, error)) (*httptest.Server, *Handler, storage.Store) {
	t.Helper()
	gin.SetMode(gin.TestMode)
	st, err := fs.New(fs.Config{Root: t.TempDir()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{MaxBytes: 2 << 20, UploadSite: uploadSite,
		Scope: func(c *gin.Context) ([]string, error) {
			v, ok := c.Request.Header[scopeHeader]
			switch {
			case !ok:
				return nil, nil
			case v[0] == "":
				return []string{}, nil
			}
			return strings.Split(v[0], ","), nil
		}}
	h, err := New(st, cfg, nil, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	r := gin.New()
	r.Use(httpapi.RequestIDs())
	h.Register(r.Group("/api"))
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return srv, h, st
}

func get(t *testing.T, url string, scope *string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if scope != nil {
		req.Header.Set(scopeHeader, *scope)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// errShape is the error envelope with the parts that differ per request
// (request id, the id in the message) normalised away.
func errShape(t *testing.T, body []byte, id string) string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("not JSON: %s", body)
	}
	delete(m, "request_id")
	if msg, ok := m["error"].(string); ok {
		m["error"] = strings.ReplaceAll(msg, id, "ID")
	}
	b, _ := json.Marshal(m)
	return string(b)
}

func TestSiteScope(t *testing.T) {
	srv, h, st := newScopedServer(t, func(*gin.Context) (string, error) { return "town-a", nil })
	type hookCall struct{ id, aid, site string }
	var mu sync.Mutex
	var calls []hookCall
	legacy := 0
	h.OnAnalyzed = func(context.Context, *analysis.Analysis) error { mu.Lock(); legacy++; mu.Unlock(); return nil }
	h.OnAnalyzedAt = func(_ context.Context, a *analysis.Analysis, id, site string) error {
		mu.Lock()
		defer mu.Unlock()
		calls = append(calls, hookCall{id, a.ID, site})
		return nil
	}
	dcm, err := os.ReadFile("../dicomwave/testdata/waveform_ecg.dcm")
	if err != nil {
		t.Fatal(err)
	}
	code, body := post(t, srv.URL+"/api/ecg", "application/dicom", bytes.NewReader(dcm))
	if code != 200 {
		t.Fatalf("upload: %d %s", code, body)
	}
	var r result
	if err := json.Unmarshal(body, &r); err != nil || r.ID == "" {
		t.Fatalf("upload answer %s", body)
	}
	if len(calls) != 1 || calls[0] != (hookCall{r.ID, r.ID, "town-a"}) || legacy != 1 {
		t.Errorf("hooks: %+v, legacy %d", calls, legacy)
	}
	// The site is durable in record.json.
	rc, _, err := st.Get(context.Background(), "ecg/"+r.ID+"/record.json")
	if err != nil {
		t.Fatal(err)
	}
	var rec Record
	err = json.NewDecoder(rc).Decode(&rec)
	rc.Close()
	if err != nil || rec.Site != "town-a" || rec.ReceivedAt.IsZero() {
		t.Errorf("record.json: %+v %v", rec, err)
	}
	// A legacy ECG: analysis and source copied without record.json.
	legacyID := "6f1c5b2e-1111-4a2b-9c3d-00000000abcd"
	for _, f := range []string{"analysis.json", "source.dcm"} {
		rc, _, err := st.Get(context.Background(), "ecg/"+r.ID+"/"+f)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		if _, err := st.Put(context.Background(), "ecg/"+legacyID+"/"+f, bytes.NewReader(b), storage.PutOptions{Size: int64(len(b))}); err != nil {
			t.Fatal(err)
		}
	}
	missing := "6f1c5b2e-1111-4a2b-9c3d-000000000000"
	_, missBody := get(t, srv.URL+"/api/ecg/"+missing, nil)
	wantShape := errShape(t, missBody, missing)
	if !strings.Contains(wantShape, `"status":404`) {
		t.Fatalf("missing id body: %s", missBody)
	}

	s := func(v string) *string { return &v }
	tests := []struct {
		name   string
		id     string
		scope  *string
		status int
	}{
		{"own site", r.ID, s("town-a"), 200},
		{"one of several sites", r.ID, s("town-b,town-a"), 200},
		{"other site", r.ID, s("town-b"), 404},
		{"empty scope", r.ID, s(""), 404},
		{"nil scope", r.ID, nil, 200},
		{"legacy, nil scope", legacyID, nil, 200},
		{"legacy, restricted scope", legacyID, s("town-a"), 404},
		{"missing, own scope", missing, s("town-a"), 404},
	}
	for _, tc := range tests {
		for _, sfx := range []string{"", "/svg", "/png"} {
			t.Run(tc.name+sfx, func(t *testing.T) {
				code, body := get(t, srv.URL+"/api/ecg/"+tc.id+sfx, tc.scope)
				if code != tc.status {
					t.Fatalf("status %d, want %d: %.200s", code, tc.status, body)
				}
				if code == 404 {
					if got := errShape(t, body, tc.id); got != wantShape {
						t.Errorf("404 body %s, want the missing-id body %s", got, wantShape)
					}
				}
			})
		}
	}
}

func TestUploadSiteRefused(t *testing.T) {
	srv, h, st := newScopedServer(t, func(*gin.Context) (string, error) {
		return "", errkind.New(errkind.Forbidden, "test: site may not upload ECGs")
	})
	hooked := false
	h.OnAnalyzedAt = func(context.Context, *analysis.Analysis, string, string) error { hooked = true; return nil }
	dcm, _ := os.ReadFile("../dicomwave/testdata/waveform_ecg.dcm")
	code, body := post(t, srv.URL+"/api/ecg", "application/dicom", bytes.NewReader(dcm))
	if code != 403 || !strings.Contains(string(body), "may not upload") {
		t.Errorf("status %d: %s", code, body)
	}
	n := 0
	if err := st.List(context.Background(), "ecg/", func(storage.Info) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	if n != 0 || hooked {
		t.Errorf("refused upload left %d objects, hook ran %v", n, hooked)
	}
}

// TestUploadContentTypes (issue 14, finding 11): a body is accepted only
// under a documented Content-Type; anything else (text/plain, curl's
// default form type, none) is 415 with a message naming the accepted
// types, and nothing is stored — however recognisable the content.
func TestUploadContentTypes(t *testing.T) {
	srv, _, st := newServer(t)
	aecg, err := os.ReadFile("../aecg/testdata/Example_aECG.xml")
	if err != nil {
		t.Fatal(err)
	}
	part := func(ct string) (string, io.Reader) {
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		hdr := textproto.MIMEHeader{}
		hdr.Set("Content-Disposition", `form-data; name="file"; filename="ecg.xml"`)
		if ct != "" {
			hdr.Set("Content-Type", ct)
		}
		w, _ := mw.CreatePart(hdr)
		w.Write(aecg)
		mw.Close()
		return mw.FormDataContentType(), &buf
	}
	for _, tc := range []struct {
		name, ct string
		multi    bool
		want     int
	}{
		{"text/plain", "text/plain", false, 415},
		{"curl's default", "application/x-www-form-urlencoded", false, 415},
		{"no Content-Type", "", false, 415},
		{"text/plain part", "text/plain", true, 415},
		{"part without Content-Type", "", true, 415},
		{"application/xml with charset", "application/xml; charset=utf-8", false, 200},
		{"text/xml part", "text/xml", true, 200},
		{"octet-stream, recognised from the content", "application/octet-stream", false, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var n0 int
			st.List(context.Background(), "ecg/", func(storage.Info) error { n0++; return nil })
			ct, body := tc.ct, io.Reader(bytes.NewReader(aecg))
			if tc.multi {
				ct, body = part(tc.ct)
			}
			code, resp := post(t, srv.URL+"/api/ecg", ct, body)
			if code != tc.want {
				t.Fatalf("status %d, want %d: %s", code, tc.want, resp)
			}
			if code != 415 {
				return
			}
			for _, want := range []string{"application/dicom", "application/xml", "application/octet-stream", "multipart/form-data"} {
				if !strings.Contains(string(resp), want) {
					t.Errorf("415 answer does not name %s: %s", want, resp)
				}
			}
			var n int
			st.List(context.Background(), "ecg/", func(storage.Info) error { n++; return nil })
			if n != n0 {
				t.Errorf("%d objects stored by a refused upload", n-n0)
			}
		})
	}
}
