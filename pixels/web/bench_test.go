package web_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/huren-health/huren/pixels/web"
)

func benchFixture(b *testing.B) *fixture { return newFixture(b, nil) }

func serve(b *testing.B, f *fixture, path, accept string) int {
	req := httptest.NewRequest(http.MethodGet, "/dicom-web"+path, nil)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	w := httptest.NewRecorder()
	f.srv.ServeHTTP(w, req)
	if w.Code != 200 {
		b.Fatalf("status %d: %s", w.Code, w.Body.String())
	}
	return w.Body.Len()
}

// BenchmarkRenderedCTWarm: /rendered of a 512×512 16-bit CT slice, cache
// warm (what a viewer re-requesting the slice costs, HTTP routing included).
func BenchmarkRenderedCTWarm(b *testing.B) {
	f := benchFixture(b)
	path := f.instPath("modality/CT1_UNC.explicit_little_endian.dcm") + "/rendered?window=40,400"
	serve(b, f, path, "")
	for b.Loop() {
		serve(b, f, path, "")
	}
}

// BenchmarkRenderedCTCold: the same with caching disabled (read from the
// fs store, parse, decode, render, encode on every request).
func BenchmarkRenderedCTCold(b *testing.B) {
	f := benchFixture(b)
	h, err := web.New(web.Config{Store: f.store, Locator: f.cat, CacheBytes: -1})
	if err != nil {
		b.Fatal(err)
	}
	f.mount(h)
	path := f.instPath("modality/CT1_UNC.explicit_little_endian.dcm") + "/rendered?window=40,400"
	for b.Loop() {
		serve(b, f, path, "")
	}
}

// BenchmarkFramesNativeCT: WADO-RS /frames of a native 512×512 CT slice as
// OHIF asks for it (transfer-syntax=*), cache warm; reports MB/s.
func BenchmarkFramesNativeCT(b *testing.B) {
	f := benchFixture(b)
	path := f.instPath("modality/CT1_UNC.explicit_little_endian.dcm") + "/frames/1"
	n := serve(b, f, path, ohifAccept)
	b.SetBytes(int64(n))
	for b.Loop() {
		serve(b, f, path, ohifAccept)
	}
}

// BenchmarkFramesNativeCTParallel: the same with concurrent clients.
func BenchmarkFramesNativeCTParallel(b *testing.B) {
	f := benchFixture(b)
	path := f.instPath("modality/CT1_UNC.explicit_little_endian.dcm") + "/frames/1"
	n := serve(b, f, path, ohifAccept)
	b.SetBytes(int64(n))
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req := httptest.NewRequest(http.MethodGet, "/dicom-web"+path, nil)
			req.Header.Set("Accept", ohifAccept)
			w := httptest.NewRecorder()
			f.srv.ServeHTTP(w, req)
			if w.Code != 200 {
				b.Errorf("status %d", w.Code)
			}
		}
	})
}

// BenchmarkThumbnailSeriesWarm: series thumbnail, cache warm.
func BenchmarkThumbnailSeriesWarm(b *testing.B) {
	f := benchFixture(b)
	path := "/studies/" + study + "/series/" + study + ".1/thumbnail"
	serve(b, f, path, "")
	for b.Loop() {
		serve(b, f, path, "")
	}
}

// loopbackGet fetches url over a real TCP connection and drains the body.
func loopbackGet(b *testing.B, c *http.Client, url, accept string) int64 {
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := c.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 {
		b.Fatalf("status %d, %v", resp.StatusCode, err)
	}
	return n
}

// BenchmarkFramesLoopback compares /frames of a native CT slice over real
// loopback HTTP with a handler that writes the same number of bytes from
// memory: the ratio of the two is the "fraction of loopback throughput".
func BenchmarkFramesLoopback(b *testing.B) {
	f := benchFixture(b)
	path := f.instPath("modality/CT1_UNC.explicit_little_endian.dcm") + "/frames/1"
	srv := httptest.NewServer(f.srv)
	defer srv.Close()
	client := srv.Client()
	n := loopbackGet(b, client, srv.URL+"/dicom-web"+path, ohifAccept)
	payload := make([]byte, n)
	base := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(len(payload)))
		w.Write(payload)
	}))
	defer base.Close()
	b.Run("huren", func(b *testing.B) {
		b.SetBytes(n)
		for b.Loop() {
			loopbackGet(b, client, srv.URL+"/dicom-web"+path, ohifAccept)
		}
	})
	b.Run("static", func(b *testing.B) {
		b.SetBytes(n)
		for b.Loop() {
			loopbackGet(b, base.Client(), base.URL, "")
		}
	})
}

// BenchmarkRenderedDXCold: /rendered of a 2500×3000 16-bit DX with a
// window, render cache disabled: every request reads the original from the
// fs store (streamed), renders and encodes it. full: JPEG at natural size;
// preview: ?viewport=512,512; png: windowed PNG at natural size.
func BenchmarkRenderedDXCold(b *testing.B) {
	f := benchFixture(b)
	f.putBytes("dx", synthetic(3000, 2500, 1, 0), study+".11", study+".11.1", "site-a")
	h, err := web.New(web.Config{Store: f.store, Locator: f.cat, CacheBytes: -1})
	if err != nil {
		b.Fatal(err)
	}
	f.mount(h)
	for _, c := range []struct{ name, query, accept string }{
		{"full", "", ""},
		{"preview", "?viewport=512,512", ""},
		{"png", "?window=2000,3000,linear", "image/png"},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				serve(b, f, f.instPath("dx")+"/rendered"+c.query, c.accept)
			}
		})
	}
}
