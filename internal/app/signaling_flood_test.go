package app_test

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/backchannel-rtc/backchannel/protocol"
)

// TestSignalingFloodIsLimited: a socket that sends pings far faster than
// its rate (20 a second, bursts of 100) is answered only within its
// bucket, told rate_limited, and closed with 1008 once it keeps going at
// more than ten times the rate; another participant's socket in the same
// room is answered at once meanwhile.
func TestSignalingFloodIsLimited(t *testing.T) {
	a := startServer(t, nil, nil)
	flooder, other := joinSocket(t, a, "flood", "mallory"), joinSocket(t, a, "flood", "alice")

	var pongs, limited atomic.Int64
	closed := make(chan error, 1)
	go func() {
		for {
			var m protocol.Signal
			_ = flooder.SetReadDeadline(time.Now().Add(20 * time.Second))
			if err := flooder.ReadJSON(&m); err != nil {
				closed <- err
				return
			}
			switch {
			case m.Type == protocol.SignalPong:
				pongs.Add(1)
			case m.Type == protocol.SignalError && m.Code == "rate_limited":
				limited.Add(1)
			}
		}
	}()
	start := time.Now()
	ping := []byte(`{"type":"ping","timestamp":1}`)
	sent := 0
	for ; sent < 5000; sent++ {
		_ = flooder.SetWriteDeadline(time.Now().Add(5 * time.Second))
		if flooder.WriteMessage(websocket.TextMessage, ping) != nil {
			break // closed by the server
		}
	}
	var err error
	select {
	case err = <-closed:
	case <-time.After(15 * time.Second):
		t.Fatalf("a socket that sent %d pings at once is still open", sent)
	}
	elapsed := time.Since(start)
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.ClosePolicyViolation {
		t.Errorf("the flooding socket ended with %v; want close code %d", err, websocket.ClosePolicyViolation)
	}
	// join took one message of the burst of 100.
	most := int64(99 + 20*elapsed.Seconds() + 1)
	t.Logf("%d pings sent in %v: %d answered, %d rate_limited errors, then closed", sent, elapsed, pongs.Load(), limited.Load())
	if pongs.Load() > most {
		t.Errorf("%d pongs in %v; the bucket allows at most %d", pongs.Load(), elapsed, most)
	}
	if limited.Load() < 1 {
		t.Error("no rate_limited error before the close")
	}

	// The other participant's socket is answered at once.
	_ = other.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if err := other.WriteJSON(protocol.Signal{Type: protocol.SignalPing, Timestamp: 42}); err != nil {
		t.Fatal(err)
	}
	asked := time.Now()
	for {
		var m protocol.Signal
		_ = other.SetReadDeadline(time.Now().Add(5 * time.Second))
		if err := other.ReadJSON(&m); err != nil {
			t.Fatalf("alice: %v", err)
		}
		if m.Type == protocol.SignalPong && m.Timestamp == 42 {
			break
		}
	}
	if d := time.Since(asked); d > time.Second {
		t.Errorf("alice's ping took %v to answer after the flood", d)
	}
}
