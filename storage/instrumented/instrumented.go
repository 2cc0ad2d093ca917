// Package instrumented is a storage.Store decorator that records Prometheus
// metrics for every call and otherwise changes nothing: it passes the
// storagetest acceptance suite like the backends it wraps.
//
// Metrics (registered on the given Registerer; wrapping several stores with
// one registry shares the collectors):
//
//	huren_storage_ops_total{op,result}       calls, result = ok | not_found |
//	                                         exists | invalid | unavailable |
//	                                         canceled | error
//	huren_storage_op_seconds{op}             call latency; for get/get_range
//	                                         until the reader is open (time to
//	                                         first byte), not the whole stream
//	huren_storage_bytes_written_total        bytes stored by successful puts
//	huren_storage_bytes_read_total           bytes read through returned readers
//
// op is one of get, get_range, stat, put, put_if_absent, list, delete,
// presign_get. A wrapped store that is a storage.Presigner stays one.
//
// Concurrency: as safe as the wrapped store; the metrics are atomic.
package instrumented

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/huren-health/huren/errkind"
	"github.com/huren-health/huren/storage"
)

type metrics struct {
	ops          *prometheus.CounterVec
	seconds      *prometheus.HistogramVec
	bytesWritten prometheus.Counter
	bytesRead    prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		ops: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "huren_storage_ops_total",
			Help: "Storage operations by operation and result.",
		}, []string{"op", "result"}),
		seconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "huren_storage_op_seconds",
			Help: "Storage operation latency (for reads: until the reader is open).",
			// 0.5 ms … ~65 s: local fsync-bound puts to GiB uploads.
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 18),
		}, []string{"op"}),
		bytesWritten: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "huren_storage_bytes_written_total",
			Help: "Bytes stored by successful Put and PutIfAbsent calls.",
		}),
		bytesRead: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "huren_storage_bytes_read_total",
			Help: "Bytes read through readers returned by Get and GetRange.",
		}),
	}
	if reg != nil {
		m.ops = register(reg, m.ops)
		m.seconds = register(reg, m.seconds)
		m.bytesWritten = register(reg, m.bytesWritten)
		m.bytesRead = register(reg, m.bytesRead)
	}
	return m
}

// register registers c, or returns the identical collector registered
// earlier (a second Wrap on the same registry).
func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
		// Same name, different shape: a programming error in this package.
		panic("instrumented: register metrics: " + err.Error())
	}
	return c
}

// Result returns the result label for err.
func Result(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return "canceled"
	case errors.Is(err, storage.ErrNotFound):
		return "not_found"
	case errors.Is(err, storage.ErrExists):
		return "exists"
	case errors.Is(err, storage.ErrUnavailable):
		return "unavailable"
	case errkind.Of(err) == errkind.Invalid:
		return "invalid"
	default:
		return "error"
	}
}

// Store is the decorator. Use Wrap to build one.
type Store struct {
	next storage.Store
	m    *metrics
}

var _ storage.Store = (*Store)(nil)

type presignStore struct{ *Store }

var _ storage.Presigner = presignStore{}

// Wrap returns s with metrics recorded on reg (nil: metrics kept but not
// exported). If s is a storage.Presigner, so is the result.
func Wrap(s storage.Store, reg prometheus.Registerer) storage.Store {
	w := &Store{next: s, m: newMetrics(reg)}
	if _, ok := s.(storage.Presigner); ok {
		return presignStore{w}
	}
	return w
}

// Unwrap returns the wrapped store.
func (s *Store) Unwrap() storage.Store { return s.next }

func (s *Store) observe(op string, start time.Time, err error) {
	s.m.ops.WithLabelValues(op, Result(err)).Inc()
	s.m.seconds.WithLabelValues(op).Observe(time.Since(start).Seconds())
}

type countingReader struct {
	io.ReadCloser
	c prometheus.Counter
}

func (r countingReader) Read(p []byte) (int, error) {
	n, err := r.ReadCloser.Read(p)
	if n > 0 {
		r.c.Add(float64(n))
	}
	return n, err
}

func (s *Store) Get(ctx context.Context, key string) (io.ReadCloser, storage.Info, error) {
	start := time.Now()
	rc, info, err := s.next.Get(ctx, key)
	s.observe("get", start, err)
	if err != nil {
		return nil, info, err
	}
	return countingReader{rc, s.m.bytesRead}, info, nil
}

func (s *Store) GetRange(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error) {
	start := time.Now()
	rc, err := s.next.GetRange(ctx, key, offset, length)
	s.observe("get_range", start, err)
	if err != nil {
		return nil, err
	}
	return countingReader{rc, s.m.bytesRead}, nil
}

func (s *Store) Stat(ctx context.Context, key string) (storage.Info, error) {
	start := time.Now()
	info, err := s.next.Stat(ctx, key)
	s.observe("stat", start, err)
	return info, err
}

func (s *Store) Put(ctx context.Context, key string, r io.Reader, opts storage.PutOptions) (storage.Info, error) {
	start := time.Now()
	info, err := s.next.Put(ctx, key, r, opts)
	s.observe("put", start, err)
	if err == nil {
		s.m.bytesWritten.Add(float64(info.Size))
	}
	return info, err
}

func (s *Store) PutIfAbsent(ctx context.Context, key string, r io.Reader, opts storage.PutOptions) (storage.Info, error) {
	start := time.Now()
	info, err := s.next.PutIfAbsent(ctx, key, r, opts)
	s.observe("put_if_absent", start, err)
	if err == nil {
		s.m.bytesWritten.Add(float64(info.Size))
	}
	return info, err
}

func (s *Store) List(ctx context.Context, prefix string, fn func(storage.Info) error) error {
	start := time.Now()
	err := s.next.List(ctx, prefix, fn)
	s.observe("list", start, err)
	return err
}

func (s *Store) Delete(ctx context.Context, key string) error {
	start := time.Now()
	err := s.next.Delete(ctx, key)
	s.observe("delete", start, err)
	return err
}

// Close closes the wrapped store.
func (s *Store) Close() error { return s.next.Close() }

func (s presignStore) PresignGet(ctx context.Context, key string, expiry time.Duration) (string, error) {
	start := time.Now()
	u, err := s.next.(storage.Presigner).PresignGet(ctx, key, expiry)
	s.observe("presign_get", start, err)
	return u, err
}
