package webhook

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/backchannel-rtc/backchannel/recorder"
)

// Delivery metrics count for the whole process. Creating them registers
// nothing: the server registers them with RegisterMetrics on the registry
// it serves.
var (
	deliveries = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "backchannel_webhook_deliveries_total",
		Help: "Webhook deliveries that ended: delivered, failed (attempts exhausted) or gone (410, endpoint disabled).",
	}, []string{"result"})
	attempts = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "backchannel_webhook_attempts_total",
		Help: "Webhook delivery attempts by outcome: 2xx, 3xx, 4xx, 5xx, timeout, network.",
	}, []string{"outcome"})
	retries = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "backchannel_webhook_retries_scheduled_total",
		Help: "Failed webhook attempts that were scheduled for another try.",
	})
	attemptSeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "backchannel_webhook_attempt_duration_seconds",
		Help:    "Duration of webhook delivery attempts, per endpoint.",
		Buckets: prometheus.ExponentialBuckets(0.005, 3, 9),
	}, []string{"endpoint"})
	reclaimed = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "backchannel_webhook_reclaimed_total",
		Help: "Rows taken back from another worker that stopped mid-attempt: lease (its lease ran out) or dead_node (cluster: its node's heartbeat is stale).",
	}, []string{"reason"})
	enqueued = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "backchannel_webhook_events_enqueued_total",
		Help: "Outbox rows written, by event type (counted when written; a rolled-back batch is written again).",
	}, []string{"type"})
	queueDesc = prometheus.NewDesc("backchannel_webhook_queue_depth",
		"Outbox rows waiting for delivery (pending or being sent), per endpoint.", []string{"endpoint"}, nil)
)

// RegisterMetrics registers the delivery metrics on reg, and the queue
// depth of d's endpoints when d is not nil. Registering the same metrics
// again (several servers in one process, as in tests) is not an error.
func RegisterMetrics(reg prometheus.Registerer, d *Delivery) error {
	cs := []prometheus.Collector{deliveries, attempts, retries, attemptSeconds, reclaimed, enqueued}
	if d != nil {
		cs = append(cs, queueCollector{d})
	}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			var dup prometheus.AlreadyRegisteredError
			if errors.As(err, &dup) {
				continue
			}
			return err
		}
	}
	return nil
}

// queueCollector counts each endpoint's waiting rows when scraped: one
// grouped COUNT on the outbox's due index, not a figure kept per row.
type queueCollector struct{ d *Delivery }

func (q queueCollector) Describe(ch chan<- *prometheus.Desc) { ch <- queueDesc }

func (q queueCollector) Collect(ch chan<- prometheus.Metric) {
	if q.d.db == nil {
		return
	}
	var rows []struct {
		Endpoint string
		N        int64
	}
	err := q.d.db.Model(&recorder.OutboxEvent{}).Select("endpoint, COUNT(*) AS n").
		Where("status IN ?", []string{recorder.OutboxPending, OutboxSending}).Group("endpoint").Scan(&rows).Error
	if err != nil {
		return
	}
	seen := map[string]bool{}
	for _, r := range rows {
		seen[r.Endpoint] = true
		ch <- prometheus.MustNewConstMetric(queueDesc, prometheus.GaugeValue, float64(r.N), r.Endpoint)
	}
	for _, ep := range q.d.eps {
		if !seen[ep.ID] {
			ch <- prometheus.MustNewConstMetric(queueDesc, prometheus.GaugeValue, 0, ep.ID)
		}
	}
}
