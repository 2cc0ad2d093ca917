package storagetest_test

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/huren-health/huren/storage"
	"github.com/huren-health/huren/storage/fs"
	"github.com/huren-health/huren/storage/storagetest"
)

func newFS(t *testing.T) storage.Store {
	s, err := fs.New(fs.Config{Root: t.TempDir()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// While up, Flaky is transparent: it passes the whole suite.
func TestFlakyUpPassesSuite(t *testing.T) {
	// The wrapped backend already streams the full-size object in its own
	// test; a smaller one proves the wrapper does not buffer.
	if os.Getenv(storagetest.BigObjectEnv) == "" {
		t.Setenv(storagetest.BigObjectEnv, "64")
	}
	storagetest.Run(t, func(t *testing.T) storage.Store { return &storagetest.Flaky{Store: newFS(t)} })
}

// While down, every call fails with ErrUnavailable and the real store is not
// touched; switched back up, the data written before is still there.
func TestFlakyDown(t *testing.T) {
	real := newFS(t)
	f := &storagetest.Flaky{Store: real}
	ctx := t.Context()
	if _, err := f.Put(ctx, "k", strings.NewReader("before"), storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	f.SetDown(true)
	if !f.Down() {
		t.Fatal("Down() = false after SetDown(true)")
	}
	errs := map[string]error{}
	_, _, errs["Get"] = f.Get(ctx, "k")
	_, errs["GetRange"] = f.GetRange(ctx, "k", 0, 1)
	_, errs["Stat"] = f.Stat(ctx, "k")
	_, errs["Put"] = f.Put(ctx, "k", strings.NewReader("during"), storage.PutOptions{})
	_, errs["PutIfAbsent"] = f.PutIfAbsent(ctx, "new", strings.NewReader("during"), storage.PutOptions{})
	errs["List"] = f.List(ctx, "", func(storage.Info) error { return nil })
	errs["Delete"] = f.Delete(ctx, "k")
	for op, err := range errs {
		if !errors.Is(err, storage.ErrUnavailable) {
			t.Errorf("%s while down = %v, want ErrUnavailable", op, err)
		}
	}
	if got := f.FailedCalls(); got != int64(len(errs)) {
		t.Errorf("FailedCalls = %d, want %d", got, len(errs))
	}
	f.SetDown(false)
	rc, _, err := f.Get(ctx, "k")
	if err != nil {
		t.Fatalf("Get after recovery: %v", err)
	}
	rc.Close()
	if _, err := real.Stat(ctx, "new"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("a refused PutIfAbsent reached the real store: %v", err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}
