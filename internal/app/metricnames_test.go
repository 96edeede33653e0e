package app_test

import (
	"encoding/json"
	"net/http"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/backchannel-rtc/backchannel/client"
	"github.com/backchannel-rtc/backchannel/internal/app"
	"github.com/backchannel-rtc/backchannel/recorder/webhook"
)

// scrape parses a's /metrics with Prometheus' own text parser.
func scrape(t *testing.T, a *app.App) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(a.URL() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("/metrics does not parse: %v", err)
	}
	return fams
}

// TestMetricFamilies: after a meeting (chat, an API call, a refused
// socket, a webhook delivered), /metrics parses with Prometheus' parser
// and has the operator's families, named as Prometheus advises (base
// units, the unit before _total, counters ending in _total), and every
// metric the shipped Grafana dashboard queries exists.
func TestMetricFamilies(t *testing.T) {
	rcv := newHookReceiver(t)
	a := startServer(t, nil, func(c *app.Config) {
		c.Webhooks = webhook.Config{Endpoints: []webhook.Endpoint{rcv.endpoint("ops", webhook.EventTypes...)},
			PollInterval: 50 * time.Millisecond}
		c.Build = app.Build{Version: "v9.9.9-test", Commit: "abc123"}
	})
	alice := join(t, a, "ops", "alice", client.Options{})
	join(t, a, "ops", "bob", client.Options{})
	if err := alice.SendChat([]byte(`{"type":"chat","clientId":"m1","text":"hello"}`)); err != nil {
		t.Fatal(err)
	}
	if err := alice.SendChat([]byte(`{"type":"chat","oops":1}`)); err != nil { // refused: bad_packet
		t.Fatal(err)
	}
	resp, err := http.Get(a.URL() + "/v1/rtc?access_token=not-a-token") // refused before the upgrade
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	resp, err = http.Get(a.URL() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	eventually(t, 15*time.Second, "a webhook delivered", func() bool { return len(rcv.at("ops")) > 0 })

	var fams map[string]*dto.MetricFamily
	want := []string{
		"backchannel_build_info", "backchannel_participants", "backchannel_rooms",
		"backchannel_data_in_bytes_total", "backchannel_data_out_bytes_total",
		"backchannel_chat_messages_total", "backchannel_chat_errors_total", "backchannel_chat_sessions",
		"backchannel_chat_packets_total", "backchannel_recorder_commit_duration_seconds", "backchannel_recorder_batch_changes",
		"backchannel_recorder_queue_depth", "backchannel_recorder_changes_stored_total",
		"backchannel_recorder_batches_total", "backchannel_recorder_commit_seconds_total",
		"backchannel_http_request_duration_seconds", "backchannel_sockets_refused_total",
		"backchannel_webhook_attempt_duration_seconds", "backchannel_webhook_queue_depth",
		"backchannel_webhook_deliveries_total", "go_goroutines", "process_resident_memory_bytes",
	}
	eventually(t, 10*time.Second, "every family exposed", func() bool {
		fams = scrape(t, a)
		for _, n := range want {
			if fams[n] == nil {
				return false
			}
		}
		return true
	})

	name := regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	for n, f := range fams {
		if !strings.HasPrefix(n, "backchannel_") {
			continue
		}
		if !name.MatchString(n) {
			t.Errorf("%s: not snake_case", n)
		}
		if f.GetType() == dto.MetricType_COUNTER && !strings.HasSuffix(n, "_total") {
			t.Errorf("%s: a counter not ending in _total", n)
		}
		if f.GetType() != dto.MetricType_COUNTER && strings.HasSuffix(n, "_total") {
			t.Errorf("%s: ends in _total but is a %s", n, f.GetType())
		}
		for _, bad := range []string{"_bytes_in_", "_bytes_out_", "_ms_", "_milliseconds_"} {
			if strings.Contains(n+"_", bad) || strings.Contains(n, "_total_") {
				t.Errorf("%s: the unit goes before _total, in base units (seconds, bytes)", n)
			}
		}
	}
	info := fams["backchannel_build_info"].GetMetric()[0]
	labels := map[string]string{}
	for _, l := range info.GetLabel() {
		labels[l.GetName()] = l.GetValue()
	}
	if labels["version"] != "v9.9.9-test" || labels["commit"] != "abc123" || !strings.HasPrefix(labels["goversion"], "go") {
		t.Errorf("build_info labels %v", labels)
	}
	var refused float64
	for _, m := range fams["backchannel_sockets_refused_total"].GetMetric() {
		refused += m.GetCounter().GetValue()
	}
	if refused < 1 {
		t.Errorf("the refused socket was not counted")
	}
	packets := map[string]float64{}
	for _, m := range fams["backchannel_chat_packets_total"].GetMetric() {
		l := map[string]string{}
		for _, lp := range m.GetLabel() {
			l[lp.GetName()] = lp.GetValue()
		}
		packets[l["type"]+"/"+l["outcome"]] = m.GetCounter().GetValue()
	}
	if packets["chat/ok"] < 1 || packets["invalid/bad_packet"] < 1 {
		t.Errorf("chat packets by type/outcome: %v; want chat/ok and invalid/bad_packet", packets)
	}
	routes := map[string]bool{}
	for _, m := range fams["backchannel_http_request_duration_seconds"].GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == "route" {
				routes[l.GetValue()] = true
			}
		}
	}
	if !routes["/healthz"] {
		t.Errorf("no /healthz in the HTTP histogram's routes %v", routes)
	}

	// The dashboard queries only what exists.
	raw, err := os.ReadFile("../../deploy/grafana/backchannel.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("dashboard: %v", err)
	}
	metric := regexp.MustCompile(`\b(backchannel|go|process)_[a-z0-9_]+`)
	used := map[string]bool{}
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			for _, m := range metric.FindAllString(tg.Expr, -1) {
				for _, suffix := range []string{"_bucket", "_count", "_sum"} {
					if base := strings.TrimSuffix(m, suffix); base != m && fams[base] != nil {
						m = base
					}
				}
				used[m] = true
				if fams[m] == nil {
					t.Errorf("dashboard panel %q queries %s, which /metrics does not have", p.Title, m)
				}
			}
		}
	}
	if len(used) < 15 {
		names := make([]string, 0, len(used))
		for n := range used {
			names = append(names, n)
		}
		sort.Strings(names)
		t.Errorf("the dashboard queries only %v", names)
	}
}
