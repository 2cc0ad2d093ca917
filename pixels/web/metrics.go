package web

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/huren-health/huren/pixels/cache"
)

type metrics struct {
	seconds  *prometheus.HistogramVec
	frames   prometheus.Counter
	rendered prometheus.Counter
}

func newMetrics(reg prometheus.Registerer, c *cache.Cache) (*metrics, error) {
	m := &metrics{
		seconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "huren_pixels_stage_seconds",
			Help:    "Time spent parsing, decoding and rendering (cache misses only).",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}, []string{"stage"}),
		frames:   prometheus.NewCounter(prometheus.CounterOpts{Name: "huren_pixels_frames_served_total", Help: "WADO-RS frames served."}),
		rendered: prometheus.NewCounter(prometheus.CounterOpts{Name: "huren_pixels_rendered_total", Help: "Rendered images and thumbnails served."}),
	}
	if reg == nil {
		return m, nil
	}
	stat := func(name, help string, f func(cache.Stats) float64, counter bool) prometheus.Collector {
		fn := func() float64 { return f(c.Stats()) }
		if counter {
			return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, fn)
		}
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, fn)
	}
	for _, col := range []prometheus.Collector{
		m.seconds, m.frames, m.rendered,
		stat("huren_pixels_cache_bytes", "Bytes held by the pixel cache.", func(s cache.Stats) float64 { return float64(s.Bytes) }, false),
		stat("huren_pixels_cache_hits_total", "Pixel cache hits.", func(s cache.Stats) float64 { return float64(s.Hits) }, true),
		stat("huren_pixels_cache_misses_total", "Pixel cache misses.", func(s cache.Stats) float64 { return float64(s.Misses) }, true),
		stat("huren_pixels_cache_evictions_total", "Pixel cache evictions.", func(s cache.Stats) float64 { return float64(s.Evictions) }, true),
	} {
		if err := reg.Register(col); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (m *metrics) observe(stage string, start time.Time) {
	m.seconds.WithLabelValues(stage).Observe(time.Since(start).Seconds())
}
