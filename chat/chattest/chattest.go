// Package chattest holds transport-independent scenarios of the chat
// protocol. They speak only JSON bytes through a Participant, so the same
// scenarios run against the chat package with fake connections and against
// a real server over WebRTC data channels. It does not import chat.
package chattest

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// Participant is one connected chat client as the scenarios see it.
type Participant interface {
	// Identity is the identity in the participant's token.
	Identity() string
	// Send sends one packet on the chat data channel.
	Send(b []byte) error
	// Next returns the next packet received, in order, waiting until ctx
	// ends.
	Next(ctx context.Context) ([]byte, error)
}

// Grants are what a scenario asks of a participant's token.
type Grants struct {
	Name   string // display name; empty: the identity
	Admin  bool   // roomAdmin
	NoChat bool   // canPublishData false
}

// Env joins participants to rooms. Join returns once the participant's chat
// channel is attached (its presence packet may still be in flight).
type Env interface {
	Join(t testing.TB, room, identity string, g Grants) Participant
	Leave(t testing.TB, p Participant)
}

// Timeout bounds every wait for a packet.
var Timeout = 5 * time.Second

// Packet is a decoded server packet.
type Packet map[string]any

func (p Packet) Type() string        { return p.Str("type") }
func (p Packet) Str(k string) string { s, _ := p[k].(string); return s }
func (p Packet) Bool(k string) bool  { b, _ := p[k].(bool); return b }
func (p Packet) Int(k string) int64  { f, _ := p[k].(float64); return int64(f) }
func (p Packet) Obj(k string) Packet { m, _ := p[k].(map[string]any); return Packet(m) }
func (p Packet) List(k string) []Packet {
	l, _ := p[k].([]any)
	out := make([]Packet, 0, len(l))
	for _, x := range l {
		if m, ok := x.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

// Strings returns a list of strings field.
func (p Packet) Strings(k string) []string {
	l, _ := p[k].([]any)
	out := make([]string, 0, len(l))
	for _, x := range l {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

func (p Packet) String() string { b, _ := json.Marshal(p); return string(b) }

// Has returns those of keys that p carries: the server leaves a field out
// at its default (docs/protocol.md, "Absent fields").
func (p Packet) Has(keys ...string) []string {
	var out []string
	for _, k := range keys {
		if _, ok := p[k]; ok {
			out = append(out, k)
		}
	}
	return out
}

// Client wraps a Participant with a log of everything it received.
type Client struct {
	P   Participant
	t   testing.TB
	Log []Packet
}

// NewClient wraps p.
func NewClient(t testing.TB, p Participant) *Client { return &Client{P: p, t: t} }

// Join joins and wraps, and waits for the attach snapshot (presence, pins
// and replayed history), returning the client.
func Join(t testing.TB, env Env, room, identity string, g Grants) *Client {
	t.Helper()
	c := NewClient(t, env.Join(t, room, identity, g))
	c.Expect("history", func(p Packet) bool { return p.Bool("replay") })
	return c
}

// ID is the participant's identity.
func (c *Client) ID() string { return c.P.Identity() }

// Send marshals v and sends it.
func (c *Client) Send(v any) {
	c.t.Helper()
	var b []byte
	switch x := v.(type) {
	case string:
		b = []byte(x)
	case []byte:
		b = x
	default:
		var err error
		if b, err = json.Marshal(v); err != nil {
			c.t.Fatalf("marshal: %v", err)
		}
	}
	if err := c.P.Send(b); err != nil {
		c.t.Fatalf("%s: send: %v", c.ID(), err)
	}
}

// Next returns the next packet, failing the test on timeout.
func (c *Client) Next() Packet {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	b, err := c.P.Next(ctx)
	if err != nil {
		c.t.Fatalf("%s: no packet: %v (received so far: %v)", c.ID(), err, c.Log)
	}
	var p Packet
	if err := json.Unmarshal(b, &p); err != nil {
		c.t.Fatalf("%s: server sent invalid JSON %q: %v", c.ID(), b, err)
	}
	c.Log = append(c.Log, p)
	return p
}

// Expect reads until a packet of type typ matching every predicate, and
// returns it. Packets skipped on the way stay in Log.
func (c *Client) Expect(typ string, preds ...func(Packet) bool) Packet {
	c.t.Helper()
	for {
		p := c.Next()
		if p.Type() != typ {
			continue
		}
		ok := true
		for _, f := range preds {
			ok = ok && f(p)
		}
		if ok {
			return p
		}
	}
}

// ExpectNext reads the next packet that is not presence noise (typing,
// read, joined, left) and checks its type.
func (c *Client) ExpectNext(typ string) Packet {
	c.t.Helper()
	for {
		p := c.Next()
		switch p.Type() {
		case "typing", "read", "joined", "left":
			if typ != p.Type() {
				continue
			}
		}
		if p.Type() != typ {
			c.t.Fatalf("%s: want %s, got %v", c.ID(), typ, p)
		}
		return p
	}
}

// ExpectError reads until an error packet and checks its code.
func (c *Client) ExpectError(code string) Packet {
	c.t.Helper()
	for {
		p := c.Next()
		switch p.Type() {
		case "error":
			if p.Str("code") != code {
				c.t.Fatalf("%s: want error %s, got %v", c.ID(), code, p)
			}
			return p
		case "ack":
			c.t.Fatalf("%s: want error %s, got %v", c.ID(), code, p)
		}
	}
}

var seq atomic.Int64

// NewClientID returns a fresh client id.
func NewClientID() string { return fmt.Sprintf("c-%d-%d", time.Now().UnixNano(), seq.Add(1)) }

// Chat sends a chat packet and returns its clientId.
func (c *Client) Chat(text string, extra map[string]any) string {
	c.t.Helper()
	id := NewClientID()
	pkt := map[string]any{"type": "chat", "clientId": id, "text": text}
	for k, v := range extra {
		pkt[k] = v
	}
	c.Send(pkt)
	return id
}

// Say sends a group message and waits for its ack; it returns the message
// id and seq.
func (c *Client) Say(text string, extra map[string]any) (string, int64) {
	c.t.Helper()
	cid := c.Chat(text, extra)
	ack := c.Expect("ack", func(p Packet) bool { return p.Str("clientId") == cid })
	return ack.Str("id"), ack.Int("seq")
}

// Barrier makes from send a group message and waits until every client has
// it. Events are delivered in room order, so whatever a client received
// before the barrier is everything it will ever get from earlier events.
// It returns, per client, the packets read while waiting.
func Barrier(t testing.TB, from *Client, all ...*Client) [][]Packet {
	t.Helper()
	text := "barrier " + NewClientID()
	from.Chat(text, nil)
	out := make([][]Packet, len(all))
	for i, c := range all {
		start := len(c.Log)
		c.Expect("message", func(p Packet) bool { return p.Obj("message").Str("text") == text })
		out[i] = c.Log[start:]
	}
	return out
}

// Mentions reports whether a packet mentions any of ids or texts anywhere
// (message ids in events, texts in messages): the privacy check.
func Mentions(p Packet, needles ...string) bool {
	s := p.String()
	for _, n := range needles {
		if n != "" && strings.Contains(s, n) {
			return true
		}
	}
	return false
}
