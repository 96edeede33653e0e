package app_test

import (
	"runtime/metrics"
	"sync/atomic"
	"testing"
	"time"

	"github.com/backchannel-rtc/backchannel/client"
)

func goroutinesCreated() uint64 {
	s := []metrics.Sample{{Name: "/sched/goroutines-created:goroutines"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// TestNoGoroutinePerDatagram is a tripwire on upstream Pion's behaviour
// (docs/pion-upstream.md). Since pion/transport v5.1.5 netctx no longer
// starts a watcher goroutine per datagram (pion/transport#395), but
// pion/dtls's Conn.Write still starts one for every record written
// (contextWithClose): with the data and the SCTP acknowledgements going
// both ways, about 6 goroutines per chat message here (9 before v5.1.5).
// Messages are sent 2 ms apart, so each is its own datagram; everything
// (sender, server, receiver) runs in this process. When a Pion upgrade
// changes it, this test fails so that the change is noticed and the docs
// are updated.
func TestNoGoroutinePerDatagram(t *testing.T) {
	a := startServer(t, newRelay(), nil)
	var got atomic.Int64
	join(t, a, "gor", "receiver", client.Options{OnChat: func([]byte) { got.Add(1) }})
	sender := join(t, a, "gor", "sender", client.Options{})
	msg := make([]byte, 200)
	send := func(n int) {
		for range n {
			if err := sender.SendChat(msg); err != nil {
				t.Fatal(err)
			}
			time.Sleep(2 * time.Millisecond)
		}
	}
	send(50) // warm up: every lazy structure exists
	eventually(t, 10*time.Second, "warm-up delivered", func() bool { return got.Load() == 50 })

	const n = 1000
	before := goroutinesCreated()
	send(n)
	eventually(t, 10*time.Second, "all delivered", func() bool { return got.Load() == 50+n })
	perMsg := float64(goroutinesCreated()-before) / n
	t.Logf("%.2f goroutines created per message (sender, server and receiver together)", perMsg)
	switch {
	case perMsg < 4.5:
		t.Fatalf("%.2f goroutines created per message, upstream Pion started ~6: "+
			"pion/dtls Conn.Write's watcher goroutine per record (contextWithClose) looks gone upstream; "+
			"update docs/pion-upstream.md and this tripwire's bounds", perMsg)
	case perMsg > 8:
		t.Fatalf("%.2f goroutines created per message, more than upstream's ~6: "+
			"something starts a goroutine per datagram again (pion/transport#395 came back, or new code)", perMsg)
	}
}
