// SPDX-FileCopyrightText: 2026 The Pion community <https://pion.ly>
// SPDX-License-Identifier: MIT

package dtls

// Backchannel patch: a connection's reader goroutine can hand decrypted
// application data straight to the layer above (SCTP) instead of queueing
// it on a channel for that layer's own reader goroutine. At chat rates
// every datagram is its own record, so the queue cost a goroutine wake-up
// per datagram: one of the six hops an inbound datagram crossed.

import "context"

// SetDataHandler makes the connection's reader call fn with each record of
// application data, on the reader's goroutine, instead of queueing it for
// Read. fn owns the slice. An error fn returns is returned by the next Read
// (the caller keeps calling Read for errors and the end of the
// connection). nil restores Read. fn must not call Read.
func (c *Conn) SetDataHandler(fn func([]byte) error) {
	if fn == nil {
		c.dataHandler.Store(nil)

		return
	}
	c.dataHandler.Store(&fn)
}

// deliverApplicationData hands data to the handler, or queues it for Read.
func (c *Conn) deliverApplicationData(ctx context.Context, data []byte) {
	var out any = data
	if h := c.dataHandler.Load(); h != nil {
		err := (*h)(data)
		if err == nil {
			return
		}
		out = err
	}
	select {
	case c.decrypted <- out:
	case <-c.closed.Done():
	case <-ctx.Done():
	}
}
