package sfu

import (
	"sync"

	"github.com/backchannel-rtc/backchannel/protocol/compact"
)

// compactCache encodes a packet once for all the compact recipients of a
// fan-out. chat hands the same slice to every recipient, one after the
// other under its room's lock, so remembering the last slice encoded (by
// identity: chat never reuses a slice it sent, and the cache keeps the
// last one alive, so its address cannot be reused) turns n encodings into
// one. A miss, when another room's or an ack's packet came between, only
// costs one more encoding.
type compactCache struct {
	mu  sync.Mutex
	src []byte
	dst []byte
}

func (c *compactCache) encode(b []byte) []byte {
	if len(b) == 0 {
		return b
	}
	c.mu.Lock()
	if len(c.src) == len(b) && &c.src[0] == &b[0] {
		d := c.dst
		c.mu.Unlock()
		return d
	}
	c.mu.Unlock()
	d, err := compact.FromJSON(b)
	if err != nil {
		// chat only sends JSON it marshalled itself; a compact client
		// also reads JSON (a packet starting with '{'), so send it as is.
		return b
	}
	c.mu.Lock()
	c.src, c.dst = b, d
	c.mu.Unlock()
	return d
}

// fromCompact turns what a compact client sent into the JSON chat parses:
// a packet starting with '{' is JSON already; anything else should be one
// compact packet. What is neither goes to chat as it came, so that chat
// refuses it as bad_packet and counts it against the sender like any
// malformed packet (its rate limits and its closing of a flooder apply).
func fromCompact(b []byte) []byte {
	if len(b) > 0 && b[0] == '{' {
		return b
	}
	if j, err := compact.ToJSON(b); err == nil {
		return j
	}
	return b
}
