package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/backchannel-rtc/backchannel/protocol"
	"github.com/backchannel-rtc/backchannel/protocol/e2ee"
)

// End-to-end encrypted private messages (docs/e2ee.md). With
// Options.E2EEKey the client announces its public key at join, keeps the
// keys the server shows (presence, joined, keyChanged, keys) in a KeyRing,
// seals private messages for their destinations and itself, and opens the
// envelopes it receives before OnMessage sees them. The content sealed is
// the JSON object {"text": …}, as the browser seals it.

// Received is a chat message as its user reads it.
type Received struct {
	// Message is the message object as the server sent it (its E2EE kept).
	// For an `edited` event it holds the id, seq and edit time, and the
	// sender and destinations when the message was seen before.
	Message *protocol.Message
	// Text is the text to show: the message's own, or the decrypted one.
	Text string
	// Encrypted: the content came end-to-end encrypted and opened.
	Encrypted bool
	// Err is set when the content was encrypted and did not open (no key,
	// another device's key, a tampered or moved envelope). Text is then
	// empty: such a message is shown as "can't decrypt", never as text.
	Err error
	// Edited: from an `edited` event (the new content of Message.ID).
	Edited bool
	// File describes an encrypted attachment (kind file): Text is then its
	// caption, and DownloadEncryptedFile fetches and decrypts it.
	File *EncryptedFile
}

// ErrNoKey is returned when a destination's public key is unknown, even
// after asking the server for it.
var ErrNoKey = errors.New("client: no e2ee key")

// maxRemembered bounds the encrypted messages whose audience the client
// remembers, to open their edits.
const maxRemembered = 10000

type msgAudience struct {
	sender string
	to     []string
	kind   protocol.Kind
}

// e2eeState is a client's end-to-end encryption state.
type e2eeState struct {
	ring    e2ee.KeyRing
	keysSeq atomic.Int64

	mu      sync.Mutex
	seen    map[string]msgAudience // message id → audience, for its edits
	order   []string
	waiters map[string]chan protocol.KeysEvent // keys request clientId → its answer
}

func (c *Client) e2eeWanted() bool { return c.opts.E2EEKey != nil || c.opts.OnMessage != nil }

// sawChat updates the key ring from presence events and hands messages to
// OnMessage, opened. It runs on the chat reader goroutine, before OnChat.
func (c *Client) sawChat(b []byte) {
	if !c.e2eeWanted() {
		return
	}
	var h protocol.Head
	if json.Unmarshal(b, &h) != nil {
		return
	}
	switch h.Type {
	case protocol.EventPresence:
		var ev protocol.PresenceEvent
		if json.Unmarshal(b, &ev) == nil {
			c.learnKey(ev.Self.Identity, ev.Self.E2EEKey)
			for _, p := range ev.Participants {
				c.learnKey(p.Identity, p.E2EEKey)
			}
		}
	case protocol.EventJoined:
		var ev protocol.JoinedEvent
		if json.Unmarshal(b, &ev) == nil {
			c.learnKey(ev.Participant.Identity, ev.Participant.E2EEKey)
		}
	case protocol.EventKeyChanged:
		var ev protocol.KeyChangedEvent
		if json.Unmarshal(b, &ev) == nil {
			c.learnKey(ev.Identity, ev.E2EEKey)
		}
	case protocol.EventKeys:
		var ev protocol.KeysEvent
		if json.Unmarshal(b, &ev) == nil {
			for _, k := range ev.Keys {
				c.learnKey(k.Identity, k.E2EEKey)
			}
			c.e2.mu.Lock()
			w := c.e2.waiters[ev.ClientID]
			delete(c.e2.waiters, ev.ClientID)
			c.e2.mu.Unlock()
			if w != nil {
				w <- ev
			}
		}
	case protocol.EventMessage:
		var ev protocol.MessageEvent
		if json.Unmarshal(b, &ev) == nil && ev.Message != nil {
			c.received(ev.Message, false)
		}
	case protocol.EventHistory:
		var ev protocol.HistoryEvent
		if json.Unmarshal(b, &ev) == nil {
			for _, m := range ev.Messages {
				c.received(m, false)
			}
		}
	case protocol.EventEdited:
		var ev protocol.EditedEvent
		if json.Unmarshal(b, &ev) == nil {
			m := &protocol.Message{ID: ev.ID, Seq: ev.Seq, Text: ev.Text, E2EE: ev.E2EE, EditedAt: &ev.EditedAt}
			c.e2.mu.Lock()
			a, ok := c.e2.seen[ev.ID]
			c.e2.mu.Unlock()
			if ok {
				m.Sender, m.To, m.Kind = a.sender, a.to, a.kind
			}
			c.received(m, true)
		}
	}
}

// learnKey records a key the server announced. A key that does not parse
// is ignored: nothing is sealed to it.
func (c *Client) learnKey(identity, key string) {
	if identity == "" || key == "" {
		return
	}
	if k, err := e2ee.ParsePublicKey(key); err == nil {
		c.e2.ring.Set(identity, k)
	}
}

// received opens m if it is encrypted and hands it to OnMessage.
func (c *Client) received(m *protocol.Message, edited bool) {
	r := Received{Message: m, Text: m.Text, Edited: edited}
	if m.E2EE != nil {
		c.remember(m)
		r.Text, r.File, r.Err = c.open(m)
		r.Encrypted = r.Err == nil
	}
	if c.opts.OnMessage != nil {
		c.opts.OnMessage(r)
	}
}

func (c *Client) remember(m *protocol.Message) {
	if m.Sender == "" {
		return
	}
	c.e2.mu.Lock()
	defer c.e2.mu.Unlock()
	if c.e2.seen == nil {
		c.e2.seen = make(map[string]msgAudience)
	}
	if _, ok := c.e2.seen[m.ID]; !ok {
		c.e2.order = append(c.e2.order, m.ID)
	}
	c.e2.seen[m.ID] = msgAudience{m.Sender, m.To, m.Kind}
	if len(c.e2.order) > maxRemembered {
		delete(c.e2.seen, c.e2.order[0])
		c.e2.order = c.e2.order[1:]
	}
}

// open decrypts an encrypted message. Its context comes from the message
// object itself: the room, sender and destinations, and, once it has been
// edited, its id (an edit's envelope is bound to the message it edits).
func (c *Client) open(m *protocol.Message) (string, *EncryptedFile, error) {
	if c.opts.E2EEKey == nil {
		return "", nil, fmt.Errorf("%w: this client has no device key", e2ee.ErrDecrypt)
	}
	if m.Sender == "" {
		return "", nil, fmt.Errorf("%w: an edit of a message this client has not seen", e2ee.ErrDecrypt)
	}
	ref := ""
	if m.EditedAt != nil {
		ref = m.ID
	}
	ctx := e2ee.Context{Room: c.Joined.Room, Sender: m.Sender, To: m.To, Ref: ref}
	pt, err := e2ee.Open(m.E2EE, ctx, c.Identity(), c.opts.E2EEKey)
	if err != nil {
		return "", nil, err
	}
	var content struct {
		Text *string        `json:"text"`
		File *EncryptedFile `json:"file"`
	}
	if err := json.Unmarshal(pt, &content); err != nil || content.Text == nil {
		return "", nil, fmt.Errorf("%w: the content is not {\"text\": …}", e2ee.ErrDecrypt)
	}
	if (content.File != nil) != (m.Kind == protocol.KindFile) {
		return "", nil, fmt.Errorf("%w: the content's file does not match the message's kind", e2ee.ErrDecrypt)
	}
	return *content.Text, content.File, nil
}

// SealPrivate encrypts text for the destinations to and this client's
// own identity, as a new message (ref "") or as the edit of message ref.
// A destination whose key this client has not seen is asked of the server
// (its last key in this meeting, for someone momentarily away); do not
// call it from OnChat or OnMessage, whose goroutine delivers that answer.
func (c *Client) SealPrivate(ctx context.Context, text, ref string, to ...string) (*e2ee.Envelope, error) {
	pt, err := json.Marshal(struct {
		Text string `json:"text"`
	}{text})
	if err != nil {
		return nil, err
	}
	return c.sealContent(ctx, pt, ref, to)
}

// sealContent seals a content object (docs/e2ee.md) as SealPrivate does.
func (c *Client) sealContent(ctx context.Context, pt []byte, ref string, to []string) (*e2ee.Envelope, error) {
	if c.opts.E2EEKey == nil {
		return nil, fmt.Errorf("%w: Options.E2EEKey is not set", ErrNoKey)
	}
	me := c.Identity()
	c.e2.ring.Set(me, c.opts.E2EEKey.Public())
	keys, missing := c.e2.ring.For(append([]string{me}, to...)...)
	if len(missing) > 0 {
		if err := c.askKeys(ctx, missing); err != nil {
			return nil, err
		}
		if keys, missing = c.e2.ring.For(append([]string{me}, to...)...); len(missing) > 0 {
			return nil, fmt.Errorf("%w for %q", ErrNoKey, missing)
		}
	}
	return e2ee.Seal(pt, e2ee.Context{Room: c.Joined.Room, Sender: me, To: to, Ref: ref}, keys)
}

// askKeys sends a keys packet for ids and waits for its answer.
func (c *Client) askKeys(ctx context.Context, ids []string) error {
	id := "keys-" + strconv.FormatInt(c.e2.keysSeq.Add(1), 10)
	ch := make(chan protocol.KeysEvent, 1)
	c.e2.mu.Lock()
	if c.e2.waiters == nil {
		c.e2.waiters = make(map[string]chan protocol.KeysEvent)
	}
	c.e2.waiters[id] = ch
	c.e2.mu.Unlock()
	defer func() {
		c.e2.mu.Lock()
		delete(c.e2.waiters, id)
		c.e2.mu.Unlock()
	}()
	b, _ := json.Marshal(protocol.Request{Type: protocol.PacketKeys, ClientID: &id, To: ids})
	if err := c.SendChat(b); err != nil {
		return err
	}
	t := time.NewTimer(10 * time.Second)
	defer t.Stop()
	select {
	case <-ch:
		return nil
	case <-c.done:
		return ErrClosed
	case <-t.C:
		return fmt.Errorf("%w: the server did not answer the keys request", ErrNoKey)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// SendPrivateEncrypted sends text end-to-end encrypted to the identities
// to, with clientID for its ack and retries.
func (c *Client) SendPrivateEncrypted(ctx context.Context, clientID, text string, to ...string) error {
	env, err := c.SealPrivate(ctx, text, "", to...)
	if err != nil {
		return err
	}
	b, err := json.Marshal(protocol.EncryptedChatRequest(clientID, env, to...))
	if err != nil {
		return err
	}
	return c.SendChat(b)
}

// editPacket re-encrypts text as the new content of this client's
// encrypted message id, for the audience it was sent to.
func (c *Client) editPacket(ctx context.Context, clientID, id, text string) ([]byte, error) {
	c.e2.mu.Lock()
	a, ok := c.e2.seen[id]
	c.e2.mu.Unlock()
	if !ok || a.sender != c.Identity() {
		return nil, fmt.Errorf("client: %s is not an encrypted message of this client's", id)
	}
	if a.kind != protocol.KindText && a.kind != "" {
		return nil, fmt.Errorf("client: %s is an encrypted file: its caption is not edited", id)
	}
	env, err := c.SealPrivate(ctx, text, id, a.to...)
	if err != nil {
		return nil, err
	}
	return json.Marshal(protocol.Request{Type: protocol.PacketEdit, ClientID: &clientID, ID: &id, E2EE: env})
}

// EditPrivateEncrypted replaces the content of this client's encrypted
// message id with text, re-encrypted (the server cannot edit what it
// cannot read).
func (c *Client) EditPrivateEncrypted(ctx context.Context, clientID, id, text string) error {
	b, err := c.editPacket(ctx, clientID, id, text)
	if err != nil {
		return err
	}
	return c.SendChat(b)
}

// SendPrivateEncrypted seals text on the current connection and sends it
// as SendChat does: kept until acknowledged and sent again, the same
// envelope with the same clientID, after a reconnect, so that it is stored
// once.
func (s *Session) SendPrivateEncrypted(ctx context.Context, clientID, text string, to ...string) error {
	c := s.Client()
	if c == nil {
		return fmt.Errorf("%w: reconnecting", ErrClosed)
	}
	env, err := c.SealPrivate(ctx, text, "", to...)
	if err != nil {
		return err
	}
	b, err := json.Marshal(protocol.EncryptedChatRequest(clientID, env, to...))
	if err != nil {
		return err
	}
	return s.SendChat(b)
}
