package sfu

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// Process-wide metrics, registered once on the default registry that
// /metrics serves (with the Go runtime and process collectors).
var (
	metricRooms = promauto.NewGauge(prometheus.GaugeOpts{
		Name: "backchannel_rooms", Help: "Rooms with at least one participant.",
	})
	metricParticipants = promauto.NewGauge(prometheus.GaugeOpts{
		Name: "backchannel_participants", Help: "Participants connected.",
	})
	metricTracks = promauto.NewGauge(prometheus.GaugeOpts{
		Name: "backchannel_tracks", Help: "Published media tracks.",
	})
	metricDataIn = promauto.NewCounter(prometheus.CounterOpts{
		Name: "backchannel_data_messages_in_total", Help: "Data-channel messages received from participants.",
	})
	metricDataOut = promauto.NewCounter(prometheus.CounterOpts{
		Name: "backchannel_data_messages_out_total", Help: "Data-channel messages written to participants.",
	})
	metricDataDropped = promauto.NewCounter(prometheus.CounterOpts{
		Name: "backchannel_data_messages_dropped_total", Help: "Data-channel messages dropped because a recipient's send queue was full.",
	})
	metricDataBytesIn = promauto.NewCounter(prometheus.CounterOpts{
		Name: "backchannel_data_bytes_in_total", Help: "Data-channel bytes received.",
	})
	metricDataBytesOut = promauto.NewCounter(prometheus.CounterOpts{
		Name: "backchannel_data_bytes_out_total", Help: "Data-channel bytes written.",
	})
)
