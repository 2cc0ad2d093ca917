package instrumented

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

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

func TestStore(t *testing.T) {
	// The wrapped backend already streams the full-size object in its own
	// test; a smaller one proves the wrapper does not buffer.
	if os.Getenv(storagetest.BigObjectEnv) == "" {
		t.Setenv(storagetest.BigObjectEnv, "64")
	}
	storagetest.Run(t, func(t *testing.T) storage.Store {
		return Wrap(newFS(t), prometheus.NewRegistry())
	})
}

// The decorator over a Flaky store passes the suite too while up, and
// counts refused calls as unavailable while down.
func TestOverFlaky(t *testing.T) {
	reg := prometheus.NewRegistry()
	f := &storagetest.Flaky{Store: newFS(t)}
	s := Wrap(f, reg)
	ctx := t.Context()
	if _, err := s.Put(ctx, "a", strings.NewReader("x"), storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	f.SetDown(true)
	if _, err := s.Stat(ctx, "a"); !errors.Is(err, storage.ErrUnavailable) {
		t.Fatalf("Stat while down = %v", err)
	}
	if got := opsValue(t, reg, "stat", "unavailable"); got != 1 {
		t.Errorf("stat/unavailable = %v, want 1", got)
	}
}

// opsValue reads huren_storage_ops_total{op,result} (0 if absent).
func opsValue(t *testing.T, reg *prometheus.Registry, op, result string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "huren_storage_ops_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["op"] == op && labels["result"] == result {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	s := Wrap(newFS(t), reg)
	ctx := t.Context()
	for i := range 3 {
		if _, err := s.Put(ctx, fmt.Sprintf("k%d", i), strings.NewReader("hello"), storage.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.PutIfAbsent(ctx, "k0", strings.NewReader("again"), storage.PutOptions{}); !errors.Is(err, storage.ErrExists) {
		t.Fatal(err)
	}
	if _, err := s.Stat(ctx, "missing"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatal(err)
	}
	if _, err := s.Stat(ctx, "../bad"); !errors.Is(err, storage.ErrInvalidKey) {
		t.Fatal(err)
	}
	rc, _, err := s.Get(ctx, "k1")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, rc)
	rc.Close()
	rc, err = s.GetRange(ctx, "k2", 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, rc)
	rc.Close()
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	s.Put(cctx, "k9", strings.NewReader("x"), storage.PutOptions{})
	s.List(ctx, "", func(storage.Info) error { return nil })
	s.Delete(ctx, "k0")

	want := map[[2]string]float64{
		{"put", "ok"}: 3, {"put_if_absent", "exists"}: 1, {"stat", "not_found"}: 1, {"stat", "invalid"}: 1,
		{"get", "ok"}: 1, {"get_range", "ok"}: 1, {"put", "canceled"}: 1, {"list", "ok"}: 1, {"delete", "ok"}: 1,
	}
	for k, v := range want {
		if got := opsValue(t, reg, k[0], k[1]); got != v {
			t.Errorf("ops_total{op=%s,result=%s} = %v, want %v", k[0], k[1], got, v)
		}
	}
	if got := counterValue(t, reg, "huren_storage_bytes_written_total"); got != 15 {
		t.Errorf("bytes_written = %v, want 15", got)
	}
	if got := counterValue(t, reg, "huren_storage_bytes_read_total"); got != 7 {
		t.Errorf("bytes_read = %v, want 7", got)
	}
	if n := testutil.CollectAndCount(reg, "huren_storage_op_seconds"); n != 7 {
		t.Errorf("op_seconds has %d series, want 7 (one per op used)", n)
	}
}

func counterValue(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatalf("metric %s not found", name)
	return 0
}

// Two stores wrapped on one registry share the collectors instead of
// panicking on duplicate registration.
func TestWrapTwiceSameRegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	a := Wrap(newFS(t), reg)
	b := Wrap(newFS(t), reg)
	ctx := t.Context()
	a.Put(ctx, "x", strings.NewReader("1"), storage.PutOptions{})
	b.Put(ctx, "x", strings.NewReader("1"), storage.PutOptions{})
	if got := opsValue(t, reg, "put", "ok"); got != 2 {
		t.Errorf("put/ok = %v, want 2", got)
	}
}

type fakePresigner struct{ storage.Store }

func (fakePresigner) PresignGet(_ context.Context, key string, _ time.Duration) (string, error) {
	return "https://example.invalid/" + key, nil
}

// The Presigner capability survives wrapping, and only when present.
func TestPresignerPreserved(t *testing.T) {
	if _, ok := Wrap(newFS(t), nil).(storage.Presigner); ok {
		t.Error("wrapped fs store claims to be a Presigner")
	}
	w := Wrap(fakePresigner{newFS(t)}, nil)
	p, ok := w.(storage.Presigner)
	if !ok {
		t.Fatal("wrapped Presigner lost the capability")
	}
	u, err := p.PresignGet(t.Context(), "a/b", time.Minute)
	if err != nil || u != "https://example.invalid/a/b" {
		t.Errorf("PresignGet = %q, %v", u, err)
	}
}
