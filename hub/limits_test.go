package hub

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

// TestSlowAndIdleConnectionsAreCut: a stalled upload and an idle
// keep-alive connection are closed by the server instead of being held
// for ever (fifty slow 2 GB uploads used to stay open indefinitely).
func TestSlowAndIdleConnectionsAreCut(t *testing.T) {
	cfg := embeddedConfig(t)
	// 100 bytes a window: each of the steady upload's 100-byte writes
	// fills one, so only a 500 ms gap between two writes (not a busy
	// machine's scheduling delay) could cut it.
	cfg.MinUploadRate = 200
	cfg.UploadRateWindow = Duration{500 * time.Millisecond}
	cfg.IdleTimeout = Duration{300 * time.Millisecond}
	base, srv, stop := startHub(t, cfg)
	defer stop()
	token := deviceToken(t, srv)
	addr := strings.TrimPrefix(base, "http://")
	// The client gives up far later than the server should.
	const clientPatience = 20 * time.Second

	t.Run("stalled upload", func(t *testing.T) {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		fmt.Fprintf(conn, "POST /dicom-web/studies HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Type: application/dicom\r\nContent-Length: 2000000000\r\n\r\n", addr, token)
		conn.Write(syntheticCT("2.25.99014008.2", "2.25.99014008.2.1", 1)[:200]) // a DICOM start, then silence
		conn.SetReadDeadline(time.Now().Add(clientPatience))
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatal("the server kept a stalled upload open")
		}
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode < 400 {
				t.Fatalf("stalled upload answered %d", resp.StatusCode)
			}
		} // else: the connection was closed, also fine
	})

	t.Run("idle keep-alive", func(t *testing.T) {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		fmt.Fprintf(conn, "GET /healthz HTTP/1.1\r\nHost: %s\r\n\r\n", addr)
		br := bufio.NewReader(conn)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		conn.SetReadDeadline(time.Now().Add(clientPatience))
		if _, err := br.ReadByte(); errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatal("the server kept an idle keep-alive connection open")
		} else if !errors.Is(err, io.EOF) {
			t.Fatalf("idle connection: %v, want EOF", err)
		}
	})

	t.Run("steady upload passes", func(t *testing.T) {
		// The rate check must not cut an upload that keeps up: a real
		// instance sent in pieces slower than one window in total.
		data := syntheticCT("2.25.99014008.1", "2.25.99014008.1.1", 1)
		pr, pw := io.Pipe()
		go func() {
			for i := 0; i < len(data); i += 100 { // 2,000 bytes/s
				pw.Write(data[i:min(i+100, len(data))])
				time.Sleep(50 * time.Millisecond)
			}
			pw.Close()
		}()
		req, _ := http.NewRequest("POST", base+"/dicom-web/studies", pr)
		req.Header.Set("Content-Type", "application/dicom")
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("steady upload: %d", resp.StatusCode)
		}
	})
}
