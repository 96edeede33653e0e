package client

import (
	"time"

	"github.com/backchannel-rtc/backchannel/protocol"
)

// The chat data channel: one reader goroutine handing every packet to
// OnChat (and, first, to the end-to-end encryption layer, e2ee.go), and
// SendChat's flow control.

func (c *Client) readChat() {
	defer c.wg.Done()
	defer close(c.chatEnd)
	buf := make([]byte, protocol.MaxDataMessage)
	for {
		n, err := c.raw.Read(buf)
		if err != nil {
			return
		}
		if c.opts.OnChat != nil || c.e2eeWanted() {
			msg := make([]byte, n)
			copy(msg, buf[:n])
			c.sawChat(msg)
			if c.opts.OnChat != nil {
				c.opts.OnChat(msg)
			}
		}
	}
}

// SendChat writes one chat message, waiting while the channel has more
// than HighWater bytes unsent (flow control: SCTP never queues without
// bound, and the server is never flooded faster than it drains).
func (c *Client) SendChat(b []byte) error {
	for c.dc.BufferedAmount() > uint64(c.opts.HighWater) {
		select {
		case <-c.low:
		case <-time.After(50 * time.Millisecond):
		case <-c.done:
			return ErrClosed
		}
	}
	select {
	case <-c.done:
		return ErrClosed
	default:
	}
	_, err := c.raw.Write(b)
	return err
}

// Buffered is how many chat bytes wait to be sent.
func (c *Client) Buffered() uint64 { return c.dc.BufferedAmount() }
