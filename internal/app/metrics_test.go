package app_test

import (
	"bufio"
	"net/http"
	"strings"
	"testing"

	"github.com/backchannel-rtc/backchannel/client"
)

// The server registers the SFU's metrics when it starts (nothing does at
// package init) and serves them at /metrics.
func TestMetricsServedByTheServer(t *testing.T) {
	a := startServer(t, newRelay(), nil)
	join(t, a, "metrics", "alice", client.Options{})
	resp, err := http.Get(a.URL() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	seen := map[string]bool{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if name, _, ok := strings.Cut(sc.Text(), " "); ok && strings.HasPrefix(name, "backchannel_") {
			seen[name] = true
		}
	}
	for _, want := range []string{"backchannel_rooms", "backchannel_participants", "backchannel_data_messages_in_total"} {
		if !seen[want] {
			t.Errorf("/metrics has no %s (has %v)", want, seen)
		}
	}
}
