package dicomweb_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/huren-health/huren/storage"
)

func (e *env) objectKeys() []string {
	e.t.Helper()
	var out []string
	if err := e.store.List(context.Background(), "dicom/", func(i storage.Info) error {
		out = append(out, i.Key)
		return nil
	}); err != nil {
		e.t.Fatal(err)
	}
	return out
}

func TestSTOWBadInput(t *testing.T) { forEachBackend(t, testSTOWBadInput) }

func testSTOWBadInput(t *testing.T, b backends) {
	files := seriesFiles(t)
	good := readFile(t, files[0])
	good2 := readFile(t, files[1])

	t.Run("mixed request: good parts stored, each bad one failed", func(t *testing.T) {
		e := newEnv(t, b, 0)
		parts := []part{
			dcm(good),
			{"text/plain", []byte("not dicom")},
			{"-", good2}, // no Content-Type
			dcm([]byte("DICM? no, just bytes that are not DICOM at all....")),
			dcm(good[:len(good)/2]), // truncated
		}
		malformed, _ := filepath.Glob("testdata/malformed/*.dcm")
		for _, p := range malformed {
			parts = append(parts, dcm(readFile(t, p)))
		}
		parts = append(parts, dcm(good2))
		rec, resp := e.stow("/dicom-web/studies", parts)
		if rec.Code != 202 {
			t.Fatalf("status %d: %s", rec.Code, rec.Body.String())
		}
		// Stored: good, good2, badVR, JPEG2000-embedded-sequence-delimiter
		// (structurally valid DICOM; their defects only show when decoding).
		if n := len(seq(resp, "00081199")); n != 4 {
			t.Fatalf("%d stored, want 4: %s", n, rec.Body.String())
		}
		got := strings.Join(reasons(resp), ",")
		// text/plain, no Content-Type, not DICOM, truncated, 3 truncated
		// malformed files: C000; zeroPixelTags without UIDs: A900.
		if got != "A900,C000,C000,C000,C000,C000,C000,C000" {
			t.Fatalf("failure reasons %s\n%s", got, rec.Body.String())
		}
		for _, f := range seq(resp, "00081198") {
			if str(f, "00000902") == "" {
				t.Fatalf("failed item without an error comment: %v", f)
			}
		}
		if n := len(e.objectKeys()); n != 4 {
			t.Fatalf("%d objects stored, want 4", n)
		}
	})

	t.Run("request-level errors", func(t *testing.T) {
		e := newEnv(t, b, 64<<10)
		ct, body := multipartBody(t, []part{dcm(good)})
		_, big := multipartBody(t, []part{dcm(good), dcm(good2), dcm(readFile(t, files[2]))})
		bigCT := "multipart/related; type=\"application/dicom\"; boundary=" + boundaryOf(big)
		cases := []struct {
			name   string
			ct     string
			body   []byte
			status int
		}{
			{"no content type", "", body, 415},
			{"wrong content type", "application/json", body, 415},
			{"multipart of another type", `multipart/related; type="application/dicom+json"; boundary=x`, body, 415},
			{"no boundary", `multipart/related; type="application/dicom"`, body, 400},
			{"wrong boundary", `multipart/related; type="application/dicom"; boundary=nope`, body, 400},
			{"empty body", ct, nil, 400},
			{"garbage body", ct, []byte("this is not multipart\r\n"), 400},
			{"body cut mid-part", ct, body[:len(body)/2], 400},
			{"over the body limit", bigCT, big, 413},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				hdr := map[string]string{}
				if tc.ct != "" {
					hdr["Content-Type"] = tc.ct
				}
				rec := e.do("POST", "/dicom-web/studies", hdr, bytes.NewReader(tc.body))
				if rec.Code != tc.status {
					t.Fatalf("status %d, want %d: %s", rec.Code, tc.status, rec.Body.String())
				}
				var eb struct{ Error string }
				if json.Unmarshal(rec.Body.Bytes(), &eb); eb.Error == "" {
					t.Fatalf("no error message: %s", rec.Body.String())
				}
			})
		}
		// Without Content-Length the limit trips while streaming.
		req := httptest.NewRequest("POST", "/dicom-web/studies", io.MultiReader(bytes.NewReader(big)))
		req.Header.Set("Content-Type", bigCT)
		req.ContentLength = -1
		rr := httptest.NewRecorder()
		e.engine.ServeHTTP(rr, req)
		if rr.Code != 413 {
			t.Fatalf("streamed over-limit body: %d %s", rr.Code, rr.Body.String())
		}
		// The over-limit request stored at most the instances that fit
		// before the limit; nothing partial.
		for _, k := range e.objectKeys() {
			if !strings.HasSuffix(k, ".dcm") {
				t.Fatalf("odd key %s", k)
			}
		}
	})

	t.Run("unquoted type parameter", func(t *testing.T) {
		e := newEnv(t, b, 0)
		ct, body := multipartBody(t, []part{{"Application/DICOM; transfer-syntax=1.2.840.10008.1.2.1", good}})
		ct = strings.Replace(ct, `type="application/dicom"`, "type=application/dicom", 1)
		if rec := e.do("POST", "/dicom-web/studies", map[string]string{"Content-Type": ct}, bytes.NewReader(body)); rec.Code != 200 {
			t.Fatalf("%s: %d %s", ct, rec.Code, rec.Body.String())
		}
	})

	t.Run("single application/dicom body", func(t *testing.T) {
		e := newEnv(t, b, 0)
		rec := e.do("POST", "/dicom-web/studies", map[string]string{"Content-Type": "application/dicom"}, bytes.NewReader(good))
		if rec.Code != 200 {
			t.Fatalf("%d %s", rec.Code, rec.Body.String())
		}
	})

	t.Run("idempotent re-send, conflict, study mismatch, all failed", func(t *testing.T) {
		e := newEnv(t, b, 0)
		if rec, _ := e.stow("/dicom-web/studies", []part{dcm(good)}); rec.Code != 200 {
			t.Fatalf("first: %d", rec.Code)
		}
		rec, resp := e.stow("/dicom-web/studies", []part{dcm(good)})
		if rec.Code != 200 || len(seq(resp, "00081199")) != 1 {
			t.Fatalf("re-send: %d %s", rec.Code, rec.Body.String())
		}
		other := bytes.Clone(good)
		other[len(other)-1] ^= 0xFF
		rec, resp = e.stow("/dicom-web/studies", []part{dcm(other)})
		if rec.Code != 409 || strings.Join(reasons(resp), ",") != "0110" {
			t.Fatalf("conflict: %d %s", rec.Code, rec.Body.String())
		}
		rec, resp = e.stow("/dicom-web/studies/1.2.3.4", []part{dcm(good2)})
		if rec.Code != 409 || strings.Join(reasons(resp), ",") != "A900" || str(resp, "00081190") == "" {
			t.Fatalf("study mismatch: %d %s", rec.Code, rec.Body.String())
		}
		if rec := e.do("POST", "/dicom-web/studies/not-a-uid", map[string]string{"Content-Type": "application/dicom"}, bytes.NewReader(good2)); rec.Code != 400 {
			t.Fatalf("bad study UID in URL: %d", rec.Code)
		}
		if n := len(e.objectKeys()); n != 1 {
			t.Fatalf("%d objects, want 1", n)
		}
	})

	t.Run("client disconnect mid-upload", func(t *testing.T) {
		e := newEnv(t, b, 0)
		ct, body := multipartBody(t, []part{dcm(good), dcm(good2)})
		cut := bytes.Index(body, good2) + len(good2)/2
		pr, pw := io.Pipe()
		go func() {
			pw.Write(body[:cut])
			pw.CloseWithError(fmt.Errorf("client went away"))
		}()
		req := httptest.NewRequest("POST", "/dicom-web/studies", pr)
		req.Header.Set("Content-Type", ct)
		rec := httptest.NewRecorder()
		e.engine.ServeHTTP(rec, req)
		if rec.Code != 400 {
			t.Fatalf("status %d: %s", rec.Code, rec.Body.String())
		}
		keys := e.objectKeys()
		if len(keys) != 1 {
			t.Fatalf("stored %v, want only the first instance", keys)
		}
		var metas []string
		e.store.List(context.Background(), "meta/", func(i storage.Info) error { metas = append(metas, i.Key); return nil })
		for _, k := range metas {
			if !strings.Contains(k, "/") || strings.Contains(k, ".tmp") {
				t.Fatalf("odd meta %s", k)
			}
		}
		if len(metas) != 1 {
			t.Fatalf("meta objects %v", metas)
		}
	})

	t.Run("storage outage: 503 + Retry-After, then success", func(t *testing.T) {
		e := newEnv(t, b, 0)
		e.store.SetDown(true)
		rec, _ := e.stow("/dicom-web/studies", []part{dcm(good), dcm(good2)})
		if rec.Code != 503 || rec.Header().Get("Retry-After") == "" {
			t.Fatalf("outage STOW: %d %q %s", rec.Code, rec.Header().Get("Retry-After"), rec.Body.String())
		}
		e.store.SetDown(false)
		rec, _ = e.stow("/dicom-web/studies", []part{dcm(good), dcm(good2)})
		if rec.Code != 200 {
			t.Fatalf("after recovery: %d %s", rec.Code, rec.Body.String())
		}
		studies := qido(t, e, "/dicom-web/studies")
		study := str(studies[0], "0020000D")
		e.store.SetDown(true)
		for _, p := range []string{"/dicom-web/studies/" + study, "/dicom-web/studies/" + study + "/metadata"} {
			rec := e.do("GET", p, nil, nil)
			if rec.Code != 503 || rec.Header().Get("Retry-After") == "" {
				t.Fatalf("outage GET %s: %d", p, rec.Code)
			}
		}
		e.store.SetDown(false)
		if rec := e.do("GET", "/dicom-web/studies/"+study, nil, nil); rec.Code != 200 {
			t.Fatalf("retrieve after recovery: %d", rec.Code)
		}
	})
}

func boundaryOf(body []byte) string {
	line, _, _ := bytes.Cut(body, []byte("\r\n"))
	return strings.TrimPrefix(string(line), "--")
}

func TestCharsetNamesInQIDO(t *testing.T) { forEachBackend(t, testCharsetNames) }

func testCharsetNames(t *testing.T, b backends) {
	e := newEnv(t, b, 0)
	rec, _ := e.stow("/dicom-web/studies", []part{dcm(readFile(t, "testdata/charset/chrX1.dcm")), dcm(readFile(t, "testdata/charset/chrX2.dcm"))})
	if rec.Code != 200 {
		t.Fatalf("%d %s", rec.Code, rec.Body.String())
	}
	for pid, want := range map[string]string{"X1EXAMPLE": "王^小東", "X2EXAMPLE": "王^小东"} {
		got := qido(t, e, "/dicom-web/studies?PatientID="+pid+"&includefield=00100010")
		if len(got) != 1 {
			t.Fatalf("%s: %d studies", pid, len(got))
		}
		pn, _ := got[0]["00100010"].(map[string]any)
		vals, _ := pn["Value"].([]any)
		if len(vals) != 1 {
			t.Fatalf("%s: PatientName %v", pid, pn)
		}
		name := vals[0].(map[string]any)
		if name["Ideographic"] != want || name["Alphabetic"] == "" {
			t.Fatalf("%s: PatientName %v, want ideographic %s", pid, name, want)
		}
	}
}

func TestScopeAndCORS(t *testing.T) {
	e := newEnv(t, memoryBackends, 0)
	good := readFile(t, seriesFiles(t)[0])
	rec := e.do("POST", "/dicom-web/studies", map[string]string{"Content-Type": "application/dicom", "X-Test-Site": "township-a"}, bytes.NewReader(good))
	if rec.Code != 200 {
		t.Fatal(rec.Body.String())
	}
	study := str(qido(t, e, "/dicom-web/studies")[0], "0020000D")

	e.sites = []string{"township-b"}
	if got := qido(t, e, "/dicom-web/studies"); len(got) != 0 {
		t.Fatalf("out-of-scope study listed: %v", got)
	}
	for _, p := range []string{"/dicom-web/studies/" + study, "/dicom-web/studies/" + study + "/metadata", "/dicom-web/studies/" + study + "/series"} {
		rec := e.do("GET", p, nil, nil)
		want := 404
		if strings.HasSuffix(p, "/series") {
			want = 200 // a search: empty result
		}
		if rec.Code != want {
			t.Fatalf("out of scope %s: %d", p, rec.Code)
		}
	}
	missing := e.do("GET", "/dicom-web/studies/1.2.3.4.5", nil, nil)
	hidden := e.do("GET", "/dicom-web/studies/"+study, nil, nil)
	if missing.Code != hidden.Code {
		t.Fatalf("hidden (%d) distinguishable from missing (%d)", hidden.Code, missing.Code)
	}
	e.sites = []string{"township-a"}
	if got := qido(t, e, "/dicom-web/studies"); len(got) != 1 {
		t.Fatalf("in-scope study not listed")
	}

	origin := map[string]string{"Origin": "https://viewer.example"}
	pre := e.do("OPTIONS", "/dicom-web/studies/"+study+"/series", map[string]string{
		"Origin": "https://viewer.example", "Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "accept, authorization",
	}, nil)
	if pre.Code/100 != 2 || pre.Header().Get("Access-Control-Allow-Origin") != "https://viewer.example" ||
		!strings.Contains(pre.Header().Get("Access-Control-Allow-Headers"), "Authorization") ||
		!strings.Contains(pre.Header().Get("Access-Control-Allow-Headers"), "Accept") {
		t.Fatalf("preflight: %d %v", pre.Code, pre.Header())
	}
	for _, p := range []string{"/dicom-web/studies", "/dicom-web/studies/1.2.3.4.5/metadata", "/dicom-web/nothing-here"} {
		rec := e.do("GET", p, origin, nil)
		if rec.Header().Get("Access-Control-Allow-Origin") != "https://viewer.example" {
			t.Fatalf("%s (%d): no ACAO", p, rec.Code)
		}
	}
	if rec := e.do("GET", "/dicom-web/studies", map[string]string{"Origin": "https://evil.example"}, nil); rec.Header().Get("Access-Control-Allow-Origin") != "" {
		t.Fatal("disallowed origin got ACAO")
	}
}
