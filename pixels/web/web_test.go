package web_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"image"
	_ "image/jpeg"
	_ "image/png"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/huren-health/huren/catalog"
	"github.com/huren-health/huren/catalog/memory"
	"github.com/huren-health/huren/httpapi"
	"github.com/huren-health/huren/pixels"
	"github.com/huren-health/huren/pixels/web"
	"github.com/huren-health/huren/storage"
	"github.com/huren-health/huren/storage/fs"
)

const study = "1.2.826.0.1.3680043.10.999.1"

type fixture struct {
	t     testing.TB
	store storage.Store
	cat   *memory.Catalog
	h     *web.Handler
	srv   http.Handler
	recs  map[string]catalog.Record // by file name
}

// files are put in series by index; each instance UID derives from the name.
var files = []string{
	"modality/CT_small.dcm",                       // series .1
	"modality/emri_small_jpeg_ls_lossless.dcm",    // series .2, 10 frames
	"ts/JPGExtended.dcm",                          // series .3
	"modality/emri_small.dcm",                     // series .4
	"ts/SC_rgb_jpeg_gdcm.dcm",                     // series .5
	"modality/MR_small.dcm",                       // series .1 too (series of 2)
	"modality/CT1_UNC.explicit_little_endian.dcm", // series .7
}

func newFixture(t testing.TB, scope []string) *fixture {
	t.Helper()
	st, err := fs.New(fs.Config{Root: t.TempDir()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f := &fixture{t: t, store: st, cat: memory.New(nil), recs: map[string]catalog.Record{}}
	for i, name := range files {
		series := fmt.Sprintf("%s.%d", study, i+1)
		if i == 5 {
			series = study + ".1"
		}
		f.put(name, series, fmt.Sprintf("%s.%d.1", series, i+1), "site-a")
	}
	f.putBytes("jpegxl", jpegXL(t), study+".8", study+".8.8.1", "site-a")
	h, err := web.New(web.Config{Store: st, Locator: f.cat, CacheBytes: 64 << 20,
		Scope: func(*gin.Context) ([]string, error) { return scope, nil }})
	if err != nil {
		t.Fatal(err)
	}
	f.mount(h)
	return f
}

// mount serves h on a fresh engine under /dicom-web.
func (f *fixture) mount(h *web.Handler) {
	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	e.Use(httpapi.RequestIDs())
	h.Register(e.Group("/dicom-web"))
	f.h, f.srv = h, e
}

func (f *fixture) put(name, series, uid, site string) catalog.Record {
	b, err := os.ReadFile(filepath.Join("..", "testdata", "dicom", name))
	if err != nil {
		f.t.Fatal(err)
	}
	return f.putBytes(name, b, series, uid, site)
}

// jpegXL is JPGExtended.dcm relabelled as JPEG XL (1.2.840.10008.1.2.4.110),
// a syntax Huren has no decoder for.
func jpegXL(t testing.TB) []byte {
	b, err := os.ReadFile(filepath.Join("..", "testdata", "dicom", "ts", "JPGExtended.dcm"))
	if err != nil {
		t.Fatal(err)
	}
	old := append([]byte{0x02, 0x00, 0x10, 0x00, 'U', 'I', 22, 0}, "1.2.840.10008.1.2.4.51"...)
	repl := append([]byte{0x02, 0x00, 0x10, 0x00, 'U', 'I', 24, 0}, "1.2.840.10008.1.2.4.110\x00"...)
	if !bytes.Contains(b, old) {
		t.Fatal("transfer syntax element not found")
	}
	return bytes.Replace(b, old, repl, 1)
}

func (f *fixture) putBytes(name string, b []byte, series, uid, site string) catalog.Record {
	key := "dicom/" + study + "/" + series + "/" + uid + ".dcm"
	info, err := f.store.Put(context.Background(), key, bytes.NewReader(b), storage.PutOptions{Size: int64(len(b))})
	if err != nil {
		f.t.Fatal(err)
	}
	rec := catalog.Record{StudyUID: study, SeriesUID: series, InstanceUID: uid, Site: site,
		Size: info.Size, SHA256: info.SHA256, ObjectKey: key}
	if err := f.cat.Put(context.Background(), rec); err != nil {
		f.t.Fatal(err)
	}
	f.recs[name] = rec
	return rec
}

func (f *fixture) get(path, accept string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, "/dicom-web"+path, nil)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	w := httptest.NewRecorder()
	f.srv.ServeHTTP(w, req)
	return w
}

func (f *fixture) instPath(name string) string {
	r := f.recs[name]
	return "/studies/" + r.StudyUID + "/series/" + r.SeriesUID + "/instances/" + r.InstanceUID
}

type part struct {
	contentType string
	body        []byte
}

func parts(t *testing.T, w *httptest.ResponseRecorder) []part {
	t.Helper()
	mt, params, err := mime.ParseMediaType(w.Header().Get("Content-Type"))
	if err != nil || mt != "multipart/related" {
		t.Fatalf("content type %q: %v (body %.200s)", w.Header().Get("Content-Type"), err, w.Body.String())
	}
	raw := w.Body.Bytes()
	mr := multipart.NewReader(bytes.NewReader(raw), params["boundary"])
	var out []part
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(p)
		ct := p.Header.Get("Content-Type")
		// OHIF matches the header name case-sensitively.
		if !bytes.Contains(raw, []byte("\r\nContent-Type: "+ct+"\r\n")) {
			t.Errorf("part header not written as exactly %q", "Content-Type: "+ct)
		}
		out = append(out, part{ct, b})
	}
	return out
}

func oracleSHA(t *testing.T, name string) string {
	b, err := os.ReadFile(filepath.Join("..", "testdata", "expected", "dicom", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	type px struct {
		SHA string `json:"frame1_sha256"`
	}
	var o struct {
		Pixels *px `json:"pixels"`
		DCMTK  *px `json:"pixels_dcmtk"`
	}
	if err := json.Unmarshal(b, &o); err != nil {
		t.Fatal(err)
	}
	if o.Pixels != nil {
		return o.Pixels.SHA
	}
	return o.DCMTK.SHA
}

func sha(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

const ohifAccept = "multipart/related; type=application/octet-stream; transfer-syntax=*"

func TestFrames(t *testing.T) {
	f := newFixture(t, nil)
	jls := "modality/emri_small_jpeg_ls_lossless.dcm"
	cases := []struct {
		name, file, frames, accept string
		status                     int
		partType                   string
		wantSHA                    string // of part 1; "" = not checked
		nparts                     int
	}{
		{"ohif original jpeg-ls", jls, "1", ohifAccept, 200, "application/octet-stream; transfer-syntax=" + pixels.JPEGLSLossless, "", 1},
		{"quoted original", jls, "1", `multipart/related; type="application/octet-stream"; transfer-syntax="*"`, 200, "application/octet-stream; transfer-syntax=" + pixels.JPEGLSLossless, "", 1},
		{"decoded", jls, "1", "multipart/related; type=application/octet-stream; transfer-syntax=1.2.840.10008.1.2.1", 200, "application/octet-stream; transfer-syntax=1.2.840.10008.1.2.1", oracleSHA(t, jls), 1},
		{"no accept = decoded", jls, "1", "", 200, "application/octet-stream; transfer-syntax=1.2.840.10008.1.2.1", oracleSHA(t, jls), 1},
		{"several frames", jls, "1,3,10", ohifAccept, 200, "application/octet-stream; transfer-syntax=" + pixels.JPEGLSLossless, "", 3},
		{"image/jls", jls, "2", "multipart/related; type=image/jls", 200, "image/jls; transfer-syntax=" + pixels.JPEGLSLossless, "", 1},
		{"image/jp2 of jpeg-ls", jls, "2", "multipart/related; type=image/jp2", 406, "", "", 0},
		{"native with *", "modality/CT_small.dcm", "1", ohifAccept, 200, "application/octet-stream; transfer-syntax=1.2.840.10008.1.2.1", oracleSHA(t, "modality/CT_small.dcm"), 1},
		{"native multi-frame", "modality/emri_small.dcm", "10", ohifAccept, 200, "application/octet-stream; transfer-syntax=1.2.840.10008.1.2.1", "", 1},
		{"12-bit jpeg original", "ts/JPGExtended.dcm", "1", ohifAccept, 200, "application/octet-stream; transfer-syntax=" + pixels.JPEGExtended, "", 1},
		{"12-bit jpeg decoded", "ts/JPGExtended.dcm", "1", "multipart/related; type=application/octet-stream; transfer-syntax=1.2.840.10008.1.2.1", 200, "application/octet-stream; transfer-syntax=1.2.840.10008.1.2.1", "", 1},
		{"jpeg xl original", "jpegxl", "1", ohifAccept, 200, "application/octet-stream; transfer-syntax=1.2.840.10008.1.2.4.110", "", 1},
		{"jpeg xl decoded", "jpegxl", "1", "multipart/related; type=application/octet-stream; transfer-syntax=1.2.840.10008.1.2.1", 406, "", "", 0},
		{"frame out of range", jls, "11", ohifAccept, 404, "", "", 0},
		{"bad frame list", jls, "1,x", ohifAccept, 400, "", "", 0},
		{"zero frame", jls, "0", ohifAccept, 400, "", "", 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := f.get(f.instPath(tc.file)+"/frames/"+tc.frames, tc.accept)
			if w.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.status, w.Body.String())
			}
			if tc.status != 200 {
				if tc.status == 406 && tc.file == "jpegxl" && !strings.Contains(w.Body.String(), "1.2.840.10008.1.2.4.110") {
					t.Errorf("406 body does not name the transfer syntax: %s", w.Body.String())
				}
				return
			}
			ps := parts(t, w)
			if len(ps) != tc.nparts {
				t.Fatalf("%d parts, want %d", len(ps), tc.nparts)
			}
			for _, p := range ps {
				if p.contentType != tc.partType {
					t.Errorf("part Content-Type %q, want %q", p.contentType, tc.partType)
				}
			}
			if tc.wantSHA != "" && sha(ps[0].body) != tc.wantSHA {
				t.Errorf("part sha %s, oracle %s", sha(ps[0].body)[:12], tc.wantSHA[:12])
			}
		})
	}
}

func decodeImage(t *testing.T, w *httptest.ResponseRecorder) (string, image.Image) {
	t.Helper()
	im, format, err := image.Decode(bytes.NewReader(w.Body.Bytes()))
	if err != nil {
		t.Fatalf("decode %s response: %v", w.Header().Get("Content-Type"), err)
	}
	return format, im
}

func TestRenderedAndThumbnail(t *testing.T) {
	f := newFixture(t, nil)
	ct := f.instPath("modality/CT_small.dcm")
	series1 := "/studies/" + study + "/series/" + study + ".1"
	cases := []struct {
		name, path, accept string
		status             int
		format             string
		w, h               int
	}{
		{"instance jpeg", ct + "/rendered", "image/jpeg", 200, "jpeg", 128, 128},
		{"instance png window", ct + "/rendered?window=40,400,linear-exact", "image/png", 200, "png", 128, 128},
		{"accept query", ct + "/rendered?accept=image/png", "", 200, "png", 128, 128},
		{"viewport", ct + "/rendered?viewport=64,32&quality=60", "", 200, "jpeg", 32, 32},
		{"frame level", f.instPath("modality/emri_small.dcm") + "/frames/5/rendered", "", 200, "jpeg", 64, 64},
		{"colour lossless jpeg", f.instPath("ts/SC_rgb_jpeg_gdcm.dcm") + "/rendered", "", 200, "jpeg", 100, 100},
		{"instance thumbnail", ct + "/thumbnail", "", 200, "jpeg", 128, 128},
		{"series thumbnail", series1 + "/thumbnail?viewport=32,32", "", 200, "jpeg", 32, 32},
		{"study thumbnail", "/studies/" + study + "/thumbnail", "image/png", 200, "png", 128, 128},
		{"12-bit jpeg", f.instPath("ts/JPGExtended.dcm") + "/rendered", "", 200, "jpeg", 256, 1024},
		{"unsupported syntax", f.instPath("jpegxl") + "/rendered", "", 415, "", 0, 0},
		{"bad window", ct + "/rendered?window=40", "", 400, "", 0, 0},
		{"zero width", ct + "/rendered?window=40,0", "", 400, "", 0, 0},
		{"bad function", ct + "/rendered?window=40,400,cubic", "", 400, "", 0, 0},
		{"gif", ct + "/rendered", "image/gif", 406, "", 0, 0},
		{"wrong series", "/studies/" + study + "/series/1.2.3/instances/" + f.recs["modality/CT_small.dcm"].InstanceUID + "/rendered", "", 404, "", 0, 0},
		{"unknown instance", "/studies/" + study + "/series/1.2.3/instances/1.2.3.4/rendered", "", 404, "", 0, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := f.get(tc.path, tc.accept)
			if w.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.status, w.Body.String())
			}
			if tc.status == 415 && !strings.Contains(w.Body.String(), "1.2.840.10008.1.2.4.110") {
				t.Errorf("415 does not name the syntax: %s", w.Body.String())
			}
			if tc.status != 200 {
				return
			}
			format, im := decodeImage(t, w)
			if format != tc.format || im.Bounds().Dx() != tc.w || im.Bounds().Dy() != tc.h {
				t.Errorf("%s %v, want %s %dx%d", format, im.Bounds(), tc.format, tc.w, tc.h)
			}
		})
	}
	t.Run("series rendered multipart", func(t *testing.T) {
		w := f.get(series1+"/rendered", "")
		if w.Code != 200 {
			t.Fatalf("status %d: %s", w.Code, w.Body.String())
		}
		if ps := parts(t, w); len(ps) != 2 || ps[0].contentType != "image/jpeg" {
			t.Fatalf("parts %d", len(ps))
		}
	})
}

func TestScope(t *testing.T) {
	f := newFixture(t, []string{"site-b"})
	ct := f.instPath("modality/CT_small.dcm")
	for _, p := range []string{ct + "/rendered", ct + "/frames/1", ct + "/thumbnail", "/studies/" + study + "/thumbnail", "/studies/" + study + "/series/" + study + ".1/rendered"} {
		if w := f.get(p, ""); w.Code != 404 {
			t.Errorf("%s outside scope: status %d", p, w.Code)
		}
	}
}

// TestCacheNeverStale: replacing an instance's bytes (new SHA-256) must
// change what is served, even though the old rendering is cached.
func TestCacheNeverStale(t *testing.T) {
	f := newFixture(t, nil)
	rec := f.recs["modality/CT_small.dcm"]
	path := f.instPath("modality/CT_small.dcm") + "/rendered?accept=image/png"
	first := f.get(path, "")
	again := f.get(path, "")
	if first.Code != 200 || !bytes.Equal(first.Body.Bytes(), again.Body.Bytes()) {
		t.Fatalf("status %d / repeat differs", first.Code)
	}
	// Same UIDs and key, other pixels.
	f.put("modality/MR_small.dcm", rec.SeriesUID, rec.InstanceUID, rec.Site)
	after := f.get(path, "")
	if after.Code != 200 {
		t.Fatalf("status %d", after.Code)
	}
	_, im := decodeImage(t, after)
	if im.Bounds().Dx() != 64 || bytes.Equal(after.Body.Bytes(), first.Body.Bytes()) {
		t.Errorf("served stale rendering after the instance changed (%v)", im.Bounds())
	}
}

func TestConditionalGet(t *testing.T) {
	f := newFixture(t, nil)
	for _, p := range []string{
		f.instPath("modality/CT_small.dcm") + "/rendered?window=40,400",
		f.instPath("modality/CT_small.dcm") + "/frames/1",
		"/studies/" + study + "/series/" + study + ".1/thumbnail",
	} {
		first := f.get(p, "")
		tag := first.Header().Get("ETag")
		if first.Code != 200 || tag == "" {
			t.Fatalf("%s: status %d, ETag %q", p, first.Code, tag)
		}
		req := httptest.NewRequest(http.MethodGet, "/dicom-web"+p, nil)
		req.Header.Set("If-None-Match", tag)
		w := httptest.NewRecorder()
		f.srv.ServeHTTP(w, req)
		if w.Code != http.StatusNotModified || w.Body.Len() != 0 {
			t.Errorf("%s with If-None-Match: status %d, %d bytes", p, w.Code, w.Body.Len())
		}
		if other := f.get(strings.Replace(p, "40,400", "50,400", 1), ""); strings.Contains(p, "window") && other.Header().Get("ETag") == tag {
			t.Errorf("%s: different window, same ETag", p)
		}
	}
}

// TestConcurrentFrames: OHIF asks for every frame of a series at once; the
// shared parse/decode cache must serve them all correctly (run with -race).
func TestConcurrentFrames(t *testing.T) {
	f := newFixture(t, nil)
	path := f.instPath("modality/emri_small.dcm") + "/frames/"
	want := map[int]string{}
	for n := 1; n <= 10; n++ {
		w := f.get(fmt.Sprintf("%s%d", path, n), ohifAccept)
		want[n] = sha(parts(t, w)[0].body)
	}
	f2 := newFixture(t, nil) // cold cache
	errs := make(chan error, 50)
	for i := 0; i < 50; i++ {
		go func(n int) {
			req := httptest.NewRequest(http.MethodGet, fmt.Sprintf("/dicom-web%s%d", path, n), nil)
			req.Header.Set("Accept", ohifAccept)
			w := httptest.NewRecorder()
			f2.srv.ServeHTTP(w, req)
			if w.Code != 200 {
				errs <- fmt.Errorf("frame %d: status %d", n, w.Code)
				return
			}
			_, params, _ := mime.ParseMediaType(w.Header().Get("Content-Type"))
			p, err := multipart.NewReader(w.Body, params["boundary"]).NextPart()
			if err != nil {
				errs <- err
				return
			}
			b, _ := io.ReadAll(p)
			if sha(b) != want[n] {
				errs <- fmt.Errorf("frame %d: wrong bytes", n)
				return
			}
			errs <- nil
		}(i%10 + 1)
	}
	for i := 0; i < 50; i++ {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
