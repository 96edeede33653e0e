package bench

// JoinMS are join times in milliseconds (connect to an open chat channel).
type JoinMS struct {
	P50 float64 `json:"p50"`
	P95 float64 `json:"p95"`
	Max float64 `json:"max"`
}

// LatencyMS are send-to-receipt times in milliseconds.
type LatencyMS struct {
	P50 float64 `json:"p50"`
	P95 float64 `json:"p95"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

// Group is the delivery account of a set of receivers.
type Group struct {
	Receivers  int       `json:"receivers"`
	Expected   int64     `json:"expected"`
	Received   int64     `json:"received"`               // in real time, as message events
	Recovered  int64     `json:"recovered_from_history"` // only through history
	Lost       int64     `json:"lost"`                   // expected − received − recovered
	Duplicates int64     `json:"duplicates"`
	Resyncs    int64     `json:"resyncs"`
	LatencyMS  LatencyMS `json:"latency_ms"`
}

// Switches are context switches, voluntary and involuntary.
type Switches struct {
	Voluntary   float64 `json:"voluntary"`
	Involuntary float64 `json:"involuntary"`
}

// voluntary is s.Voluntary, 0 for a run that did not measure it.
func (s *Switches) voluntary() float64 {
	if s == nil {
		return 0
	}
	return s.Voluntary
}

// Result is one run's report. The first fields carry the names issue 7
// fixes; the rest say under which conditions it was measured.
type Result struct {
	Label                  string    `json:"label,omitempty"` // free text naming the run (scenario, database)
	Participants           int       `json:"participants"`
	JoinMS                 JoinMS    `json:"join_ms"`
	Sent                   int64     `json:"sent"`
	Expected               int64     `json:"expected"`
	Received               int64     `json:"received"`
	Lost                   int64     `json:"lost"`
	Duplicates             int64     `json:"duplicates"`
	Leaked                 int64     `json:"leaked"`
	LatencyMS              LatencyMS `json:"latency_ms"`
	DeliveredPerSec        float64   `json:"delivered_per_sec"`
	ServerCPUSeconds       float64   `json:"server_cpu_seconds"`
	ServerCPUUsPerDelivery float64   `json:"server_cpu_us_per_delivery"`
	ServerPeakRSSBytes     int64     `json:"server_peak_rss_bytes"`
	// The server's threads' context switches over the measured phase and
	// the drain, per real-time delivery: on a VM each is costly.
	ServerSwitchesPerDelivery *Switches `json:"server_switches_per_delivery,omitempty"`

	Recovered int64  `json:"recovered_from_history"`
	Resyncs   int64  `json:"resyncs"`
	Slow      *Group `json:"slow,omitempty"`

	Senders       int              `json:"senders"`
	Rate          float64          `json:"rate_per_sender"` // 0 with burst
	Burst         bool             `json:"burst"`
	Private       bool             `json:"private"`
	SizeBytes     int              `json:"size_bytes"`
	MeasuredS     float64          `json:"measured_s"`
	WarmupS       float64          `json:"warmup_s"`
	DrainS        float64          `json:"drain_s"`
	SendErrors    int64            `json:"send_errors"`
	Echoes        int64            `json:"echoes"`         // senders' own copies (not deliveries)
	EchoesMissing int64            `json:"echoes_missing"` // measured messages whose sender never saw its copy
	AcksMissing   int64            `json:"acks_missing"`
	ChatErrors    map[string]int64 `json:"chat_errors,omitempty"` // error packets by code
	Disconnected  int              `json:"disconnected"`
	ServerPID     int              `json:"server_pid"`
	ServerDropped float64          `json:"server_dropped"` // backchannel_data_messages_dropped_total over the run (-1: unknown)
	ClientCPUSecs float64          `json:"client_cpu_seconds"`
	UDPErrors     UDPCounters      `json:"udp_errors"` // machine-wide deltas over the run
	RmemMax       int64            `json:"net_core_rmem_max"`
	WmemMax       int64            `json:"net_core_wmem_max"`
	LoadAvg       string           `json:"loadavg"` // at the end of the run
}
