package hub

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// testFile is a small real CT slice (provenance: ingest/testdata/README.md).
const testFile = "../ingest/testdata/CT_small.dcm"

func quietLog() *slog.Logger { return slog.New(slog.DiscardHandler) }

func startHub(t *testing.T, cfg Config) (base string, stop func()) {
	t.Helper()
	srv, err := Open(context.Background(), cfg, quietLog(), io.Discard)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	return "http://" + ln.Addr().String(), func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	}
}

func embeddedConfig(t *testing.T) Config {
	cfg := Defaults()
	cfg.DataDir = t.TempDir()
	cfg.Listen = "127.0.0.1:0"
	return cfg
}

func stowFile(t *testing.T, base, path string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(base+"/dicom-web/studies", "application/dicom", bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		t.Fatalf("STOW %s: status %d: %s", filepath.Base(path), resp.StatusCode, body)
	}
}

func getJSON(t *testing.T, url string, want int) any {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != want {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		t.Fatalf("GET %s: status %d, want %d: %s", url, resp.StatusCode, want, body)
	}
	var v any
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		t.Fatalf("GET %s: decode: %v", url, err)
	}
	return v
}

// TestEmbeddedDefaultSurvivesRestart: what is stored on the embedded default
// is found again after the process restarts on the same data directory,
// because the in-memory catalog is rebuilt from storage at start.
func TestEmbeddedDefaultSurvivesRestart(t *testing.T) {
	cfg := embeddedConfig(t)
	base, stop := startHub(t, cfg)
	stowFile(t, base, testFile)
	before := getJSON(t, base+"/dicom-web/studies", http.StatusOK)
	stop()

	base, stop = startHub(t, cfg)
	defer stop()
	after := getJSON(t, base+"/dicom-web/studies", http.StatusOK)
	if n := len(before.([]any)); n != 1 {
		t.Fatalf("before restart: %d studies, want 1", n)
	}
	// RetrieveURL (0008,1190) carries the port, which changes with the restart.
	for _, v := range [][]any{before.([]any), after.([]any)} {
		for _, study := range v {
			delete(study.(map[string]any), "00081190")
		}
	}
	b1, _ := json.Marshal(before)
	b2, _ := json.Marshal(after)
	if string(b1) != string(b2) {
		t.Fatalf("QIDO answer changed across restart:\nbefore %s\nafter  %s", b1, b2)
	}
}

func TestOperationalEndpoints(t *testing.T) {
	base, stop := startHub(t, embeddedConfig(t))
	defer stop()
	for _, tc := range []struct {
		path   string
		status int
		want   string
	}{
		{"/healthz", 200, `"ok"`},
		{"/readyz", 200, `"ready"`},
		{"/metrics", 200, "huren_http_requests_total"},
		{"/no/such/thing", 404, `"request_id"`},
	} {
		resp, err := http.Get(base + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status || !strings.Contains(string(body), tc.want) {
			t.Errorf("GET %s: %d %q, want %d containing %q", tc.path, resp.StatusCode, body, tc.status, tc.want)
		}
	}
}

// TestGracefulShutdownFinishesUpload: an upload in flight when shutdown
// starts completes and is acknowledged.
func TestGracefulShutdownFinishesUpload(t *testing.T) {
	cfg := embeddedConfig(t)
	srv, err := Open(context.Background(), cfg, quietLog(), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	data, _ := os.ReadFile(testFile)
	pr, pw := io.Pipe()
	result := make(chan int, 1)
	go func() {
		resp, err := http.Post("http://"+ln.Addr().String()+"/dicom-web/studies", "application/dicom", pr)
		if err != nil {
			result <- -1
			return
		}
		resp.Body.Close()
		result <- resp.StatusCode
	}()
	half := len(data) / 2
	pw.Write(data[:half])
	time.Sleep(100 * time.Millisecond) // the request is now in flight
	cancel()                           // begin shutdown
	time.Sleep(100 * time.Millisecond)
	pw.Write(data[half:])
	pw.Close()
	if code := <-result; code != http.StatusOK {
		t.Fatalf("in-flight upload during shutdown: status %d, want 200", code)
	}
	if err := <-done; err != nil {
		t.Fatalf("Serve: %v", err)
	}
}
