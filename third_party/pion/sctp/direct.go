// SPDX-FileCopyrightText: 2026 The Pion community <https://pion.ly>
// SPDX-License-Identifier: MIT

package sctp

// Backchannel patch: when the association runs over a connection that can
// hand over what it reads (the patched pion/dtls's SetDataHandler), inbound
// packets are handled on that connection's reader goroutine instead of
// being queued for readLoop. At chat rates every packet, SACKs included,
// was a goroutine wake-up here. readLoop still reads, for the connection's
// errors and its end, and tears the association down as before.

import (
	"sync"
	"sync/atomic"
)

// directReader is a connection that can hand over what it reads.
type directReader interface {
	SetDataHandler(fn func([]byte) error)
}

// directInbound serialises inbound packets between readLoop and the
// connection's reader (each packet's chunks are handled between
// handleChunksStart and handleChunksEnd, which assume one packet at a time).
type directInbound struct {
	mu     sync.Mutex
	closed bool // readLoop has ended
	failed bool // a handed-over packet ended the association
}

// startDirect hands a's inbound packets to handleDirect, if the connection
// can; the returned func undoes it and waits for a packet being handled.
func (a *Association) startDirect() (stop func()) {
	d, ok := a.netConn.(directReader)
	if !ok {
		return func() {}
	}
	d.SetDataHandler(a.handleDirect)

	return func() {
		d.SetDataHandler(nil)
		a.direct.mu.Lock()
		a.direct.closed = true
		a.direct.mu.Unlock()
	}
}

// handleDirect is readLoop's body for one packet, on the connection's
// reader goroutine. Its error ends the association through readLoop's next
// Read; packets after it, or after the end, are dropped as readLoop would
// not have read them.
func (a *Association) handleDirect(raw []byte) error {
	a.direct.mu.Lock()
	defer a.direct.mu.Unlock()
	if a.direct.closed || a.direct.failed {
		return nil
	}
	atomic.AddUint64(&a.bytesReceived, uint64(len(raw))) //nolint:gosec // G115
	if err := a.handleInbound(raw); err != nil {
		a.direct.failed = true

		return err
	}

	return nil
}

// handleRead is readLoop's handling of a packet it read itself.
func (a *Association) handleRead(raw []byte) error {
	a.direct.mu.Lock()
	defer a.direct.mu.Unlock()

	return a.handleInbound(raw)
}
