package sfu

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func backchannelMetrics(t *testing.T, g prometheus.Gatherer) []string {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, mf := range mfs {
		if strings.HasPrefix(mf.GetName(), "backchannel_") {
			out = append(out, mf.GetName())
		}
	}
	return out
}

// Importing the package registers nothing; RegisterMetrics does, and may
// be called again for a second server in the same process.
func TestMetricsRegisteredOnlyByTheServer(t *testing.T) {
	if got := backchannelMetrics(t, prometheus.DefaultGatherer); len(got) != 0 {
		t.Fatalf("the default registry holds %v without RegisterMetrics", got)
	}
	reg := prometheus.NewRegistry()
	for range 2 {
		if err := RegisterMetrics(reg); err != nil {
			t.Fatal(err)
		}
	}
	got := backchannelMetrics(t, reg)
	for _, want := range []string{"backchannel_rooms", "backchannel_participants", "backchannel_data_messages_dropped_total"} {
		if !strings.Contains(strings.Join(got, " "), want) {
			t.Errorf("registry has %v, missing %s", got, want)
		}
	}
	clash := prometheus.NewRegistry()
	clash.MustRegister(prometheus.NewGauge(prometheus.GaugeOpts{Name: "backchannel_rooms", Help: "another"}))
	if err := RegisterMetrics(clash); err == nil {
		t.Error("RegisterMetrics accepted a registry where another collector has its name")
	}
}
