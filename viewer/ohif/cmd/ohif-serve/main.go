// Command ohif-serve serves a prebuilt OHIF v3 dist/ directory configured
// for a Huren hub. It is what scripts/ohif-smoke runs; it also works for a
// manual look at a hub in a desktop browser.
//
//	ohif-serve --dist ~/.cache/huren/ohif/package/dist \
//	    --dicomweb http://127.0.0.1:8080/dicom-web --listen 127.0.0.1:3000
//
// A bearer token for the hub is read from the environment variable
// HUREN_OHIF_TOKEN (not a flag, so it does not show in ps). Once listening it
// prints "ohif-serve: listening on http://ADDR" on stdout (and writes the URL
// to --url-file if given) so a script can use --listen 127.0.0.1:0.
//
// With --same-origin it also reverse-proxies /dicom-web/ to the hub and
// points OHIF at its own origin, the layout of a deployment that serves the
// viewer and the hub behind one host name: the browser then sends no CORS
// preflight.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/huren-health/huren/viewer/ohif"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "ohif-serve:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("ohif-serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dist := fs.String("dist", "", "OHIF prebuilt dist/ directory (holds index.html)")
	root := fs.String("dicomweb", "", "hub DICOMweb root as the browser reaches it, e.g. http://127.0.0.1:8080/dicom-web")
	listen := fs.String("listen", "127.0.0.1:0", "listen address")
	urlFile := fs.String("url-file", "", "write the viewer URL to this file once listening")
	proxy := fs.Bool("same-origin", false, "reverse-proxy /dicom-web/ to the hub and point OHIF at this server's own /dicom-web (no CORS involved)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dist == "" || *root == "" {
		return errors.New("--dist and --dicomweb are required")
	}
	if _, err := os.Stat(*dist + "/index.html"); err != nil {
		return fmt.Errorf("not an OHIF dist directory: %w", err)
	}
	hub, err := url.Parse(*root)
	if err != nil || hub.Host == "" || !strings.HasSuffix(strings.TrimRight(hub.Path, "/"), "/dicom-web") {
		return fmt.Errorf("--dicomweb %q: want an absolute URL ending in /dicom-web", *root)
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("listen %s: %w", *listen, err)
	}
	self := "http://" + ln.Addr().String()
	browserRoot := *root
	if *proxy {
		browserRoot = self + "/dicom-web"
	}
	cfg, err := ohif.AppConfig(ohif.Config{DICOMwebRoot: browserRoot, BearerToken: os.Getenv("HUREN_OHIF_TOKEN")})
	if err != nil {
		ln.Close()
		return err
	}
	var h http.Handler = ohif.Handler(os.DirFS(*dist), cfg)
	if *proxy {
		mux := http.NewServeMux()
		mux.Handle("/", h)
		mux.Handle("/dicom-web/", sameOriginProxy(hub))
		h = mux
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	if *urlFile != "" {
		if err := os.WriteFile(*urlFile, []byte(self+"\n"), 0o644); err != nil {
			srv.Close()
			return fmt.Errorf("write url file: %w", err)
		}
	}
	fmt.Fprintf(stdout, "ohif-serve: listening on %s\n", self)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return srv.Shutdown(shut)
	}
}

// sameOriginProxy forwards /dicom-web/… to the hub unchanged (the hub's
// DICOMweb root must also be /dicom-web). The browser's Host header is kept,
// so the URLs the hub writes into responses (RetrieveURL, BulkDataURI) name
// this server and stay same-origin. Bodies stream both ways.
func sameOriginProxy(hub *url.URL) http.Handler {
	target := &url.URL{Scheme: hub.Scheme, Host: hub.Host}
	return &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(target)
			r.Out.Host = r.In.Host
			r.SetXForwarded()
		},
		FlushInterval: -1,
	}
}
