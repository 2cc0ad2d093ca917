package web

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/huren-health/huren/ecg/analysis"
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
	st.List(context.Background(), "ecg/", func(storage.Info) error { n++; return nil })
	if n != 0 {
		t.Errorf("%d objects stored from bad uploads", n)
	}
	for _, p := range []string{"/api/ecg/not-a-uuid", "/api/ecg/6f1c5b2e-1111-4a2b-9c3d-000000000000/svg"} {
		resp, _ := http.Get(srv.URL + p)
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
	st.List(context.Background(), "ecg/", func(storage.Info) error { n++; return nil })
	if n != 2 {
		t.Errorf("%d objects, want source + analysis kept", n)
	}
}
