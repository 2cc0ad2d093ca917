package dicomweb_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http/httptest"
	"net/textproto"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/huren-health/huren/catalog"
	"github.com/huren-health/huren/dicomweb"
	"github.com/huren-health/huren/httpapi"
	"github.com/huren-health/huren/ingest"
	"github.com/huren-health/huren/storage/storagetest"
)

type env struct {
	t      testing.TB
	store  *storagetest.Flaky
	cat    catalog.Catalog
	svc    *ingest.Service
	engine *gin.Engine
	sites  []string // scope; nil = all
}

type part struct {
	contentType string // "-" = no Content-Type header
	data        []byte
}

func newEnv(t testing.TB, b backends, maxBody int64) *env {
	return newEnvDelay(t, b, maxBody, 10*time.Millisecond)
}

// newEnvDelay is newEnv with a given series bundle debounce delay.
func newEnvDelay(t testing.TB, b backends, maxBody int64, bundleDelay time.Duration) *env {
	t.Helper()
	st, cat := b.open(t)
	e := &env{t: t, store: &storagetest.Flaky{Store: st}, cat: cat}
	svc, err := ingest.New(ingest.Config{Store: e.store, Catalog: cat, Registerer: prometheus.NewRegistry(), BundleDelay: bundleDelay, BundleMaxDelay: 5 * bundleDelay})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close() })
	e.svc = svc
	h, err := dicomweb.New(dicomweb.Config{
		Store: e.store, Catalog: cat, Ingest: svc, Registerer: prometheus.NewRegistry(), MaxBodyBytes: maxBody,
		Scope:      func(*gin.Context) ([]string, error) { return e.sites, nil },
		UploadSite: func(c *gin.Context) (string, error) { return c.GetHeader("X-Test-Site"), nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	gin.SetMode(gin.ReleaseMode)
	eng := gin.New()
	eng.HandleMethodNotAllowed = true
	eng.Use(httpapi.RequestIDs(), dicomweb.CORS([]string{"https://viewer.example"}))
	h.Register(eng.Group("/dicom-web"))
	e.engine = eng
	return e
}

func (e *env) do(method, path string, hdr map[string]string, body io.Reader) *httptest.ResponseRecorder {
	e.t.Helper()
	req := httptest.NewRequest(method, path, body)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	e.engine.ServeHTTP(rec, req)
	return rec
}

func multipartBody(t testing.TB, parts []part) (string, []byte) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, p := range parts {
		h := textproto.MIMEHeader{}
		if p.contentType != "-" {
			h.Set("Content-Type", p.contentType)
		}
		w, err := mw.CreatePart(h)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(p.data)
	}
	mw.Close()
	return `multipart/related; type="application/dicom"; boundary=` + mw.Boundary(), buf.Bytes()
}

func (e *env) stow(path string, parts []part) (*httptest.ResponseRecorder, map[string]any) {
	e.t.Helper()
	ct, body := multipartBody(e.t, parts)
	rec := e.do("POST", path, map[string]string{"Content-Type": ct, "Accept": "application/dicom+json"}, bytes.NewReader(body))
	var resp map[string]any
	if rec.Code < 400 || rec.Code == 409 || rec.Code == 503 {
		if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
			e.t.Fatalf("STOW response (%d) is not JSON: %v\n%s", rec.Code, err, rec.Body.String())
		}
	}
	return rec, resp
}

func dcm(data []byte) part { return part{"application/dicom", data} }

func readFile(t testing.TB, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func sum(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func seriesFiles(t testing.TB) []string {
	fs, _ := filepath.Glob("testdata/series/*.dcm")
	if len(fs) == 0 {
		t.Fatal("no series testdata")
	}
	sort.Strings(fs)
	return fs
}

func seq(resp map[string]any, tag string) []map[string]any {
	el, _ := resp[tag].(map[string]any)
	vals, _ := el["Value"].([]any)
	var out []map[string]any
	for _, v := range vals {
		out = append(out, v.(map[string]any))
	}
	return out
}

func str(ds map[string]any, tag string) string {
	el, _ := ds[tag].(map[string]any)
	vals, _ := el["Value"].([]any)
	if len(vals) == 0 {
		return ""
	}
	switch v := vals[0].(type) {
	case string:
		return v
	case float64:
		return fmt.Sprint(v)
	case map[string]any:
		b, _ := json.Marshal(v)
		return string(b)
	}
	return fmt.Sprint(vals[0])
}

func reasons(resp map[string]any) []string {
	var out []string
	for _, f := range seq(resp, "00081198") {
		out = append(out, fmt.Sprintf("%04X", int(f["00081197"].(map[string]any)["Value"].([]any)[0].(float64))))
	}
	sort.Strings(out)
	return out
}

func qido(t *testing.T, e *env, path string) []map[string]any {
	t.Helper()
	rec := e.do("GET", path, map[string]string{"Accept": "application/dicom+json"}, nil)
	if rec.Code != 200 {
		t.Fatalf("%s: %d %s", path, rec.Code, rec.Body.String())
	}
	var out []map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return out
}

// readMultipart splits a WADO multipart/related response.
func readMultipart(t *testing.T, rec *httptest.ResponseRecorder) (types []string, bodies [][]byte) {
	t.Helper()
	mt, params, err := mime.ParseMediaType(rec.Header().Get("Content-Type"))
	if err != nil || mt != "multipart/related" {
		t.Fatalf("Content-Type %q", rec.Header().Get("Content-Type"))
	}
	mr := multipart.NewReader(rec.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(p)
		types = append(types, p.Header.Get("Content-Type"))
		bodies = append(bodies, b)
	}
}

func TestRoundTrip(t *testing.T) { forEachBackend(t, testRoundTrip) }

// testRoundTrip: upload the series over STOW → QIDO finds it → WADO
// returns byte-identical instances → metadata and bulk data.
func testRoundTrip(t *testing.T, b backends) {
	e := newEnv(t, b, 0)
	files := seriesFiles(t)
	want := map[string]bool{}
	var parts []part
	for _, p := range files {
		data := readFile(t, p)
		want[sum(data)] = true
		parts = append(parts, dcm(data))
	}
	rec, resp := e.stow("/dicom-web/studies", parts)
	if rec.Code != 200 {
		t.Fatalf("STOW %d: %s", rec.Code, rec.Body.String())
	}
	refs := seq(resp, "00081199")
	if len(refs) != len(files) || len(seq(resp, "00081198")) != 0 {
		t.Fatalf("STOW refs %d, want %d: %s", len(refs), len(files), rec.Body.String())
	}
	studyURL := str(resp, "00081190")
	if !strings.HasPrefix(studyURL, "http://example.com/dicom-web/studies/") {
		t.Fatalf("RetrieveURL %q", studyURL)
	}
	if !strings.Contains(str(refs[0], "00081190"), "/instances/"+str(refs[0], "00081155")) {
		t.Fatalf("instance RetrieveURL %q", str(refs[0], "00081190"))
	}
	study := strings.TrimPrefix(studyURL, "http://example.com/dicom-web/studies/")

	studies := qido(t, e, "/dicom-web/studies?PatientID=DEV&includefield=00081030")
	if len(studies) != 1 || str(studies[0], "0020000D") != study || str(studies[0], "00081190") != studyURL {
		t.Fatalf("QIDO studies %v", studies)
	}
	// OHIF v3's request pattern (study list, viewer, priors).
	for _, p := range []string{
		"/dicom-web/studies?limit=101&offset=0&fuzzymatching=false&includefield=00081030,00080060,00080090,00100030",
		"/dicom-web/studies?limit=101&offset=0&fuzzymatching=false&includefield=00081030%2C00080060&StudyInstanceUID=" + study,
		"/dicom-web/studies?00100020=DEV",
	} {
		if got := qido(t, e, p); len(got) != 1 {
			t.Fatalf("%s: %d studies", p, len(got))
		}
	}
	series := qido(t, e, "/dicom-web/studies/"+study+"/series")
	if len(series) != 1 {
		t.Fatalf("QIDO series %v", series)
	}
	se := str(series[0], "0020000E")
	insts := qido(t, e, "/dicom-web/studies/"+study+"/series/"+se+"/instances")
	if len(insts) != len(files) {
		t.Fatalf("QIDO instances %d", len(insts))
	}
	if n := len(qido(t, e, "/dicom-web/instances?SOPInstanceUID="+str(insts[0], "00080018"))); n != 1 {
		t.Fatalf("QIDO /instances by UID: %d", n)
	}
	if got := qido(t, e, "/dicom-web/studies?PatientID=NOBODY"); len(got) != 0 {
		t.Fatalf("no match must be 200 []: %v", got)
	}

	for _, path := range []string{"/dicom-web/studies/" + study, "/dicom-web/studies/" + study + "/series/" + se} {
		for _, accept := range []string{"", `multipart/related; type="application/dicom"; transfer-syntax=*`, "multipart/related; type=application/dicom", "*/*"} {
			rec := e.do("GET", path, map[string]string{"Accept": accept}, nil)
			if rec.Code != 200 {
				t.Fatalf("WADO %s (%q): %d %s", path, accept, rec.Code, rec.Body.String())
			}
			types, bodies := readMultipart(t, rec)
			if len(bodies) != len(files) {
				t.Fatalf("WADO %s: %d parts", path, len(bodies))
			}
			for i, body := range bodies {
				if !want[sum(body)] {
					t.Fatalf("WADO part %d is not byte-identical to any uploaded file", i)
				}
				if types[i] != "application/dicom; transfer-syntax=1.2.840.10008.1.2.1" {
					t.Fatalf("part Content-Type %q", types[i])
				}
			}
		}
	}
	inst := str(insts[0], "00080018")
	instPath := "/dicom-web/studies/" + study + "/series/" + se + "/instances/" + inst
	rec = e.do("GET", instPath, nil, nil)
	if _, bodies := readMultipart(t, rec); len(bodies) != 1 || !want[sum(bodies[0])] {
		t.Fatalf("instance retrieve")
	}
	if rec := e.do("GET", instPath, map[string]string{"Accept": `multipart/related; type="application/dicom"; transfer-syntax=1.2.840.10008.1.2.4.50`}, nil); rec.Code != 406 {
		t.Fatalf("transcoding demanded: %d", rec.Code)
	}
	if rec := e.do("GET", "/dicom-web/studies", map[string]string{"Accept": "multipart/related; type=application/dicom+xml"}, nil); rec.Code != 406 {
		t.Fatalf("XML QIDO: %d", rec.Code)
	}

	// Metadata: series (bundle once rebuilt), study, instance.
	if err := e.svc.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/dicom-web/studies/" + study + "/metadata", "/dicom-web/studies/" + study + "/series/" + se + "/metadata", instPath + "/metadata"} {
		md := qido(t, e, p)
		wantN := len(files)
		if strings.HasPrefix(p, instPath) {
			wantN = 1
		}
		if len(md) != wantN {
			t.Fatalf("%s: %d items", p, len(md))
		}
		px, _ := md[0]["7FE00010"].(map[string]any)
		uri, _ := px["BulkDataURI"].(string)
		if !strings.HasPrefix(uri, "http://example.com/dicom-web/studies/"+study+"/series/"+se+"/instances/") {
			t.Fatalf("%s: BulkDataURI %q", p, uri)
		}
		if str(md[0], "00083002") != "1.2.840.10008.1.2.1" {
			t.Fatalf("%s: AvailableTransferSyntaxUID missing", p)
		}
	}
	// Bulk data: the pixel data of a 64×64×16-bit MR is 8192 bytes.
	for accept, multi := range map[string]bool{"": true, "application/octet-stream": false} {
		rec := e.do("GET", instPath+"/bulk/7FE00010", map[string]string{"Accept": accept}, nil)
		if rec.Code != 200 {
			t.Fatalf("bulk (%q): %d %s", accept, rec.Code, rec.Body.String())
		}
		n := rec.Body.Len()
		if multi {
			_, bodies := readMultipart(t, rec)
			n = len(bodies[0])
		}
		if n != 64*64*2 {
			t.Fatalf("bulk (%q): %d bytes", accept, n)
		}
	}
	if rec := e.do("GET", instPath+"/bulk/00280010", nil, nil); rec.Code != 404 {
		t.Fatalf("bulk of a non-bulk tag: %d", rec.Code)
	}
	// Unknown UIDs are 404.
	if rec := e.do("GET", "/dicom-web/studies/1.2.3/metadata", nil, nil); rec.Code != 404 {
		t.Fatalf("unknown study metadata: %d", rec.Code)
	}
}
