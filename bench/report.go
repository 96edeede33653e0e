package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
)

// WriteJSON writes res as one JSON object on one line.
func (res *Result) WriteJSON(w io.Writer) error {
	b, err := json.Marshal(res)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

// WriteTable writes res for people.
func (res *Result) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	mode := fmt.Sprintf("%.4g msg/s per sender", res.Rate)
	if res.Burst {
		mode = "burst"
	}
	if res.Private {
		mode += ", private"
	}
	row := func(k, format string, a ...any) { fmt.Fprintf(tw, "%s\t"+format+"\n", append([]any{k}, a...)...) }
	row("scenario", "n=%d, %d senders, %s, %d B, %.1f s measured", res.Participants, res.Senders, mode, res.SizeBytes, res.MeasuredS)
	row("join_ms", "p50 %.1f  p95 %.1f  max %.1f", res.JoinMS.P50, res.JoinMS.P95, res.JoinMS.Max)
	row("sent", "%d", res.Sent)
	row("expected", "%d", res.Expected)
	row("received", "%d  (+%d recovered from history)", res.Received, res.Recovered)
	row("lost", "%d", res.Lost)
	row("duplicates", "%d", res.Duplicates)
	row("leaked", "%d", res.Leaked)
	row("latency_ms", "p50 %.2f  p95 %.2f  p99 %.2f  max %.2f", res.LatencyMS.P50, res.LatencyMS.P95, res.LatencyMS.P99, res.LatencyMS.Max)
	row("delivered_per_sec", "%.0f", res.DeliveredPerSec)
	if res.ServerPID > 0 {
		row("server_cpu_seconds", "%.2f", res.ServerCPUSeconds)
		row("server_cpu_us_per_delivery", "%.1f", res.ServerCPUUsPerDelivery)
		row("server_peak_rss_bytes", "%d (%.1f MiB)", res.ServerPeakRSSBytes, float64(res.ServerPeakRSSBytes)/(1<<20))
		if sw := res.ServerSwitchesPerDelivery; sw != nil {
			row("server_switches_per_delivery", "%.2f voluntary, %.2f involuntary (all its threads)", sw.Voluntary, sw.Involuntary)
		}
	} else {
		row("server", "no --pid: CPU and memory not measured")
	}
	if s := res.Slow; s != nil {
		row("slow receivers", "%d: expected %d, received %d in real time, %d from history, lost %d, duplicates %d, resyncs %d",
			s.Receivers, s.Expected, s.Received, s.Recovered, s.Lost, s.Duplicates, s.Resyncs)
		row("slow latency_ms", "p50 %.0f  p99 %.0f  max %.0f (real-time receipts only)", s.LatencyMS.P50, s.LatencyMS.P99, s.LatencyMS.Max)
	}
	row("resyncs", "%d (server dropped %s for full queues)", res.Resyncs, dropped(res.ServerDropped))
	row("client_cpu_seconds", "%.2f (this process, measured phase + drain)", res.ClientCPUSecs)
	row("udp errors", "rcvbuf %d, sndbuf %d, in %d (machine-wide; net.core.rmem_max %d, wmem_max %d)",
		res.UDPErrors.RcvbufErrors, res.UDPErrors.SndbufErrors, res.UDPErrors.InErrors, res.RmemMax, res.WmemMax)
	var notes []string
	if res.SendErrors > 0 {
		notes = append(notes, fmt.Sprintf("%d send errors", res.SendErrors))
	}
	if res.AcksMissing > 0 {
		notes = append(notes, fmt.Sprintf("%d acks missing", res.AcksMissing))
	}
	if res.EchoesMissing > 0 {
		notes = append(notes, fmt.Sprintf("%d senders' echoes missing", res.EchoesMissing))
	}
	if res.Disconnected > 0 {
		notes = append(notes, fmt.Sprintf("%d participants disconnected", res.Disconnected))
	}
	if len(res.ChatErrors) > 0 {
		codes := make([]string, 0, len(res.ChatErrors))
		for k, v := range res.ChatErrors {
			codes = append(codes, fmt.Sprintf("%s×%d", k, v))
		}
		sort.Strings(codes)
		notes = append(notes, "chat errors: "+strings.Join(codes, ", "))
	}
	if len(notes) > 0 {
		row("problems", "%s", strings.Join(notes, "; "))
	}
	row("loadavg", "%s", res.LoadAvg)
	return tw.Flush()
}

func dropped(v float64) string {
	if v < 0 {
		return "?"
	}
	return fmt.Sprintf("%.0f", v)
}
