package cluster

import (
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are a node's counters, registered by the app on its registry.
type Metrics struct {
	rooms         prometheus.Gauge
	renewals      prometheus.Counter
	renewFailures prometheus.Counter
	lost          prometheus.Counter
	takeovers     prometheus.Counter
	redirects     prometheus.Counter
	drained       prometheus.Counter
	orphans       prometheus.Counter
}

// NewMetrics makes the node's metrics.
func NewMetrics() *Metrics {
	return &Metrics{
		rooms: prometheus.NewGauge(prometheus.GaugeOpts{Name: "backchannel_cluster_rooms_owned",
			Help: "Rooms whose lease this node holds."}),
		renewals: prometheus.NewCounter(prometheus.CounterOpts{Name: "backchannel_cluster_lease_renewals_total",
			Help: "Room leases renewed."}),
		renewFailures: prometheus.NewCounter(prometheus.CounterOpts{Name: "backchannel_cluster_lease_renewal_failures_total",
			Help: "Renewal rounds that failed (database unreachable)."}),
		lost: prometheus.NewCounter(prometheus.CounterOpts{Name: "backchannel_cluster_leases_lost_total",
			Help: "Rooms this node stopped serving because their lease was taken or gone."}),
		takeovers: prometheus.NewCounter(prometheus.CounterOpts{Name: "backchannel_cluster_takeovers_total",
			Help: "Rooms taken (by this node's placement) at an epoch above 1: after a failover, a drain or an ended meeting."}),
		redirects: prometheus.NewCounter(prometheus.CounterOpts{Name: "backchannel_cluster_redirects_total",
			Help: "Joins answered with another node's URL."}),
		drained: prometheus.NewCounter(prometheus.CounterOpts{Name: "backchannel_cluster_drained_rooms_total",
			Help: "Rooms handed over by a drain."}),
		orphans: prometheus.NewCounter(prometheus.CounterOpts{Name: "backchannel_cluster_orphaned_sessions_ended_total",
			Help: "Meeting sessions this node ended because their host died and nobody came back."}),
	}
}

// Collectors are the metrics, for registering.
func (m *Metrics) Collectors() []prometheus.Collector {
	return []prometheus.Collector{m.rooms, m.renewals, m.renewFailures, m.lost, m.takeovers, m.redirects, m.drained, m.orphans}
}

// cpuMeter is the process's CPU use since the last sample, in cores.
type cpuMeter struct {
	last time.Time
	used time.Duration
}

func (c *cpuMeter) sample() float64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	used := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	now := time.Now()
	var cores float64
	if !c.last.IsZero() && now.After(c.last) {
		cores = float64(used-c.used) / float64(now.Sub(c.last))
	}
	c.last, c.used = now, used
	return cores
}
