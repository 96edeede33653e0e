package bench

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
)

// Summarize reads results as JSON lines (`bench --json --label …`), groups
// them by label in order of first appearance and writes a Markdown table
// with min / median / max of each figure over the runs of a label.
func Summarize(in io.Reader, out io.Writer) error {
	var order []string
	groups := map[string][]*Result{}
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if !strings.HasPrefix(line, "{") {
			continue
		}
		var r Result
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			return fmt.Errorf("summarize: %w", err)
		}
		if _, ok := groups[r.Label]; !ok {
			order = append(order, r.Label)
		}
		groups[r.Label] = append(groups[r.Label], &r)
	}
	if err := sc.Err(); err != nil {
		return err
	}
	fmt.Fprintln(out, "| run | n | join p50 ms | latency p50 ms | latency p99 ms | delivered/s | server CPU µs/delivery | server sleeps/delivery | server peak RSS MiB | lost / dup / leaked (sum) | notes |")
	fmt.Fprintln(out, "|---|---|---|---|---|---|---|---|---|---|---|")
	for _, label := range order {
		rs := groups[label]
		f := func(get func(*Result) float64, format string) string {
			v := make([]float64, len(rs))
			for i, r := range rs {
				v[i] = get(r)
			}
			slices.Sort(v)
			med := v[len(v)/2]
			if len(v)%2 == 0 {
				med = (v[len(v)/2-1] + v[len(v)/2]) / 2
			}
			return fmt.Sprintf(format+" / "+format+" / "+format, v[0], med, v[len(v)-1])
		}
		var lost, dup, leak, recovered, resyncs, disc int64
		var udp int64
		var slowLost, slowRecovered int64
		slowRuns := 0
		load := make([]string, 0, len(rs))
		for _, r := range rs {
			lost += r.Lost
			dup += r.Duplicates
			leak += r.Leaked
			recovered += r.Recovered
			resyncs += r.Resyncs
			disc += int64(r.Disconnected)
			udp += r.UDPErrors.RcvbufErrors + r.UDPErrors.InErrors
			if r.Slow != nil {
				slowRuns++
				slowLost += r.Slow.Lost
				slowRecovered += r.Slow.Recovered
			}
			load = append(load, strings.Fields(r.LoadAvg + " ?")[0])
		}
		var notes []string
		if recovered > 0 || resyncs > 0 {
			notes = append(notes, fmt.Sprintf("%d resyncs, %d recovered from history", resyncs, recovered))
		}
		if slowRuns > 0 {
			notes = append(notes, fmt.Sprintf("slow receiver: lost %d, %d from history", slowLost, slowRecovered))
		}
		if disc > 0 {
			notes = append(notes, fmt.Sprintf("%d disconnected", disc))
		}
		if udp > 0 {
			notes = append(notes, fmt.Sprintf("%d UDP errors", udp))
		}
		notes = append(notes, "load "+strings.Join(load, ", "))
		fmt.Fprintf(out, "| %s (%d runs) | %d | %s | %s | %s | %s | %s | %s | %s | %d / %d / %d | %s |\n",
			label, len(rs), rs[0].Participants,
			f(func(r *Result) float64 { return r.JoinMS.P50 }, "%.0f"),
			f(func(r *Result) float64 { return r.LatencyMS.P50 }, "%.2f"),
			f(func(r *Result) float64 { return r.LatencyMS.P99 }, "%.2f"),
			f(func(r *Result) float64 { return r.DeliveredPerSec }, "%.0f"),
			f(func(r *Result) float64 { return r.ServerCPUUsPerDelivery }, "%.1f"),
			f(func(r *Result) float64 { return r.ServerSwitchesPerDelivery.voluntary() }, "%.2f"),
			f(func(r *Result) float64 { return float64(r.ServerPeakRSSBytes) / (1 << 20) }, "%.0f"),
			lost, dup, leak, strings.Join(notes, "; "))
	}
	return nil
}
