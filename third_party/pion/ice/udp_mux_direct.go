// SPDX-FileCopyrightText: 2026 The Pion community <https://pion.ly>
// SPDX-License-Identifier: MIT

package ice

// Backchannel patch: the UDP mux's reader hands application data (DTLS,
// SRTP) straight to the agent that owns it, instead of queueing it for the
// candidate's recvLoop goroutine to pick up and pass on. At chat rates
// every datagram was a goroutine wake-up here, one of the six hops an
// inbound datagram crosses.
//
// Only what recvLoop would have passed on at once takes the short way: a
// non-STUN packet from a remote address the candidate has already
// validated, while nothing is queued for recvLoop (so packets are not
// reordered). Everything else (STUN, a first packet from a new address,
// anything while the queue is not empty) is queued as before. The handler
// never blocks: the agent's buffer is a packetio.Buffer, which drops
// rather than waits when full, as recvLoop's write did.

import (
	"net"
	"net/netip"
	"sync/atomic"

	"github.com/pion/stun/v4"
)

// directHandler takes one inbound packet and reports whether it took it.
type directHandler struct {
	fn func(buf []byte, src netip.AddrPort) bool
}

// directInbound is implemented by the connections the UDP mux hands out.
type directInbound interface {
	setDirectHandler(h *directHandler) bool
	clearDirectHandler(h *directHandler)
}

type udpMuxedDirect struct {
	direct atomic.Pointer[directHandler]
}

// setDirectHandler installs h unless another candidate sharing this conn
// already did; that one then keeps it.
func (c *udpMuxedConn) setDirectHandler(h *directHandler) bool {
	return c.direct.CompareAndSwap(nil, h)
}

func (c *udpMuxedConn) clearDirectHandler(h *directHandler) {
	c.direct.CompareAndSwap(h, nil)
}

// deliverDirect is called by the mux's reader goroutine.
func (c *udpMuxedConn) deliverDirect(buf []byte, src netip.AddrPort) bool {
	h := c.direct.Load()
	if h == nil || stun.IsMessage(buf) {
		return false
	}
	c.mu.Lock()
	queued := c.bufTail != nil || c.closed
	c.mu.Unlock()
	if queued {
		return false
	}

	return h.fn(buf, src)
}

func (s *sharedPacketConn) setDirectHandler(h *directHandler) bool {
	d, ok := s.underlying.(directInbound)

	return ok && s.ctx.Err() == nil && d.setDirectHandler(h)
}

func (s *sharedPacketConn) clearDirectHandler(h *directHandler) {
	if d, ok := s.underlying.(directInbound); ok {
		d.clearDirectHandler(h)
	}
}

// startDirect lets conn's mux deliver c's application data directly.
func (c *candidateBase) startDirect(conn net.PacketConn) {
	d, ok := conn.(directInbound)
	if !ok {
		return
	}
	h := &directHandler{fn: c.handleInboundData}
	if d.setDirectHandler(h) {
		c.direct = h
	}
}

// stopDirect is called when the candidate closes; a packet already being
// handed over may still arrive and is refused by the closed agent buffer,
// as one read by recvLoop would have been.
func (c *candidateBase) stopDirect() {
	if c.direct == nil {
		return
	}
	if d, ok := c.conn.(directInbound); ok {
		d.clearDirectHandler(c.direct)
	}
}

// handleInboundData is handleInboundPacket's path for application data from
// an already validated address.
func (c *candidateBase) handleInboundData(buf []byte, src netip.AddrPort) bool {
	if !c.validateSTUNTrafficCache(src) {
		return false
	}
	c.deliverData(buf)

	return true
}
