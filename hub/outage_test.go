package hub

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/huren-health/huren/internal/testbackend"
)

// freezeProxy forwards TCP to a backend until frozen: then it stops moving
// bytes in both directions while keeping every connection open — what a
// client sees when the server process is stopped with SIGSTOP.
type freezeProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	cond   *sync.Cond
	frozen bool
	conns  []net.Conn
}

func newFreezeProxy(t *testing.T, target string) *freezeProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &freezeProxy{ln: ln, target: target}
	p.cond = sync.NewCond(&p.mu)
	go p.accept()
	t.Cleanup(func() {
		p.set(false)
		ln.Close()
		p.mu.Lock()
		for _, c := range p.conns {
			c.Close()
		}
		p.mu.Unlock()
	})
	return p
}

func (p *freezeProxy) addr() string { return p.ln.Addr().String() }

func (p *freezeProxy) set(frozen bool) {
	p.mu.Lock()
	p.frozen = frozen
	p.mu.Unlock()
	p.cond.Broadcast()
}

func (p *freezeProxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		u, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, u)
		p.mu.Unlock()
		go p.pipe(c, u)
		go p.pipe(u, c)
	}
}

func (p *freezeProxy) pipe(src, dst net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		p.mu.Lock()
		for p.frozen {
			p.cond.Wait()
		}
		p.mu.Unlock()
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			dst.Close()
			return
		}
	}
}

// TestFrozenObjectStoreAnswers503: with MinIO frozen (no byte moves, no
// connection closes), an upload ends within the storage deadline with 503,
// Retry-After and a failure reason that says to retry — not a hang of
// minutes and a 409 a device takes as final.
func TestFrozenObjectStoreAnswers503(t *testing.T) {
	s3 := testbackend.MinIO(t)
	proxy := newFreezeProxy(t, s3.Endpoint)
	cfg := embeddedConfig(t)
	cfg.Storage = fmt.Sprintf("minio://%s:%s@%s/%s?secure=false", s3.AccessKey, s3.SecretKey, proxy.addr(), testbackend.UniqueName("frozen-"))
	cfg.StorageTimeout = Duration{time.Second}
	base, srv, stop := startHub(t, cfg)
	defer stop()
	defer proxy.set(false) // let the shutdown flush the audit trail
	token := deviceToken(t, srv)
	const study = "2.25.99014005.1"
	resp := do(t, "POST", base+"/dicom-web/studies", token, "application/dicom", bytes.NewReader(syntheticCT(study, study+".1", 1)))
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("STOW before the freeze: %d", resp.StatusCode)
	}

	proxy.set(true)
	start := time.Now()
	resp = do(t, "POST", base+"/dicom-web/studies", token, "application/dicom", bytes.NewReader(syntheticCT(study, study+".1", 2)))
	defer resp.Body.Close()
	took := time.Since(start)
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	t.Logf("frozen store: %d after %s: %s", resp.StatusCode, took.Round(time.Millisecond), body)
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("status %d, Retry-After %q; want 503 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	var ds map[string]struct {
		Value []map[string]struct {
			Value []any
		}
	}
	if err := json.Unmarshal(body, &ds); err != nil {
		t.Fatal(err)
	}
	failed := ds["00081198"].Value
	if len(failed) != 1 || len(failed[0]["00081197"].Value) != 1 || failed[0]["00081197"].Value[0] != float64(0xA700) {
		t.Fatalf("failure reason: %s", body)
	}
	if c := failed[0]["00000902"].Value; len(c) != 1 || !bytes.Contains([]byte(fmt.Sprint(c[0])), []byte("retry")) {
		t.Fatalf("error comment does not say retry: %s", body)
	}
	// Generous bound: the deadline is 1 s of silence per storage call;
	// without it the request hung for minutes.
	if took > 30*time.Second {
		t.Fatalf("answer took %s", took)
	}
}
