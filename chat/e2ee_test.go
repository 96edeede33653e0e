package chat

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/backchannel-rtc/backchannel/chat/chattest"
	"github.com/backchannel-rtc/backchannel/protocol"
	"github.com/backchannel-rtc/backchannel/protocol/e2ee"
)

// joinWithKey joins as a participant that announced key at join.
func (e *fakeEnv) joinWithKey(t *testing.T, room, identity string, key *e2ee.PrivateKey) *chattest.Client {
	t.Helper()
	c := newFakeConn(identity, grantFor(grantsPlain))
	c.who.E2EEKey = key.Public().String()
	s := e.srv.Attach(room, c)
	c.mu.Lock()
	c.sess = s
	c.mu.Unlock()
	cl := chattest.NewClient(t, participant{c})
	cl.Expect("history", func(p chattest.Packet) bool { return p.Bool("replay") })
	return cl
}

func newKey(t *testing.T) *e2ee.PrivateKey {
	t.Helper()
	k, err := e2ee.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func seal(t *testing.T, text, room, sender, ref string, keys map[string]*e2ee.PublicKey, to ...string) *e2ee.Envelope {
	t.Helper()
	pt, _ := json.Marshal(map[string]string{"text": text})
	env, err := e2ee.Seal(pt, e2ee.Context{Room: room, Sender: sender, To: to, Ref: ref}, keys)
	if err != nil {
		t.Fatal(err)
	}
	return env
}

// openMessage opens the e2ee of a received message object as me.
func openMessage(t *testing.T, room string, m chattest.Packet, env any, me string, key *e2ee.PrivateKey, ref string) string {
	t.Helper()
	b, _ := json.Marshal(env)
	parsed, err := e2ee.ParseEnvelope(b)
	if err != nil {
		t.Fatalf("envelope as received: %v", err)
	}
	pt, err := e2ee.Open(parsed, e2ee.Context{Room: room, Sender: m.Str("sender"), To: m.Strings("to"), Ref: ref}, me, key)
	if err != nil {
		t.Fatalf("%s cannot open: %v", me, err)
	}
	var c struct{ Text string }
	if err := json.Unmarshal(pt, &c); err != nil {
		t.Fatal(err)
	}
	return c.Text
}

// An encrypted private message is checked, forwarded and stored as it came:
// presence shows the keys, the destination opens it, the store holds the
// envelope and never the text; an edit re-encrypts.
func TestE2EEPrivateMessage(t *testing.T) {
	env := newFakeEnv(t, DefaultConfig(), nil)
	const room = "e2ee"
	ka, kb := newKey(t), newKey(t)
	alice := env.joinWithKey(t, room, "alice", ka)
	bob := env.joinWithKey(t, room, "bob", kb)
	joined := alice.Expect("joined")
	if got := joined.Obj("participant").Str("e2eeKey"); got != kb.Public().String() {
		t.Fatalf("joined shows key %q, want bob's", got)
	}
	carol := chattest.Join(t, env, room, "carol", grantsPlain)
	pres := carol.Log[0]
	if pres.Type() != "presence" {
		t.Fatalf("first packet %v", pres)
	}
	keys := map[string]string{}
	for _, p := range pres.List("participants") {
		keys[p.Str("identity")] = p.Str("e2eeKey")
	}
	if keys["alice"] != ka.Public().String() || keys["bob"] != kb.Public().String() || keys["carol"] != "" {
		t.Fatalf("presence keys %v", keys)
	}

	pub := map[string]*e2ee.PublicKey{"alice": ka.Public(), "bob": kb.Public()}
	envl := seal(t, "MARKER-secret-1", room, "alice", "", pub, "bob")
	alice.Send(protocol.EncryptedChatRequest("c1", envl, "bob"))
	ack := alice.Expect("ack", func(p chattest.Packet) bool { return p.Str("clientId") == "c1" })
	got := bob.Expect("message").Obj("message")
	if got.Str("text") != "" || got.Obj("e2ee") == nil {
		t.Fatalf("bob got %v", got)
	}
	if txt := openMessage(t, room, got, got["e2ee"], "bob", kb, ""); txt != "MARKER-secret-1" {
		t.Fatalf("bob read %q", txt)
	}
	chattest.Barrier(t, alice, alice, bob, carol)
	alice.Expect("ack") // the barrier's
	for _, p := range carol.Log {
		if chattest.Mentions(p, ack.Str("id")) {
			t.Fatalf("carol saw %v", p)
		}
	}

	// Edit: a new envelope bound to the message id; text is refused.
	id := ack.Str("id")
	alice.Send(map[string]any{"type": "edit", "id": id, "text": "plain now"})
	if e := alice.ExpectError("bad_packet"); !strings.Contains(e.Str("message"), "encrypted") {
		t.Fatalf("edit with text: %v", e)
	}
	edit := seal(t, "MARKER-secret-2", room, "alice", id, pub, "bob")
	alice.Send(map[string]any{"type": "edit", "clientId": "e1", "id": id, "e2ee": edit})
	alice.Expect("ack", func(p chattest.Packet) bool { return p.Str("clientId") == "e1" })
	ed := bob.Expect("edited")
	if txt := openMessage(t, room, got, ed["e2ee"], "bob", kb, id); txt != "MARKER-secret-2" {
		t.Fatalf("bob read the edit as %q", txt)
	}

	msgs, err := env.store.History(context.Background(), room, "", 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	var stored *Message
	for i := range msgs {
		if msgs[i].ID == id {
			stored = &msgs[i]
		}
	}
	if stored == nil || stored.E2EE == nil || stored.Text != "" || stored.EditedAt == nil {
		t.Fatalf("stored %+v", stored)
	}
	if stored.E2EE.Ciphertext != edit.Ciphertext {
		t.Fatal("the store does not hold the edit's envelope")
	}
	b, _ := json.Marshal(msgs)
	if strings.Contains(string(b), "MARKER-secret") {
		t.Fatal("plaintext in the store")
	}

	// A plaintext message cannot be edited into an encrypted one.
	pid, _ := alice.Say("plain", map[string]any{"to": []string{"bob"}})
	alice.Send(map[string]any{"type": "edit", "id": pid, "e2ee": seal(t, "x", room, "alice", pid, pub, "bob")})
	alice.ExpectError("bad_packet")
}

// Every malformed envelope is refused with an error packet; nothing is
// stored or forwarded and the connection stays up.
func TestE2EERefusals(t *testing.T) {
	cfg := DefaultConfig()
	cfg.RequireE2EE = []string{"locked-*"}
	env := newFakeEnv(t, cfg, nil)
	const room = "locked-1"
	ka, kb, kc := newKey(t), newKey(t), newKey(t)
	alice := env.joinWithKey(t, room, "alice", ka)
	bob := env.joinWithKey(t, room, "bob", kb)
	pub := map[string]*e2ee.PublicKey{"alice": ka.Public(), "bob": kb.Public(), "carol": kc.Public()}
	good := func() *e2ee.Envelope { return seal(t, "MARKER-refused", room, "alice", "", pub, "bob") }

	cases := []struct {
		name   string
		pkt    func() any
		reason string
	}{
		{"plaintext in a room that requires e2ee", func() any {
			return map[string]any{"type": "chat", "clientId": "r", "text": "MARKER-refused", "to": []string{"bob"}}
		}, "requires private messages to be end-to-end encrypted"},
		{"missing sealed key", func() any {
			e := good()
			e.Keys = e.Keys[:1]
			return protocol.EncryptedChatRequest("r", e, "bob")
		}, "no sealed key"},
		{"extra sealed key", func() any {
			return protocol.EncryptedChatRequest("r", seal(t, "MARKER-refused", room, "alice", "", pub, "bob", "carol"), "bob")
		}, "neither a destination nor the sender"},
		{"bad base64", func() any {
			e := good()
			e.Nonce = "!!!!" + e.Nonce[4:]
			return protocol.EncryptedChatRequest("r", e, "bob")
		}, "base64"},
		{"wrong length", func() any {
			e := good()
			e.Keys[0].Key = e.Keys[0].Enc
			return protocol.EncryptedChatRequest("r", e, "bob")
		}, "wrong length"},
		{"wrong suite", func() any {
			e := good()
			e.Suite = "bc-e2ee-v0"
			return protocol.EncryptedChatRequest("r", e, "bob")
		}, "unsupported suite"},
		{"oversized", func() any {
			big := strings.Repeat("x", 20<<10)
			return protocol.EncryptedChatRequest("r", seal(t, big, room, "alice", "", pub, "bob"), "bob")
		}, "too large"},
		{"group message", func() any {
			return map[string]any{"type": "chat", "clientId": "r", "e2ee": good()}
		}, "only private messages"},
		{"text beside e2ee", func() any {
			return map[string]any{"type": "chat", "clientId": "r", "e2ee": good(), "to": []string{"bob"}, "text": "MARKER-refused"}
		}, "no text"},
		{"kind image", func() any {
			return map[string]any{"type": "chat", "clientId": "r", "kind": "image", "attachmentId": "a1", "e2ee": good(), "to": []string{"bob"}}
		}, "kind text or file"},
		{"file without its attachment", func() any {
			return map[string]any{"type": "chat", "clientId": "r", "kind": "file", "e2ee": good(), "to": []string{"bob"}}
		}, "needs an attachmentId"},
		{"text with an attachment", func() any {
			return map[string]any{"type": "chat", "clientId": "r", "attachmentId": "a1", "e2ee": good(), "to": []string{"bob"}}
		}, "text message has no attachmentId"},
		{"unknown envelope field", func() any {
			b, _ := json.Marshal(good())
			return `{"type":"chat","clientId":"r","to":["bob"],"e2ee":` + strings.TrimSuffix(string(b), "}") + `,"x":1}}`
		}, "unknown field"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			alice.Send(c.pkt())
			e := alice.ExpectError("bad_packet")
			if !strings.Contains(e.Str("message"), c.reason) {
				t.Fatalf("refusal %q does not say %q", e.Str("message"), c.reason)
			}
			if e.Str("clientId") != "r" {
				t.Errorf("refusal without the clientId: %v", e)
			}
		})
	}
	// Still connected: a good one goes through, group messages stay
	// plaintext, and the refused ones left nothing behind.
	alice.Send(protocol.EncryptedChatRequest("ok", good(), "bob"))
	alice.Expect("ack", func(p chattest.Packet) bool { return p.Str("clientId") == "ok" })
	alice.Say("group text is fine", nil)
	msgs, _ := env.store.History(context.Background(), room, "", 0, 100)
	if len(msgs) != 2 {
		t.Fatalf("stored %d messages, want 2", len(msgs))
	}
	for _, p := range bob.Log {
		if chattest.Mentions(p, "MARKER-refused") {
			t.Fatalf("bob was sent %v", p)
		}
	}
	// In a room without the policy a plaintext private message is fine.
	other := env.joinWithKey(t, "open", "alice", ka)
	other.Say("plain private", map[string]any{"to": []string{"bob"}})
}

// The server keeps the last key of each identity for the meeting, hands it
// out for an absent destination, and announces a change.
func TestE2EEKeysAndKeyChange(t *testing.T) {
	env := newFakeEnv(t, DefaultConfig(), nil)
	const room = "keys"
	ka, kb, kb2 := newKey(t), newKey(t), newKey(t)
	alice := env.joinWithKey(t, room, "alice", ka)
	bob := env.joinWithKey(t, room, "bob", kb)
	alice.Expect("joined")
	env.Leave(t, bob.P)
	alice.Expect("left")

	alice.Send(map[string]any{"type": "keys", "clientId": "k", "to": []string{"bob", "nobody"}})
	k := alice.Expect("keys")
	ks := k.List("keys")
	if k.Str("clientId") != "k" || len(ks) != 1 || ks[0].Str("identity") != "bob" || ks[0].Str("e2eeKey") != kb.Public().String() {
		t.Fatalf("keys answer %v", k)
	}

	// Bob is back on another device: a key change, and presence shows the
	// new key.
	bob2 := env.joinWithKey(t, room, "bob", kb2)
	kc := alice.Expect("keyChanged")
	if kc.Str("identity") != "bob" || kc.Str("e2eeKey") != kb2.Public().String() || kc.Str("previous") != kb.Public().String() {
		t.Fatalf("keyChanged %v", kc)
	}
	for _, p := range bob2.Log[0].List("participants") {
		if p.Str("identity") == "bob" && p.Str("e2eeKey") != kb2.Public().String() {
			t.Fatalf("presence still shows the old key: %v", p)
		}
	}
	// The same key again is no change.
	env.Leave(t, bob2.P)
	alice.Expect("left")
	from := len(alice.Log)
	env.joinWithKey(t, room, "bob", kb2)
	alice.Expect("joined")
	chattest.Barrier(t, alice, alice)
	for _, p := range alice.Log[from:] {
		if p.Type() == "keyChanged" {
			t.Fatalf("a second keyChanged for the same key: %v", p)
		}
	}
}
