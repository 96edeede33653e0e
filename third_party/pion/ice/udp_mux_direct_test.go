// SPDX-FileCopyrightText: 2026 The Pion community <https://pion.ly>
// SPDX-License-Identifier: MIT

package ice

// Backchannel's test of its patch (udp_mux_direct.go); run by `make test`.

import (
	"bytes"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/pion/stun/v4"
)

// The mux hands a validated peer's application data to the handler from its
// reader goroutine; STUN, refused packets and anything behind a queued
// packet still go through the conn's queue, in order.
func TestUDPMuxDirectDelivery(t *testing.T) {
	server, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	mux := NewUDPMuxDefault(UDPMuxParams{UDPConn: server})
	defer func() { _ = mux.Close() }()
	conn, err := mux.GetConn("ufrag", server.LocalAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close() }()

	peer, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = peer.Close() }()
	// Writing to the peer registers its address with the mux.
	if _, err = conn.WriteTo([]byte("hello"), peer.LocalAddr()); err != nil {
		t.Fatal(err)
	}

	type delivery struct {
		data []byte
		src  netip.AddrPort
	}
	handed := make(chan delivery, 16)
	accept := make(chan bool, 16)
	h := &directHandler{fn: func(buf []byte, src netip.AddrPort) bool {
		if !<-accept {
			return false
		}
		handed <- delivery{append([]byte(nil), buf...), src}

		return true
	}}
	d, ok := conn.(directInbound)
	if !ok || !d.setDirectHandler(h) {
		t.Fatal("the mux's conn takes no direct handler")
	}
	if d.setDirectHandler(&directHandler{fn: h.fn}) {
		t.Fatal("a second handler replaced the first")
	}

	send := func(b []byte) {
		t.Helper()
		if _, err := peer.WriteTo(b, server.LocalAddr()); err != nil {
			t.Fatal(err)
		}
	}
	queued := func(want []byte) {
		t.Helper()
		if err := conn.SetReadDeadline(time.Now().Add(2 * time.Second)); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 1500)
		n, _, err := conn.ReadFrom(buf)
		if err != nil {
			t.Fatalf("waiting for %q in the queue: %v", want, err)
		}
		if !bytes.Equal(buf[:n], want) {
			t.Fatalf("queue gave %q, want %q", buf[:n], want)
		}
	}
	direct := func(want []byte) {
		t.Helper()
		select {
		case got := <-handed:
			if !bytes.Equal(got.data, want) || got.src.Port() != uint16(peer.LocalAddr().(*net.UDPAddr).Port) { //nolint:forcetypeassert,gosec
				t.Fatalf("handler got %q from %v, want %q from the peer", got.data, got.src, want)
			}
		case <-time.After(2 * time.Second):
			t.Fatalf("%q never reached the handler", want)
		}
	}

	// Application data from a validated address: straight to the handler.
	dtls := []byte{22, 254, 253, 'a'}
	accept <- true
	send(dtls)
	direct(dtls)

	// STUN never takes the short way.
	msg, err := stun.Build(stun.BindingRequest, stun.TransactionID)
	if err != nil {
		t.Fatal(err)
	}
	send(msg.Raw)
	queued(msg.Raw)

	// Refused by the handler (address not validated yet): queued.
	refused := []byte{23, 254, 253, 'b'}
	accept <- false
	send(refused)
	queued(refused)

	// While a packet waits in the queue, the next one queues behind it.
	first, second := []byte{23, 254, 253, '1'}, []byte{23, 254, 253, '2'}
	accept <- false
	send(first)
	waitQueued(t, conn, 1)
	send(second)
	waitQueued(t, conn, 2) // both queued before the test reads either
	queued(first)
	queued(second)
	select {
	case got := <-handed:
		t.Fatalf("handler got %q while the queue held a packet", got.data)
	default:
	}

	// Cleared: everything is queued again.
	d.clearDirectHandler(h)
	last := []byte{23, 254, 253, 'z'}
	send(last)
	queued(last)
}

// waitQueued waits until the mux has queued n packets on conn.
func waitQueued(t *testing.T, conn net.PacketConn, n int) {
	t.Helper()
	shared, ok := conn.(*sharedAddrPortConn)
	if !ok {
		t.Fatalf("conn is %T", conn)
	}
	muxed, ok := shared.underlying.(*udpMuxedConn)
	if !ok {
		t.Fatalf("underlying conn is %T", shared.underlying)
	}
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		muxed.mu.Lock()
		queued := 0
		for p := muxed.bufTail; p != nil; p = p.next {
			queued++
		}
		muxed.mu.Unlock()
		if queued >= n {
			return
		}
	}
	t.Fatalf("%d packets were not queued", n)
}
