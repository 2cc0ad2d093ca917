package deadline

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/huren-health/huren/storage"
	"github.com/huren-health/huren/storage/fs"
	"github.com/huren-health/huren/storage/storagetest"
)

func newFS(t *testing.T) storage.Store {
	s, err := fs.New(fs.Config{Root: t.TempDir()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// The wrapper changes nothing for a healthy backend.
func TestContract(t *testing.T) {
	// The backends stream their full-size object in their own tests; a
	// small one proves the wrapper does not buffer (and keeps -race lean).
	t.Setenv(storagetest.BigObjectEnv, "16")
	storagetest.Run(t, func(t *testing.T) storage.Store { return Wrap(newFS(t), time.Minute) })
}

// frozen is a backend that never answers: every call waits for its context,
// as a network client does when the server stopped (SIGSTOP).
type frozen struct{ storage.Store }

func (frozen) Stat(ctx context.Context, key string) (storage.Info, error) {
	<-ctx.Done()
	return storage.Info{}, ctx.Err()
}

func (frozen) Get(ctx context.Context, key string) (io.ReadCloser, storage.Info, error) {
	<-ctx.Done()
	return nil, storage.Info{}, ctx.Err()
}

func (frozen) Put(ctx context.Context, key string, r io.Reader, opts storage.PutOptions) (storage.Info, error) {
	buf := make([]byte, 4)
	if _, err := r.Read(buf); err != nil { // takes some bytes, then stalls
		return storage.Info{}, err
	}
	<-ctx.Done()
	return storage.Info{}, ctx.Err()
}

func (frozen) List(ctx context.Context, prefix string, fn func(storage.Info) error) error {
	<-ctx.Done()
	return ctx.Err()
}

func TestFrozenBackendIsUnavailable(t *testing.T) {
	s := Wrap(frozen{}, 20*time.Millisecond)
	ctx := context.Background()
	calls := map[string]func() error{
		"stat": func() error { _, err := s.Stat(ctx, "a"); return err },
		"get":  func() error { _, _, err := s.Get(ctx, "a"); return err },
		"put": func() error {
			_, err := s.Put(ctx, "a", strings.NewReader("content"), storage.PutOptions{})
			return err
		},
		"list": func() error { return s.List(ctx, "", func(storage.Info) error { return nil }) },
	}
	for name, call := range calls {
		if err := call(); !errors.Is(err, storage.ErrUnavailable) {
			t.Errorf("%s: %v, want ErrUnavailable", name, err)
		}
	}
}

// slowReader hands out one byte per pause: an uploader on a slow line.
type slowReader struct {
	n     int
	pause time.Duration
}

func (r *slowReader) Read(p []byte) (int, error) {
	if r.n == 0 {
		return 0, io.EOF
	}
	time.Sleep(r.pause)
	r.n--
	p[0] = 'x'
	return 1, nil
}

// Time spent waiting for the caller — a slow upload, a slow List callback,
// a consumer pausing between reads — is not the backend's silence.
func TestCallerTimeNotCounted(t *testing.T) {
	const idle = 20 * time.Millisecond
	s := Wrap(newFS(t), idle)
	ctx := context.Background()
	if _, err := s.Put(ctx, "a/b", &slowReader{n: 3, pause: 3 * idle}, storage.PutOptions{}); err != nil {
		t.Fatalf("slow upload: %v", err)
	}
	if _, err := s.Put(ctx, "a/c", strings.NewReader("c"), storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	err := s.List(ctx, "a/", func(storage.Info) error { time.Sleep(3 * idle); return nil })
	if err != nil {
		t.Fatalf("slow callback: %v", err)
	}
	rc, _, err := s.Get(ctx, "a/b")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	time.Sleep(3 * idle)
	if b, err := io.ReadAll(rc); err != nil || string(b) != "xxx" {
		t.Fatalf("read after a pause: %q, %v", b, err)
	}
}
