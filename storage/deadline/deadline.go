// Package deadline is a storage.Store decorator that bounds every call: a
// call in which the backend makes no progress for the idle limit is
// cancelled and fails with storage.ErrUnavailable, so a frozen object store
// (MinIO stopped, a network partition that drops packets silently) turns
// into a prompt "retry later" (HTTP 503 + Retry-After) instead of requests
// that hang for minutes and then fail with an unclassified error.
//
// The limit is on the backend's silence, not on the call's total time: a
// 2 GB Put that streams steadily never trips it. Time spent outside the
// backend is not counted — while Put waits for the caller's reader (a slow
// uploader), while List runs its callback, while a Get's caller holds the
// reader between reads.
//
// Concurrency: as safe as the wrapped store.
package deadline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"github.com/huren-health/huren/storage"
)

// DefaultIdle is the limit Wrap uses when given 0.
const DefaultIdle = 30 * time.Second

// Wrap bounds every call of s by idle (0 means DefaultIdle). A store that
// is a storage.Presigner stays one.
func Wrap(s storage.Store, idle time.Duration) storage.Store {
	if idle <= 0 {
		idle = DefaultIdle
	}
	st := &store{s: s, idle: idle}
	if p, ok := s.(storage.Presigner); ok {
		return &presigner{store: st, p: p}
	}
	return st
}

type store struct {
	s    storage.Store
	idle time.Duration
}

// watchdog cancels a call's context when its timer, armed while the backend
// holds control, runs out.
type watchdog struct {
	idle   time.Duration
	t      *time.Timer
	fired  atomic.Bool
	cancel context.CancelFunc
}

func (s *store) watch(ctx context.Context) (context.Context, *watchdog) {
	ctx, cancel := context.WithCancel(ctx)
	w := &watchdog{idle: s.idle, cancel: cancel}
	w.t = time.AfterFunc(s.idle, func() {
		w.fired.Store(true)
		cancel()
	})
	return ctx, w
}

// pause stops the clock (control is outside the backend).
func (w *watchdog) pause() { w.t.Stop() }

// resume restarts the clock with a full idle period (progress was made).
func (w *watchdog) resume() {
	if !w.fired.Load() {
		w.t.Reset(w.idle)
	}
}

// stop ends the watch and releases the context.
func (w *watchdog) stop() {
	w.t.Stop()
	w.cancel()
}

// check turns the backend's error after a timeout into ErrUnavailable,
// whatever the backend made of the cancellation.
func (w *watchdog) check(op, key string, err error) error {
	if err == nil || !w.fired.Load() || errors.Is(err, storage.ErrUnavailable) {
		return err
	}
	return fmt.Errorf("storage %s %s: backend made no progress for %s: %w (%v)", op, key, w.idle, storage.ErrUnavailable, err)
}

func (s *store) Stat(ctx context.Context, key string) (storage.Info, error) {
	ctx, w := s.watch(ctx)
	defer w.stop()
	info, err := s.s.Stat(ctx, key)
	return info, w.check("stat", key, err)
}

func (s *store) Delete(ctx context.Context, key string) error {
	ctx, w := s.watch(ctx)
	defer w.stop()
	return w.check("delete", key, s.s.Delete(ctx, key))
}

func (s *store) Get(ctx context.Context, key string) (io.ReadCloser, storage.Info, error) {
	ctx, w := s.watch(ctx)
	rc, info, err := s.s.Get(ctx, key)
	if err != nil {
		w.stop()
		return nil, info, w.check("get", key, err)
	}
	w.pause()
	return &reader{rc: rc, w: w, op: "get", key: key}, info, nil
}

func (s *store) GetRange(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error) {
	ctx, w := s.watch(ctx)
	rc, err := s.s.GetRange(ctx, key, offset, length)
	if err != nil {
		w.stop()
		return nil, w.check("get_range", key, err)
	}
	w.pause()
	return &reader{rc: rc, w: w, op: "get_range", key: key}, nil
}

// reader runs the clock only inside Read: a slow consumer is not the
// backend's fault.
type reader struct {
	rc      io.ReadCloser
	w       *watchdog
	op, key string
}

func (r *reader) Read(p []byte) (int, error) {
	r.w.resume()
	n, err := r.rc.Read(p)
	r.w.pause()
	if err != nil && err != io.EOF {
		err = r.w.check(r.op, r.key, err)
	}
	return n, err
}

func (r *reader) Close() error {
	err := r.rc.Close()
	r.w.stop()
	return err
}

func (s *store) Put(ctx context.Context, key string, r io.Reader, opts storage.PutOptions) (storage.Info, error) {
	ctx, w := s.watch(ctx)
	defer w.stop()
	info, err := s.s.Put(ctx, key, &source{r: r, w: w}, opts)
	return info, w.check("put", key, err)
}

func (s *store) PutIfAbsent(ctx context.Context, key string, r io.Reader, opts storage.PutOptions) (storage.Info, error) {
	ctx, w := s.watch(ctx)
	defer w.stop()
	info, err := s.s.PutIfAbsent(ctx, key, &source{r: r, w: w}, opts)
	return info, w.check("put_if_absent", key, err)
}

// source is the caller's content as the backend reads it: the clock stops
// while the caller's reader (a client upload) is slow, and each read the
// backend asks for is progress.
type source struct {
	r io.Reader
	w *watchdog
}

func (s *source) Read(p []byte) (int, error) {
	s.w.pause()
	n, err := s.r.Read(p)
	s.w.resume()
	return n, err
}

func (s *store) List(ctx context.Context, prefix string, fn func(storage.Info) error) error {
	ctx, w := s.watch(ctx)
	defer w.stop()
	err := s.s.List(ctx, prefix, func(info storage.Info) error {
		w.pause()
		defer w.resume()
		return fn(info)
	})
	return w.check("list", prefix, err)
}

func (s *store) Close() error { return s.s.Close() }

type presigner struct {
	*store
	p storage.Presigner
}

func (p *presigner) PresignGet(ctx context.Context, key string, expiry time.Duration) (string, error) {
	ctx, w := p.watch(ctx)
	defer w.stop()
	u, err := p.p.PresignGet(ctx, key, expiry)
	return u, w.check("presign_get", key, err)
}
