package ingest

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	stored     *prometheus.CounterVec
	bytes      prometheus.Counter
	duplicates prometheus.Counter
	conflicts  prometheus.Counter
	rederived  prometheus.Counter
	failures   *prometheus.CounterVec
	latency    prometheus.Histogram
	bundles    *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		stored: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "huren_ingest_instances_stored_total", Help: "DICOM instances durably stored and indexed, by transport.",
		}, []string{"via"}),
		bytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "huren_ingest_bytes_stored_total", Help: "Bytes of original DICOM instances stored.",
		}),
		duplicates: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "huren_ingest_duplicates_total", Help: "Instances re-sent with identical bytes (no-op successes).",
		}),
		rederived: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "huren_ingest_metadata_rebuilt_total", Help: "Instance metadata objects rebuilt from their original on read (missing or stale after a crash).",
		}),
		conflicts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "huren_ingest_conflicts_total", Help: "Instances refused because their SOP Instance UID is stored with other bytes.",
		}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "huren_ingest_failures_total", Help: "Instances refused, by reason.",
		}, []string{"reason"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "huren_ingest_instance_seconds", Help: "Time to receive, parse and durably store one instance.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14),
		}),
		bundles: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "huren_ingest_series_bundles_total", Help: "Series metadata bundle rebuilds, by result.",
		}, []string{"result"}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.stored, m.bytes, m.duplicates, m.conflicts, m.rederived, m.failures, m.latency, m.bundles} {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if errors.As(err, &are) {
				return nil, fmt.Errorf("ingest metrics: %w (one Service per registry)", err)
			}
			return nil, fmt.Errorf("ingest metrics: %w", err)
		}
	}
	return m, nil
}
