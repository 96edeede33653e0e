// SPDX-FileCopyrightText: 2026 The Pion community <https://pion.ly>
// SPDX-License-Identifier: MIT

package sctp

// Backchannel's test of its patch (direct.go); run by `make test`.

import (
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/logging"
)

// handingConn is a UDP socket that, like the patched pion/dtls, hands what
// it reads to a data handler when one is set, and otherwise to Read.
type handingConn struct {
	*net.UDPConn
	peer *net.UDPAddr

	mu      sync.Mutex
	handler func([]byte) error
	queue   chan any // for Read: []byte or error

	viaHandler, viaRead atomic.Int64
}

func newHandingConn(c *net.UDPConn, peer *net.UDPAddr) *handingConn {
	h := &handingConn{UDPConn: c, peer: peer, queue: make(chan any, 1)}
	go h.readLoop()

	return h
}

func (h *handingConn) SetDataHandler(fn func([]byte) error) {
	h.mu.Lock()
	h.handler = fn
	h.mu.Unlock()
}

func (h *handingConn) hasHandler() bool {
	h.mu.Lock()
	defer h.mu.Unlock()

	return h.handler != nil
}

func (h *handingConn) readLoop() {
	defer close(h.queue)
	buf := make([]byte, 1500)
	for {
		n, _, err := h.ReadFromUDP(buf)
		if err != nil {
			return
		}
		b := append([]byte(nil), buf[:n]...)
		h.mu.Lock()
		fn := h.handler
		h.mu.Unlock()
		var out any = b
		if fn != nil {
			h.viaHandler.Add(1)
			if err := fn(b); err == nil {
				continue
			} else { //nolint:revive
				out = err
			}
		} else {
			h.viaRead.Add(1)
		}
		h.queue <- out
	}
}

func (h *handingConn) Read(b []byte) (int, error) {
	out, ok := <-h.queue
	if !ok {
		return 0, io.EOF
	}
	if err, isErr := out.(error); isErr {
		return 0, err
	}
	p, _ := out.([]byte)

	return copy(b, p), nil
}

func (h *handingConn) Write(b []byte) (int, error) { return h.WriteToUDP(b, h.peer) }

func (h *handingConn) RemoteAddr() net.Addr { return h.peer }

// Over a connection that hands over what it reads, every inbound packet
// (DATA, SACK) is handled through the handler and none through Read; messages flow both ways; closing takes the handler back.
func TestInboundHandedOver(t *testing.T) {
	listen := func() *net.UDPConn {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })

		return c
	}
	ua, ub := listen(), listen()
	ca := newHandingConn(ua, ub.LocalAddr().(*net.UDPAddr)) //nolint:forcetypeassert
	cb := newHandingConn(ub, ua.LocalAddr().(*net.UDPAddr)) //nolint:forcetypeassert
	lf := logging.NewDefaultLoggerFactory()
	srv := make(chan *Association, 1)
	go func() {
		a, err := Server(Config{NetConn: cb, LoggerFactory: lf})
		if err != nil {
			t.Error(err)
		}
		srv <- a
	}()
	client, err := Client(Config{NetConn: ca, LoggerFactory: lf})
	if err != nil {
		t.Fatal(err)
	}
	server := <-srv
	if server == nil {
		t.FailNow()
	}
	// A packet that arrived before an association's readLoop started went
	// to Read; from here on none may.
	readA, readB := ca.viaRead.Load(), cb.viaRead.Load()

	out, err := client.OpenStream(1, PayloadTypeWebRTCBinary)
	if err != nil {
		t.Fatal(err)
	}
	if _, err = out.WriteSCTP([]byte("open"), PayloadTypeWebRTCBinary); err != nil {
		t.Fatal(err)
	}
	in, err := server.AcceptStream()
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1500)
	const n = 100
	for i := range n + 1 {
		if i > 0 {
			if _, err = out.WriteSCTP([]byte{byte(i)}, PayloadTypeWebRTCBinary); err != nil {
				t.Fatal(err)
			}
		}
		if err = in.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
			t.Fatal(err)
		}
		m, _, err := in.ReadSCTP(buf)
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if i > 0 && (m != 1 || buf[0] != byte(i)) {
			t.Fatalf("message %d arrived as %v", i, buf[:m])
		}
		// and one back, so that the client receives DATA too
		if _, err = in.WriteSCTP([]byte{byte(i)}, PayloadTypeWebRTCBinary); err != nil {
			t.Fatal(err)
		}
		if err = out.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
			t.Fatal(err)
		}
		if _, _, err = out.ReadSCTP(buf); err != nil {
			t.Fatalf("reply %d: %v", i, err)
		}
	}

	for c, name := range map[*handingConn]string{ca: "client", cb: "server"} {
		before := readA
		if c == cb {
			before = readB
		}
		if read := c.viaRead.Load() - before; read != 0 || c.viaHandler.Load() < n {
			t.Errorf("%s: %d packets handed over, %d read; want all handed over",
				name, c.viaHandler.Load(), read)
		}
	}

	if err = client.Close(); err != nil {
		t.Fatal(err)
	}
	_ = ua.Close() // ends the client's Read: its readLoop exits
	deadline := time.Now().Add(5 * time.Second)
	for ca.hasHandler() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if ca.hasHandler() {
		t.Error("the closed association left its handler on the connection")
	}
	_ = server.Close()
}
