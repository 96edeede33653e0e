package app

import (
	"net/http"
	"runtime"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/backchannel-rtc/backchannel/chat"
	"github.com/backchannel-rtc/backchannel/recorder/webhook"
	"github.com/backchannel-rtc/backchannel/sfu"
	"github.com/backchannel-rtc/backchannel/signaling"
)

// Build names the running binary, for backchannel_build_info.
type Build struct {
	Version, Commit string
}

// newMetrics builds the registry /metrics serves: one per App, so that
// several servers in one process (the tests) each export their own. The
// packages' own metrics count for the process and are registered on it;
// the chat's and the recorder's figures are read when scraped.
func (a *App) newMetrics() (*prometheus.Registry, error) {
	reg := prometheus.NewRegistry()
	b := a.cfg.Build
	if b.Version == "" {
		b.Version = "dev"
	}
	if b.Commit == "" {
		b.Commit = "unknown"
	}
	info := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "backchannel_build_info", Help: "Always 1; the labels name the build.",
		ConstLabels: prometheus.Labels{"version": b.Version, "commit": b.Commit, "goversion": runtime.Version()},
	})
	info.Set(1)
	for _, c := range []prometheus.Collector{
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		info, a.httpSeconds, a.commitSeconds, a.batchSize, statsCollector{a},
	} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	if err := sfu.RegisterMetrics(reg); err != nil {
		return nil, err
	}
	if err := signaling.RegisterMetrics(reg); err != nil {
		return nil, err
	}
	if err := webhook.RegisterMetrics(reg, a.Webhooks); err != nil {
		return nil, err
	}
	return reg, nil
}

func (a *App) metricsHandler() http.Handler {
	return promhttp.HandlerFor(a.registry, promhttp.HandlerOpts{Registry: a.registry})
}

// observeRequest feeds the HTTP histogram (internal/logs calls it).
func (a *App) observeRequest(_, route string, status int, took time.Duration) {
	if status == http.StatusSwitchingProtocols {
		return // a socket's lifetime, not a request's
	}
	a.httpSeconds.WithLabelValues(route, strconv.Itoa(status)).Observe(took.Seconds())
}

var (
	chatDescs = map[string]*prometheus.Desc{}
	chatNames = []struct{ name, help string }{
		{"backchannel_chat_messages_total", "Chat messages created (accepted and given a seq)."},
		{"backchannel_chat_events_total", "Chat events fanned out (each counted once)."},
		{"backchannel_chat_deliveries_total", "Chat packets queued for recipients."},
		{"backchannel_chat_dropped_total", "Chat packets dropped because a recipient's queue was full."},
		{"backchannel_chat_errors_total", "Chat error packets sent."},
		{"backchannel_chat_violations_total", "Chat protocol violations among the errors."},
		{"backchannel_chat_rate_limited_total", "Chat packets refused by a rate limit."},
		{"backchannel_chat_store_errors_total", "Chat store writes or reads that failed."},
		{"backchannel_chat_resyncs_total", "Resync packets sent to recipients that missed messages."},
	}
	descPackets = prometheus.NewDesc("backchannel_chat_packets_total",
		"Chat packets received, by type and outcome (ok, or the error code answered; type invalid: refused while parsing).",
		[]string{"type", "outcome"}, nil)
	descWithdrawn    = prometheus.NewDesc("backchannel_chat_withdrawn_total", "Messages shown live that the store refused for good, withdrawn from everyone who saw them.", nil, nil)
	descChatRooms    = prometheus.NewDesc("backchannel_chat_rooms", "Chat rooms in memory.", nil, nil)
	descChatSessions = prometheus.NewDesc("backchannel_chat_sessions", "Attached chat connections.", nil, nil)
	descQueue        = prometheus.NewDesc("backchannel_recorder_queue_depth", "Changes waiting for the database writer.", nil, nil)
	descBatches      = prometheus.NewDesc("backchannel_recorder_batches_total", "Transactions the writer committed.", nil, nil)
	descStored       = prometheus.NewDesc("backchannel_recorder_changes_stored_total", "Changes made durable (messages, edits, reactions, joins…).", nil, nil)
	descFailed       = prometheus.NewDesc("backchannel_recorder_changes_failed_total", "Changes that finished with an error.", nil, nil)
	descRetries      = prometheus.NewDesc("backchannel_recorder_retries_total", "Failed writer attempts that were retried.", nil, nil)
	descFull         = prometheus.NewDesc("backchannel_recorder_queue_full_total", "Writes refused at once because the writer's queue was full.", nil, nil)
	descCommitSecs   = prometheus.NewDesc("backchannel_recorder_commit_seconds_total", "Time spent committing batches (divide by batches for the mean).", nil, nil)
	descCommitMax    = prometheus.NewDesc("backchannel_recorder_commit_seconds_max", "Longest commit since start.", nil, nil)
)

func init() {
	for _, n := range chatNames {
		chatDescs[n.name] = prometheus.NewDesc(n.name, n.help, nil, nil)
	}
}

// statsCollector reads the chat server's and the writer's counters when
// scraped: they already keep them, so the hot paths pay nothing more.
type statsCollector struct{ a *App }

func (s statsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range chatDescs {
		ch <- d
	}
	for _, d := range []*prometheus.Desc{descPackets, descWithdrawn, descChatRooms, descChatSessions, descQueue, descBatches, descStored,
		descFailed, descRetries, descFull, descCommitSecs, descCommitMax} {
		ch <- d
	}
}

func (s statsCollector) Collect(ch chan<- prometheus.Metric) {
	counter := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v)
	}
	gauge := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v)
	}
	if c := s.a.Chat; c != nil {
		st := c.Stats()
		for name, v := range chatValues(st) {
			counter(chatDescs[name], float64(v))
		}
		counter(descWithdrawn, float64(st.Withdrawn))
		for _, p := range st.Packets {
			ch <- prometheus.MustNewConstMetric(descPackets, prometheus.CounterValue, float64(p.N), p.Type, p.Outcome)
		}
		gauge(descChatRooms, float64(st.Rooms))
		gauge(descChatSessions, float64(st.Sessions))
	}
	if r := s.a.Recorder; r != nil {
		w := r.WriterStats()
		gauge(descQueue, float64(w.Queued))
		counter(descBatches, float64(w.Batches))
		counter(descStored, float64(w.Changes))
		counter(descFailed, float64(w.Failed))
		counter(descRetries, float64(w.Retries))
		counter(descFull, float64(w.BlockedWrites))
		counter(descCommitSecs, w.TotalBatch.Seconds())
		gauge(descCommitMax, w.MaxBatch.Seconds())
	}
}

func chatValues(st chat.Stats) map[string]int64 {
	return map[string]int64{
		"backchannel_chat_messages_total":     st.Messages,
		"backchannel_chat_events_total":       st.Events,
		"backchannel_chat_deliveries_total":   st.Deliveries,
		"backchannel_chat_dropped_total":      st.Dropped,
		"backchannel_chat_errors_total":       st.Errors,
		"backchannel_chat_violations_total":   st.Violations,
		"backchannel_chat_rate_limited_total": st.RateLimited,
		"backchannel_chat_store_errors_total": st.StoreErrors,
		"backchannel_chat_resyncs_total":      st.Resyncs,
	}
}

// newHistograms makes the histograms the server feeds as it runs; before
// the recorder opens, since its writer feeds two of them.
func (a *App) newHistograms() {
	a.commitSeconds = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "backchannel_recorder_commit_duration_seconds",
		Help:    "Duration of the database writer's commits (one transaction per batch).",
		Buckets: prometheus.ExponentialBuckets(0.0002, 3, 10),
	})
	a.batchSize = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "backchannel_recorder_batch_changes",
		Help:    "Changes per committed batch.",
		Buckets: prometheus.ExponentialBuckets(1, 4, 6),
	})
	a.httpSeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "backchannel_http_request_duration_seconds",
		Help:    "HTTP requests by route template and status code (WebSocket upgrades excluded).",
		Buckets: prometheus.ExponentialBuckets(0.0005, 4, 9),
	}, []string{"route", "code"})
}

// observeCommit feeds the writer's histograms (recorder.Config.OnCommit).
func (a *App) observeCommit(changes int, took time.Duration) {
	a.commitSeconds.Observe(took.Seconds())
	a.batchSize.Observe(float64(changes))
}
