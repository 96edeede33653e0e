package signaling

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// metricRefused counts sockets refused before the upgrade, by the logged
// reason (a fixed set: what was wrong with the token, another room, an
// origin not allowed). Registered by the server with RegisterMetrics.
var metricRefused = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "backchannel_sockets_refused_total",
	Help: "Signaling sockets refused before the upgrade, by reason (a fixed set of phrases; never the token).",
}, []string{"reason"})

// RegisterMetrics registers the endpoint's metrics on reg; again on the
// same registry is not an error.
func RegisterMetrics(reg prometheus.Registerer) error {
	if err := reg.Register(metricRefused); err != nil {
		var dup prometheus.AlreadyRegisteredError
		if !errors.As(err, &dup) {
			return err
		}
	}
	return nil
}
