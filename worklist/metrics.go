package worklist

import (
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the Prometheus metrics both backends record. A nil *Metrics
// records nothing.
type Metrics struct {
	ops     *prometheus.HistogramVec
	results *prometheus.CounterVec
}

// NewMetrics registers the worklist metrics with reg (nil: none) under
// the given backend label.
func NewMetrics(reg prometheus.Registerer, backend string) *Metrics {
	if reg == nil {
		return nil
	}
	m := &Metrics{
		ops: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "huren_worklist_op_duration_seconds", Help: "Duration of worklist operations (one Lua script on Redis).",
			ConstLabels: prometheus.Labels{"backend": backend},
			Buckets:     []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .1, .5},
		}, []string{"op"}),
		results: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "huren_worklist_ops_total", Help: "Worklist operations by result (ok, not_found, empty, claimed, conflict, expired, forbidden, unavailable, error).",
			ConstLabels: prometheus.Labels{"backend": backend},
		}, []string{"op", "result"}),
	}
	reg.MustRegister(m.ops, m.results)
	return m
}

// Observe records one operation that started at start.
func (m *Metrics) Observe(op string, start time.Time, err error) {
	if m == nil {
		return
	}
	m.ops.WithLabelValues(op).Observe(time.Since(start).Seconds())
	m.results.WithLabelValues(op, resultOf(err)).Inc()
}

func resultOf(err error) string {
	for _, r := range []struct {
		err  error
		name string
	}{{nil, "ok"}, {ErrNotFound, "not_found"}, {ErrEmpty, "empty"}, {ErrAlreadyClaimed, "claimed"}, {ErrConflict, "conflict"},
		{ErrLeaseExpired, "expired"}, {ErrForbidden, "forbidden"}, {ErrUnavailable, "unavailable"}} {
		if err == r.err || r.err != nil && errors.Is(err, r.err) {
			return r.name
		}
	}
	return "error"
}
