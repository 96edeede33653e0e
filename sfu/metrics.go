package sfu

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// The SFU's metrics count for the whole process, like the Go runtime's.
// Creating them registers nothing: the server registers them, with
// RegisterMetrics, on the registry it serves at /metrics, so a process
// that only imports this package exports nothing it did not ask for.
var (
	metricRooms = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "backchannel_rooms", Help: "Rooms with at least one participant.",
	})
	metricParticipants = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "backchannel_participants", Help: "Participants connected.",
	})
	metricTracks = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "backchannel_tracks", Help: "Published media tracks.",
	})
	metricDataIn = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "backchannel_data_messages_in_total", Help: "Data-channel messages received from participants.",
	})
	metricDataOut = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "backchannel_data_messages_out_total", Help: "Data-channel messages written to participants.",
	})
	metricDataDropped = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "backchannel_data_messages_dropped_total", Help: "Data-channel messages dropped because a recipient's send queue was full.",
	})
	metricDataBytesIn = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "backchannel_data_in_bytes_total", Help: "Data-channel bytes received.",
	})
	metricDataBytesOut = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "backchannel_data_out_bytes_total", Help: "Data-channel bytes written.",
	})
)

// RegisterMetrics registers the SFU's metrics on reg. Registering them
// again on the same registry (several servers in one process, as in
// tests) is not an error.
func RegisterMetrics(reg prometheus.Registerer) error {
	for _, c := range []prometheus.Collector{metricRooms, metricParticipants, metricTracks,
		metricDataIn, metricDataOut, metricDataDropped, metricDataBytesIn, metricDataBytesOut} {
		if err := reg.Register(c); err != nil {
			var dup prometheus.AlreadyRegisteredError
			if errors.As(err, &dup) && dup.ExistingCollector == c {
				continue
			}
			return err
		}
	}
	return nil
}
