package app_test

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/pion/webrtc/v4"

	"github.com/backchannel-rtc/backchannel/client"
	"github.com/backchannel-rtc/backchannel/protocol"
)

var churnCycles = flag.Int("churn.cycles", 200, "connect-and-drop cycles in TestConnectAndDropLeavesNothingBehind (SECURITY.md: 1000)")

// openFDs counts open file descriptors, leaving out the SQLite database's
// own files: its connection pool may open one more connection under
// concurrent reads and keep it idle, bounded by SetMaxOpenConns, and that
// is not what connect-and-drop could leak.
func openFDs(t *testing.T) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd")
	}
	n := 0
	for _, e := range ents {
		l, _ := os.Readlink("/proc/self/fd/" + e.Name())
		if !strings.Contains(l, "backchannel.db") {
			n++
		}
	}
	return n
}

func fdList() []string {
	ents, _ := os.ReadDir("/proc/self/fd")
	var out []string
	for _, e := range ents {
		l, _ := os.Readlink("/proc/self/fd/" + e.Name())
		out = append(out, e.Name()+"→"+l)
	}
	return out
}

// TestConnectAndDropLeavesNothingBehind: clients join and leave, half of
// them abandoning the connection mid-handshake in different ways; once they
// are gone the server's goroutines and file descriptors are back to where
// they started.
func TestConnectAndDropLeavesNothingBehind(t *testing.T) {
	a := startServer(t, nil, nil)
	tok, _ := a.Token("churn", "u", "", false)
	wsURL := "ws://" + a.Addr().String() + "/v1/rtc?access_token=" + tok

	// Warm up (lazily started runtime and Pion goroutines), then measure.
	join(t, a, "churn", "warm", client.Options{}).Close()
	time.Sleep(300 * time.Millisecond)
	runtime.GC()
	baseG, baseFD := runtime.NumGoroutine(), openFDs(t)
	baseList := fdList()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	n := *churnCycles
	for i := range n {
		switch i % 4 {
		case 0: // a full join with an open chat channel, then leave
			tk, _ := a.Token("churn", fmt.Sprintf("full-%d", i), "", false)
			c, err := client.Join(ctx, a.URL(), tk, client.Options{LoopbackOnly: true})
			if err != nil {
				t.Fatal(err)
			}
			_ = c.SendChat([]byte(`{"type":"chat","clientId":"x","text":"hi"}`))
			c.Close()
		case 1: // socket, join, offer; dropped before ICE completes
			ws, _, err := websocket.DefaultDialer.Dial(wsURL, nil)
			if err != nil {
				t.Fatal(err)
			}
			_ = ws.WriteJSON(protocol.Signal{Type: protocol.SignalJoin})
			var m protocol.Signal
			_ = ws.ReadJSON(&m)
			pc, _ := webrtc.NewPeerConnection(webrtc.Configuration{})
			_, _ = pc.CreateDataChannel("chat", nil)
			offer, _ := pc.CreateOffer(nil)
			_ = ws.WriteJSON(protocol.Signal{Type: protocol.SignalOffer, Target: "publisher", SDP: offer.SDP})
			_ = pc.Close()
			ws.Close()
		case 2: // socket upgraded, never joins
			ws, _, err := websocket.DefaultDialer.Dial(wsURL, nil)
			if err != nil {
				t.Fatal(err)
			}
			ws.Close()
		case 3: // a TCP connection that stops halfway through the HTTP request
			conn, err := net.Dial("tcp", a.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			_, _ = conn.Write([]byte("GET /v1/rtc?access_token=" + tok + " HTTP/1.1\r\nHost: x\r\nUpgrade: websock"))
			conn.Close()
		}
	}
	eventually(t, 30*time.Second, "no participant left", func() bool {
		_, ps := a.SFU.Counts()
		return ps == 0
	})
	var g, fd int
	deadline := time.Now().Add(30 * time.Second)
	for {
		runtime.GC()
		g, fd = runtime.NumGoroutine(), openFDs(t)
		if g <= baseG && fd <= baseFD {
			break
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("after %d cycles: %d goroutines (baseline %d), %d fds (baseline %d: %v)\nfds now: %v\n%s",
				n, g, baseG, fd, baseFD, baseList, fdList(), buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("%d connect-and-drop cycles: goroutines %d → %d, fds %d → %d", n, baseG, g, baseFD, fd)
}
