package ohif

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/huren-health/huren/errkind"
)

func testDist() fstest.MapFS {
	return fstest.MapFS{
		"index.html":          {Data: []byte("<html>OHIF index</html>")},
		"app-config.js":       {Data: []byte("window.config = {shipped: true};")},
		"app.bundle.123.js":   {Data: []byte("console.log('app')")},
		"0ddf166f.wasm":       {Data: []byte("\x00asm\x01\x00\x00\x00")},
		"assets/favicon.ico":  {Data: []byte("ico")},
		"assets/sub/page.css": {Data: []byte("body{}")},
	}
}

func TestHandler(t *testing.T) {
	h := Handler(testDist(), []byte("window.config = {generated: true};"))
	for _, tc := range []struct {
		method, path string
		status       int
		body, ctype  string
	}{
		{"GET", "/", 200, "OHIF index", "text/html"},
		{"GET", "/index.html", 200, "OHIF index", "text/html"},
		{"GET", "/viewer", 200, "OHIF index", "text/html"},
		{"GET", "/viewer?StudyInstanceUIDs=1.2.3", 200, "OHIF index", "text/html"},
		{"GET", "/viewer/dicomweb", 200, "OHIF index", "text/html"},
		{"GET", "/assets", 200, "OHIF index", "text/html"}, // a directory: no listing
		{"GET", "/app-config.js", 200, "generated: true", "text/javascript"},
		{"GET", "/app.bundle.123.js", 200, "console.log", "text/javascript"},
		{"GET", "/0ddf166f.wasm", 200, "asm", "application/wasm"},
		{"GET", "/assets/sub/page.css", 200, "body{}", "text/css"},
		{"GET", "/missing.bundle.js", 404, "not found", "text/plain"},
		{"GET", "/../../etc/passwd", 200, "OHIF index", "text/html"}, // cleaned to /etc/passwd: an SPA route, never a file outside dist
		{"GET", "/../../etc/ssl/openssl.cnf", 404, "not found", "text/plain"},
		{"GET", "/../app.bundle.123.js", 200, "console.log", "text/javascript"},
		{"HEAD", "/viewer", 200, "", "text/html"},
		{"POST", "/viewer", 405, "not allowed", "text/plain"},
	} {
		req := httptest.NewRequest(tc.method, "http://viewer"+tc.path, nil)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		body, _ := io.ReadAll(rec.Body)
		if rec.Code != tc.status {
			t.Errorf("%s %s: status %d, want %d (body %q)", tc.method, tc.path, rec.Code, tc.status, body)
			continue
		}
		if !strings.Contains(string(body), tc.body) {
			t.Errorf("%s %s: body %q lacks %q", tc.method, tc.path, body, tc.body)
		}
		if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, tc.ctype) {
			t.Errorf("%s %s: Content-Type %q, want %s…", tc.method, tc.path, ct, tc.ctype)
		}
	}
}

func TestHandlerNoCacheForIndexAndConfig(t *testing.T) {
	h := Handler(testDist(), []byte("x"))
	for _, p := range []string{"/", "/viewer", "/app-config.js"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, p, nil))
		if cc := rec.Header().Get("Cache-Control"); cc != "no-store" {
			t.Errorf("%s: Cache-Control %q, want no-store", p, cc)
		}
	}
}

func TestAppConfig(t *testing.T) {
	js, err := AppConfig(Config{DICOMwebRoot: "http://127.0.0.1:8080/dicom-web/"})
	if err != nil {
		t.Fatal(err)
	}
	s := string(js)
	for _, want := range []string{
		`"qidoRoot": "http://127.0.0.1:8080/dicom-web"`,
		`"wadoRoot": "http://127.0.0.1:8080/dicom-web"`,
		`"imageRendering": "wadors"`,
		`"thumbnailRendering": "wadors"`,
		`"supportsWildcard": true`,
		`"enableStudyLazyLoad": true`,
		`"defaultDataSourceName": "huren"`,
		"window.config = hurenConfig;",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("app-config.js lacks %s:\n%s", want, s)
		}
	}
	if strings.Contains(s, "Authorization") {
		t.Errorf("no token given, but app-config.js mentions Authorization")
	}

	js, err = AppConfig(Config{DICOMwebRoot: "https://hub.example/dicom-web", BearerToken: "hrn_abc_DEF-12"})
	if err != nil {
		t.Fatal(err)
	}
	s = string(js)
	for _, want := range []string{`const hurenAuthorization = "Bearer hrn_abc_DEF-12";`, "setServiceImplementation", "getAuthorizationHeader"} {
		if !strings.Contains(s, want) {
			t.Errorf("app-config.js with token lacks %s", want)
		}
	}
}

func TestAppConfigRejects(t *testing.T) {
	for _, c := range []Config{
		{DICOMwebRoot: ""},
		{DICOMwebRoot: "/dicom-web"},
		{DICOMwebRoot: "ftp://h/dicom-web"},
		{DICOMwebRoot: "http://h/dicom-web?x=1"},
		{DICOMwebRoot: "http://h/dicom-web", BearerToken: "a b"},
		{DICOMwebRoot: "http://h/dicom-web", BearerToken: "tok\"; alert(1); \""},
		{DICOMwebRoot: "http://h/dicom-web", BearerToken: "tok\n"},
	} {
		_, err := AppConfig(c)
		if !errors.Is(err, ErrConfig) || errkind.Of(err) != errkind.Invalid {
			t.Errorf("AppConfig(%+v) = %v, want ErrConfig (Invalid)", c, err)
		}
	}
}
