package storagetest

import (
	"context"
	"fmt"
	"io"
	"sync/atomic"

	"github.com/huren-health/huren/storage"
)

// Flaky wraps a real store and, while switched down, fails every call with an
// error matching storage.ErrUnavailable — the way an unreachable MinIO looks
// to callers. Use it for outage tests (HTTP 503 + Retry-After, retry loops,
// store-and-forward) instead of a hand-written mock:
//
//	f := &storagetest.Flaky{Store: real}
//	f.SetDown(true)
//
// While up it is fully transparent and passes Run. It is safe for concurrent
// use; the switch may be flipped at any time, also while calls are running
// (a call already past the check completes against the real store).
type Flaky struct {
	storage.Store
	down  atomic.Bool
	calls atomic.Int64
}

var _ storage.Store = (*Flaky)(nil)

// SetDown switches the outage on (true) or off (false).
func (f *Flaky) SetDown(down bool) { f.down.Store(down) }

// Down reports whether the outage is on.
func (f *Flaky) Down() bool { return f.down.Load() }

// FailedCalls is how many calls were refused while down.
func (f *Flaky) FailedCalls() int64 { return f.calls.Load() }

func (f *Flaky) check(op, key string) error {
	if f.down.Load() {
		f.calls.Add(1)
		return fmt.Errorf("storagetest.Flaky %s %q: %w", op, key, storage.ErrUnavailable)
	}
	return nil
}

func (f *Flaky) Get(ctx context.Context, key string) (io.ReadCloser, storage.Info, error) {
	if err := f.check("get", key); err != nil {
		return nil, storage.Info{}, err
	}
	return f.Store.Get(ctx, key)
}

func (f *Flaky) GetRange(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error) {
	if err := f.check("get range", key); err != nil {
		return nil, err
	}
	return f.Store.GetRange(ctx, key, offset, length)
}

func (f *Flaky) Stat(ctx context.Context, key string) (storage.Info, error) {
	if err := f.check("stat", key); err != nil {
		return storage.Info{}, err
	}
	return f.Store.Stat(ctx, key)
}

func (f *Flaky) Put(ctx context.Context, key string, r io.Reader, opts storage.PutOptions) (storage.Info, error) {
	if err := f.check("put", key); err != nil {
		return storage.Info{}, err
	}
	return f.Store.Put(ctx, key, r, opts)
}

func (f *Flaky) PutIfAbsent(ctx context.Context, key string, r io.Reader, opts storage.PutOptions) (storage.Info, error) {
	if err := f.check("put if absent", key); err != nil {
		return storage.Info{}, err
	}
	return f.Store.PutIfAbsent(ctx, key, r, opts)
}

func (f *Flaky) List(ctx context.Context, prefix string, fn func(storage.Info) error) error {
	if err := f.check("list", prefix); err != nil {
		return err
	}
	return f.Store.List(ctx, prefix, fn)
}

func (f *Flaky) Delete(ctx context.Context, key string) error {
	if err := f.check("delete", key); err != nil {
		return err
	}
	return f.Store.Delete(ctx, key)
}

// Close always closes the wrapped store, even while down, so tests can clean up.
func (f *Flaky) Close() error { return f.Store.Close() }
