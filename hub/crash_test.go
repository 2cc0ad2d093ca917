package hub

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/huren-health/huren/internal/dicomtest"
	"github.com/huren-health/huren/internal/testbackend"
)

// buildHuren compiles the huren binary for tests that need a real process
// (kill -9). The build cache makes repeated builds a link step.
func buildHuren(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "huren")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/huren-health/huren/cmd/huren")
	cmd.Env = append(os.Environ(), "GOFLAGS=-buildvcs=false")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// hurenProc is one `huren serve` process.
type hurenProc struct {
	cmd  *exec.Cmd
	base string
	// demo credentials (first start only)
	token, readerPW string
	stderr          *bytes.Buffer
	exited          chan struct{}
}

var (
	runningRE = regexp.MustCompile(`Huren is running at (http://\S+)`)
	readerRE  = regexp.MustCompile(`^\s+reader\s+password (\S+)`)
)

// startHuren runs `huren serve --demo --config cfgPath` and waits until it
// prints its address.
func startHuren(t *testing.T, bin, cfgPath string) *hurenProc {
	t.Helper()
	p := &hurenProc{stderr: &bytes.Buffer{}, exited: make(chan struct{})}
	p.cmd = exec.Command(bin, "serve", "--demo", "--config", cfgPath)
	p.cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	p.cmd.Stderr = p.stderr
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string)
	go func() {
		defer close(p.exited)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		_ = p.cmd.Wait()
	}()
	tokenNext := false
	for line := range lines {
		switch {
		case tokenNext:
			p.token, tokenNext = strings.TrimSpace(line), false
		case strings.Contains(line, "Device token for uploads"):
			tokenNext = true
		case readerRE.MatchString(line):
			p.readerPW = readerRE.FindStringSubmatch(line)[1]
		case runningRE.MatchString(line):
			p.base = runningRE.FindStringSubmatch(line)[1]
			go func() { // keep draining stdout
				for range lines {
				}
			}()
			t.Cleanup(func() { p.kill() })
			return p
		}
	}
	t.Fatalf("huren exited before serving: %s", p.stderr.String())
	return nil
}

func (p *hurenProc) kill() {
	_ = p.cmd.Process.Kill() // SIGKILL: no graceful flush of anything
	<-p.exited
}

// syntheticCT is a small valid CT instance (4×4 pixels) of the given
// study/series.
func syntheticCT(study, series string, num int) []byte {
	return dicomtest.CT(study, series, num, 4)
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startRedis runs a private redis-server (the hub's keys have a fixed
// prefix, so a test that restarts a hub needs a Redis of its own).
func startRedis(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("redis-server")
	if err != nil {
		testbackend.RedisAddr(t) // skips, or fails under scripts/test
		t.Skip("redis-server not installed")
	}
	port := freePort(t)
	cmd := exec.Command(path, "--port", fmt.Sprint(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", t.TempDir())
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	for i := 0; ; i++ {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return addr
		}
		if i > 500 {
			t.Fatal("redis-server did not start")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// readerTasks logs in as the demo reader and returns the study tasks of
// the default reading group.
func readerTasks(t *testing.T, base, password string) []map[string]any {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	cl := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	body, _ := json.Marshal(map[string]string{"username": "reader", "password": password})
	resp, err := cl.Post(base+"/api/auth/login", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("login: %d", resp.StatusCode)
	}
	resp, err = cl.Get(base + "/api/worklist/tasks?group=" + DefaultReadingGroup)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var page struct {
		Tasks []map[string]any `json:"tasks"`
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		t.Fatalf("tasks: %d %s", resp.StatusCode, b)
	}
	if err := json.NewDecoder(resp.Body).Decode(&page); err != nil {
		t.Fatal(err)
	}
	return page.Tasks
}

// TestKill9InQuietPeriodKeepsTask: a study uploaded and then lost with
// kill -9 before its quiet period ended gets exactly one reading task after
// the restart (before the recovery, it never got one).
func TestKill9InQuietPeriodKeepsTask(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the huren binary")
	}
	bin := buildHuren(t)
	run := func(t *testing.T, extra map[string]any) {
		dir := t.TempDir()
		cfg := map[string]any{"listen": "127.0.0.1:0", "data_dir": dir, "quiet_period": "4s", "log_level": "warn"}
		for k, v := range extra {
			cfg[k] = v
		}
		b, _ := json.Marshal(cfg)
		cfgPath := filepath.Join(dir, "huren.json")
		if err := os.WriteFile(cfgPath, b, 0o600); err != nil {
			t.Fatal(err)
		}
		p := startHuren(t, bin, cfgPath)
		const study = "2.25.99014004.1"
		for i := 1; i <= 3; i++ {
			series := study + ".1"
			if i == 3 {
				series = study + ".2"
			}
			resp := do(t, "POST", p.base+"/dicom-web/studies", p.token, "application/dicom", bytes.NewReader(syntheticCT(study, series, i)))
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("STOW %d: %d", i, resp.StatusCode)
			}
		}
		p.kill() // within the 4 s quiet period: no task was created

		p2 := startHuren(t, bin, cfgPath)
		var tasks []map[string]any
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		for len(tasks) == 0 {
			if ctx.Err() != nil {
				t.Fatalf("no task for the study after the restart; hub log:\n%s", p2.stderr.String())
			}
			time.Sleep(200 * time.Millisecond)
			tasks = readerTasks(t, p2.base, p.readerPW)
		}
		// A second quiet period later there is still exactly one.
		time.Sleep(4 * time.Second)
		tasks = readerTasks(t, p2.base, p.readerPW)
		if len(tasks) != 1 || tasks[0]["ref"] != study || tasks[0]["instances"] != float64(3) || tasks[0]["series"] != float64(2) {
			t.Fatalf("tasks after restart: %+v", tasks)
		}
	}
	t.Run("embedded", func(t *testing.T) { run(t, nil) })
	t.Run("minio+redis", func(t *testing.T) {
		s3 := testbackend.MinIO(t)
		redisAddr := startRedis(t)
		bucket := testbackend.UniqueName("crash-")
		run(t, map[string]any{
			"storage": fmt.Sprintf("minio://%s:%s@%s/%s?secure=false", s3.AccessKey, s3.SecretKey, s3.Endpoint, bucket),
			"redis":   "redis://" + redisAddr + "/0",
		})
	})
}
