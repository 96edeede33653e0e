package app_test

import (
	"bytes"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/backchannel-rtc/backchannel/protocol"
)

// TestSignalingCloseLosesNothing: what the server sent before it closed a
// socket reaches the client, even when the client had sent more than the
// server read. The client writes 50 pings, a leave and 2,000 more pings in
// one go (the server answers the first 50, then stops reading at the
// leave), and reads only afterwards. A server that closed its end with
// those last pings unread would reset the connection, and the client's
// kernel would throw away the pongs it had not read yet.
func TestSignalingCloseLosesNothing(t *testing.T) {
	a := startServer(t, nil, nil)
	ws := joinSocket(t, a, "linger", "alice")

	// One write of all the frames, so that the server has them all at
	// once. 50 pings stay within the socket's burst of 100; the 2,000 after
	// the leave are more than the server's read buffer holds, so most stay
	// unread in its kernel.
	const before, after = 50, 2000
	var frames bytes.Buffer
	frame := func(payload string) {
		// A masked client text frame (RFC 6455 5.2) with a zero mask key.
		frames.Write([]byte{0x81, 0x80 | byte(len(payload)), 0, 0, 0, 0})
		frames.WriteString(payload)
	}
	for i := 0; i < before; i++ {
		frame(`{"type":"ping","timestamp":` + strconv.Itoa(i+1) + `}`)
	}
	frame(`{"type":"leave"}`)
	for i := 0; i < after; i++ {
		frame(`{"type":"ping","timestamp":` + strconv.Itoa(1000+i) + `}`)
	}
	if _, err := ws.NetConn().Write(frames.Bytes()); err != nil {
		t.Fatal(err)
	}
	// Let the server answer, read up to the leave and close its end
	// before anything is read here.
	time.Sleep(300 * time.Millisecond)

	var got []int64
	for {
		var m protocol.Signal
		_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
		err := ws.ReadJSON(&m)
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			if ce.Code != websocket.CloseNormalClosure {
				t.Errorf("closed with %d; want %d", ce.Code, websocket.CloseNormalClosure)
			}
			break
		}
		if err != nil {
			t.Fatalf("after %d pongs: %v; want the %d pongs, then the close frame", len(got), err, before)
		}
		if m.Type == protocol.SignalPong {
			got = append(got, m.Timestamp)
		}
	}
	if len(got) != before {
		t.Fatalf("%d pongs (%v); want %d: the server answers every ping before the leave, and none after it", len(got), got, before)
	}
	for i, ts := range got {
		if ts != int64(i+1) {
			t.Fatalf("pong %d answers %d; want %d", i, ts, i+1)
		}
	}
}
