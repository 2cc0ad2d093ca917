package dicomweb

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

type handlerMetrics struct {
	stowInstances *prometheus.CounterVec
	qido          *prometheus.CounterVec
	retrieved     *prometheus.CounterVec
	retrieveBytes prometheus.Counter
}

func newHandlerMetrics(reg prometheus.Registerer) (*handlerMetrics, error) {
	m := &handlerMetrics{
		stowInstances: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "huren_dicomweb_stow_instances_total", Help: "STOW-RS instances by outcome (stored, failed).",
		}, []string{"outcome"}),
		qido: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "huren_dicomweb_qido_searches_total", Help: "QIDO-RS searches by level.",
		}, []string{"level"}),
		retrieved: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "huren_dicomweb_wado_responses_total", Help: "WADO-RS responses by kind (instances, metadata, bulk).",
		}, []string{"kind"}),
		retrieveBytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "huren_dicomweb_wado_instance_bytes_total", Help: "Bytes of DICOM instances sent by WADO-RS retrieve.",
		}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.stowInstances, m.qido, m.retrieved, m.retrieveBytes} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("dicomweb metrics: %w", err)
			}
		}
	}
	return m, nil
}
