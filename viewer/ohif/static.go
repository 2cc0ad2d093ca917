package ohif

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

// Handler serves OHIF's prebuilt dist/ directory.
//
//   - /app-config.js is answered with appConfig (see AppConfig), never the
//     file shipped in dist, so the served viewer always points at the hub.
//   - Existing files are served as they are (http.FileServer semantics:
//     Range, If-Modified-Since, a Content-Type from the extension, which
//     includes application/wasm that browsers require for streaming
//     WebAssembly compilation).
//   - Any other GET of a path without a file extension (an OHIF route such
//     as /viewer or /viewer/dicomweb) gets index.html: the router runs in the
//     browser. A missing path with an extension is a real 404, so a broken
//     asset reference is not masked by HTML.
//   - Directory listings are never produced.
func Handler(dist fs.FS, appConfig []byte) http.Handler {
	files := http.FileServerFS(dist)
	cfg := bytes.Clone(appConfig)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		name := strings.TrimPrefix(path.Clean("/"+r.URL.Path), "/")
		if name == "app-config.js" {
			w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
			w.Header().Set("Cache-Control", "no-store")
			http.ServeContent(w, r, "app-config.js", time.Time{}, bytes.NewReader(cfg))
			return
		}
		if name == "" || name == "index.html" {
			serveIndex(w, r, dist)
			return
		}
		st, err := fs.Stat(dist, name)
		switch {
		case err == nil && !st.IsDir():
			files.ServeHTTP(w, r)
		case err == nil || (errors.Is(err, fs.ErrNotExist) && path.Ext(name) == ""):
			// A directory or an extension-less unknown path: an SPA route.
			serveIndex(w, r, dist)
		case errors.Is(err, fs.ErrNotExist):
			http.NotFound(w, r)
		default:
			http.Error(w, "cannot read viewer file", http.StatusInternalServerError)
		}
	})
}

// serveIndex writes index.html without caching, so a new OHIF build or
// config is picked up on reload. It does not go through http.FileServer,
// which would redirect /index.html to /.
func serveIndex(w http.ResponseWriter, r *http.Request, dist fs.FS) {
	f, err := dist.Open("index.html")
	if err != nil {
		http.Error(w, "viewer index.html missing", http.StatusInternalServerError)
		return
	}
	defer f.Close()
	rs, ok := f.(io.ReadSeeker)
	if !ok {
		http.Error(w, "viewer index.html not seekable", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	http.ServeContent(w, r, "index.html", time.Time{}, rs)
}
