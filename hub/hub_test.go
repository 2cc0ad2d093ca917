package hub

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/huren-health/huren/audit"
	"github.com/huren-health/huren/auth"
)

// testFile is a small real CT slice (provenance: ingest/testdata/README.md).
const testFile = "../ingest/testdata/CT_small.dcm"

func quietLog() *slog.Logger { return slog.New(slog.DiscardHandler) }

func startHub(t *testing.T, cfg Config) (base string, srv *Server, stop func()) {
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
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Serve: %v", err)
			}
		})
	}
	// A test that fails before calling stop still stops its server before
	// its temp directories are removed (cleanups run last-in first-out, and
	// cfg.DataDir's was registered before this one).
	t.Cleanup(stop)
	return "http://" + ln.Addr().String(), srv, stop
}

// waitFor polls cond until it holds. It gives up (failing the test) only
// shortly before the test binary's own deadline, so that a slow machine
// never fails it and a broken server still ends with a clean report.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline, ok := t.Deadline()
	if !ok {
		deadline = time.Now().Add(10 * time.Minute)
	}
	deadline = deadline.Add(-10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// watchedListener counts the bytes the server reads from its connections
// and reports when it is closed (http.Server.Shutdown closes its listeners
// first), so a test can wait for these events instead of sleeping.
type watchedListener struct {
	net.Listener
	read   atomic.Int64
	once   sync.Once
	closed chan struct{}
}

type countingConn struct {
	net.Conn
	n *atomic.Int64
}

func (c countingConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.n.Add(int64(n))
	return n, err
}

func (l *watchedListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return countingConn{c, &l.read}, nil
}

func (l *watchedListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return l.Listener.Close()
}

func embeddedConfig(t *testing.T) Config {
	cfg := Defaults()
	cfg.DataDir = t.TempDir()
	cfg.Listen = "127.0.0.1:0"
	return cfg
}

// deviceToken creates a township site and an upload+read token for it, as
// an administrator would for a modality or the upload CLI.
func deviceToken(t *testing.T, srv *Server) string {
	t.Helper()
	ctx := context.Background()
	svc := srv.Auth()
	if _, err := svc.AddSite(ctx, auth.Site{ID: "town-a", Name: "甲镇卫生院", Kind: auth.Township, Parent: "county"}); err != nil {
		t.Fatalf("add site: %v", err)
	}
	_, secret, err := svc.CreateToken(ctx, auth.NewToken{Name: "ct-1", Site: "town-a",
		Capabilities: []auth.Capability{auth.CapUpload, auth.CapRead}})
	if err != nil {
		t.Fatalf("create token: %v", err)
	}
	return secret
}

func do(t *testing.T, method, url, token, ctype string, body io.Reader) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func stowFile(t *testing.T, base, token, path string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	resp := do(t, "POST", base+"/dicom-web/studies", token, "application/dicom", bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		t.Fatalf("STOW %s: status %d: %s", filepath.Base(path), resp.StatusCode, body)
	}
}

func getJSON(t *testing.T, url, token string, want int) any {
	t.Helper()
	resp := do(t, "GET", url, token, "", nil)
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
	base, srv, stop := startHub(t, cfg)
	token := deviceToken(t, srv)
	stowFile(t, base, token, testFile)
	before := getJSON(t, base+"/dicom-web/studies", token, http.StatusOK)
	stop()

	base, _, stop = startHub(t, cfg)
	defer stop()
	// The token, like every account record, lives in storage: it still works.
	after := getJSON(t, base+"/dicom-web/studies", token, http.StatusOK)
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
	base, _, stop := startHub(t, embeddedConfig(t))
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
		{"/dicom-web/studies", 401, `"request_id"`}, // every clinical route needs credentials
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
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		srv.Close()
		t.Fatal(err)
	}
	ln := &watchedListener{Listener: tcp, closed: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	token := deviceToken(t, srv)
	go func() { done <- srv.Serve(ctx, ln) }()
	data, err := os.ReadFile(testFile)
	if err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	// Whatever happens below, the server and the upload end before the
	// temp directories go.
	served := false
	t.Cleanup(func() {
		cancel()
		pw.CloseWithError(errors.New("test ended"))
		if !served {
			<-done
		}
	})
	result := make(chan int, 1)
	go func() {
		req, _ := http.NewRequest("POST", "http://"+ln.Addr().String()+"/dicom-web/studies", pr)
		req.Header.Set("Content-Type", "application/dicom")
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			result <- -1
			return
		}
		resp.Body.Close()
		result <- resp.StatusCode
	}()
	half := len(data) / 2
	if _, err := pw.Write(data[:half]); err != nil {
		t.Fatal(err)
	}
	// The request is in flight once the server has read half the body:
	// more than the headers plus what its first buffered read can hold
	// (CT_small is far larger than 2 × 4 KiB), so the handler is reading.
	waitFor(t, "the server to read half the upload", func() bool { return ln.read.Load() >= int64(half) })
	cancel() // begin shutdown
	waitFor(t, "shutdown to close the listener", func() bool {
		select {
		case <-ln.closed:
			return true
		default:
			return false
		}
	})
	if _, err := pw.Write(data[half:]); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	if code := <-result; code != http.StatusOK {
		t.Fatalf("in-flight upload during shutdown: status %d, want 200", code)
	}
	err = <-done
	served = true
	if err != nil {
		t.Fatalf("Serve: %v", err)
	}
}

// TestAuditTrailNamesPatient: a read of a study's images is recorded with
// who, what and the patient, searchable after a graceful shutdown flushed
// the trail, and the chain verifies.
func TestAuditTrailNamesPatient(t *testing.T) {
	cfg := embeddedConfig(t)
	base, srv, stop := startHub(t, cfg)
	token := deviceToken(t, srv)
	stowFile(t, base, token, testFile)
	studies := getJSON(t, base+"/dicom-web/studies", token, http.StatusOK).([]any)
	study := studies[0].(map[string]any)["0020000D"].(map[string]any)["Value"].([]any)[0].(string)
	getJSON(t, base+"/dicom-web/studies/"+study+"/metadata", token, http.StatusOK)
	stop()

	b, err := OpenBackends(context.Background(), cfg, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	recs, err := audit.Search(context.Background(), b.Store, audit.Query{Patient: "1CT1"})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, r := range recs {
		if r.Resource == "study:"+study && strings.HasPrefix(r.User, "token:") && r.Outcome != "" {
			found = true
		}
	}
	if !found {
		t.Fatalf("no audit record of the metadata read for patient 1CT1 among %d: %+v", len(recs), recs)
	}
	if _, err := audit.Verify(context.Background(), b.Store); err != nil {
		t.Fatalf("audit verify: %v", err)
	}
}
