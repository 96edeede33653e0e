package webhook_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/backchannel-rtc/backchannel/recorder"
	"github.com/backchannel-rtc/backchannel/recorder/webhook"
)

// TestHungEndpointDelaysOnlyItself: one endpoint is a real HTTP server
// that accepts every request and never answers; another answers at once.
// Events for both are written for three seconds, more than the hung
// endpoint has workers, with the default attempt timeout (15 s). The
// healthy endpoint gets every event, its delivery p99 (from the event's
// time to its arrival) under a second: the hung endpoint holds only its
// own workers. With workers shared by every endpoint, the hung one's
// attempts took them all and the healthy one's deliveries waited for
// the timeouts.
func TestHungEndpointDelaysOnlyItself(t *testing.T) {
	backends(t, func(t *testing.T, rcfg recorder.Config) {
		const workers, events = 4, 30
		var hung atomic.Int32
		release := make(chan struct{})
		never := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			hung.Add(1)
			select { // never answers: until the sender gives up, or the test ends
			case <-req.Context().Done():
			case <-release:
			}
		}))
		t.Cleanup(never.Close)
		t.Cleanup(func() { close(release) }) // runs first: lets never.Close return
		healthy := newReceiver(t)
		dead := webhook.Endpoint{ID: "hung", URL: never.URL + "/hook/hung", Secret: newSecret(t)}
		s := open(t, rcfg, webhook.Config{
			Endpoints:    []webhook.Endpoint{dead, healthy.endpoint("healthy")},
			Workers:      workers,
			PollInterval: 200 * time.Millisecond,
		})
		room := "iso"
		for i := range events {
			s.write(t, joinC(room, fmt.Sprintf("p%02d", i)))
			time.Sleep(100 * time.Millisecond)
		}
		eventually(t, 10*time.Second, "every event at the healthy endpoint", func() bool {
			return len(at(healthy.got(), "healthy")) >= events+1 // meeting.started, then the joins
		})
		if n := hung.Load(); n < workers {
			t.Fatalf("the hung endpoint got %d requests, fewer than its %d workers: the test proves nothing", n, workers)
		}
		var lat []time.Duration
		for _, r := range at(healthy.got(), "healthy") {
			ts, err := time.Parse(time.RFC3339Nano, fmt.Sprint(r.Body["timestamp"]))
			if err != nil {
				t.Fatalf("timestamp %v: %v", r.Body["timestamp"], err)
			}
			lat = append(lat, r.At.Sub(ts))
		}
		slices.Sort(lat)
		p50, p99 := lat[len(lat)/2], lat[(len(lat)*99+99)/100-1]
		t.Logf("healthy endpoint beside a hung one: %d deliveries, p50 %v, p99 %v, max %v; the hung endpoint holds %d requests",
			len(lat), p50.Round(time.Millisecond), p99.Round(time.Millisecond), lat[len(lat)-1].Round(time.Millisecond), hung.Load())
		if p99 >= time.Second {
			t.Fatalf("healthy endpoint's delivery p99 %v beside a hung endpoint, want under 1s", p99)
		}
		healthy.checkOnce(t)
	})
}
