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
// (docs/pion-upstream.md). Pion's DTLS and transport's netctx start a
// watcher goroutine for every datagram read and two for every datagram
// written (pion/transport#395), the largest scheduler cost at chat rates.
// Messages are sent 2 ms apart, so each is its own datagram; everything
// (sender, server, receiver) runs in this process: upstream measures about
// 9 goroutines per message here. When a Pion upgrade stops doing it, this
// test fails so that the saving is noticed and the docs are updated.
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
	case perMsg < 4:
		t.Fatalf("%.2f goroutines created per message, upstream Pion used to start ~9: "+
			"pion/transport#395 (a goroutine per datagram in DTLS/netctx) looks fixed upstream; "+
			"update docs/pion-upstream.md and this tripwire's bounds", perMsg)
	case perMsg > 14:
		t.Fatalf("%.2f goroutines created per message, more than upstream's ~9: "+
			"something new starts a goroutine per datagram", perMsg)
	}
}
