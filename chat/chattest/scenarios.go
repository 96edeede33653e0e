package chattest

import (
	"fmt"
	"strings"
	"testing"
)

// Scenario is one protocol scenario over an Env.
type Scenario struct {
	Name string
	Run  func(t *testing.T, env Env, room string)
}

// Scenarios lists every scenario; run each with its own room name.
var Scenarios = []Scenario{
	{"GroupMessage", GroupMessage},
	{"PrivateMessage", PrivateMessage},
	{"AckRetry", AckRetry},
	{"Reply", Reply},
	{"Reactions", Reactions},
	{"EditDelete", EditDelete},
	{"Pins", Pins},
	{"Mute", Mute},
	{"Kick", Kick},
	{"Typing", Typing},
	{"Read", Read},
	{"History", History},
	{"Presence", Presence},
	{"Errors", Errors},
}

// RunAll runs every scenario as a subtest.
func RunAll(t *testing.T, env Env) {
	for _, s := range Scenarios {
		t.Run(s.Name, func(t *testing.T) { s.Run(t, env, "room-"+s.Name+"-"+NewClientID()) })
	}
}

// GroupMessage: everyone, the sender included, gets the message; the sender
// gets an ack naming its clientId, with the same id and seq.
func GroupMessage(t *testing.T, env Env, room string) {
	a := Join(t, env, room, "alice", Grants{Name: "Alice"})
	b := Join(t, env, room, "bob", Grants{})
	cid := a.Chat("  hello  ", nil)
	ma := a.Expect("message").Obj("message")
	ack := a.Expect("ack")
	mb := b.Expect("message").Obj("message")
	if ack.Str("clientId") != cid || ack.Str("id") != ma.Str("id") || ack.Int("seq") != ma.Int("seq") {
		t.Fatalf("ack %v does not match message %v", ack, ma)
	}
	if mb.Str("id") != ma.Str("id") || mb.Str("text") != "hello" || mb.Str("sender") != "alice" ||
		mb.Str("senderName") != "Alice" || mb.Str("createdAt") == "" {
		t.Fatalf("bob got %v", mb)
	}
	// Every field at its default is left out: kind "text" included.
	if has := mb.Has("kind", "deleted", "pinned", "editedAt", "to", "replyTo", "reactions", "attachment", "e2ee"); len(has) > 0 {
		t.Fatalf("a plain group message carries %v at their defaults: %v", has, mb)
	}
	if _, ok := mb["clientId"]; ok {
		t.Fatalf("clientId leaked to other participants: %v", mb)
	}
	_, seq2 := a.Say("second", nil)
	if seq2 != ma.Int("seq")+1 {
		t.Fatalf("seq %d after %d", seq2, ma.Int("seq"))
	}
}

// PrivateMessage: only the sender and destinations see a private message or
// anything about it, live or in history, including people who join later.
func PrivateMessage(t *testing.T, env Env, room string) {
	a := Join(t, env, room, "alice", Grants{})
	b := Join(t, env, room, "bob", Grants{})
	c := Join(t, env, room, "carol", Grants{})
	secret := "secret " + NewClientID()
	id, _ := a.Say(secret, map[string]any{"to": []string{"bob", "dave"}})
	got := b.Expect("message").Obj("message")
	if got.Str("id") != id || strings.Join(got.Strings("to"), ",") != "bob,dave" {
		t.Fatalf("bob got %v", got)
	}
	b.Send(map[string]any{"type": "reaction", "id": id, "emoji": "👍", "on": true})
	b.Expect("reaction")
	a.Send(map[string]any{"type": "edit", "id": id, "text": secret + " edited"})
	a.Expect("edited")
	seen := Barrier(t, a, a, b, c)
	for _, p := range seen[2] {
		if Mentions(p, id, secret) {
			t.Fatalf("carol saw the private message: %v", p)
		}
	}
	c.Send(map[string]any{"type": "history", "limit": 100})
	if h := c.Expect("history", func(p Packet) bool { return !p.Bool("replay") }); Mentions(h, id, secret) {
		t.Fatalf("carol's history has it: %v", h)
	}
	c.Send(map[string]any{"type": "reaction", "id": id, "emoji": "👀", "on": true})
	c.ExpectError("not_found")
	d := NewClient(t, env.Join(t, room, "dave", Grants{}))
	if h := d.Expect("history"); !Mentions(h, id) {
		t.Fatalf("dave's replay misses the private message for him: %v", h)
	}
	e := NewClient(t, env.Join(t, room, "erin", Grants{}))
	if h := e.Expect("history"); Mentions(h, id, secret) {
		t.Fatalf("erin's replay has it: %v", h)
	}
}

// AckRetry: the same clientId again gets the same ack and creates nothing.
func AckRetry(t *testing.T, env Env, room string) {
	a := Join(t, env, room, "alice", Grants{})
	b := Join(t, env, room, "bob", Grants{})
	pkt := map[string]any{"type": "chat", "clientId": "retry-1", "text": "once"}
	a.Send(pkt)
	ack1 := a.Expect("ack")
	a.Send(pkt)
	ack2 := a.Expect("ack")
	if ack1.String() != ack2.String() {
		t.Fatalf("acks differ: %v %v", ack1, ack2)
	}
	// Another identity may use the same clientId: that is a new message.
	b.Send(pkt)
	if ack3 := b.Expect("ack"); ack3.Str("id") == ack1.Str("id") {
		t.Fatalf("bob's message got alice's id")
	}
	Barrier(t, a, b)
	n := 0
	for _, p := range b.Log {
		if p.Type() == "message" && p.Obj("message").Str("text") == "once" {
			n++
		}
	}
	if n != 2 {
		t.Fatalf("bob received %d 'once' messages, want 2 (alice's once, his own once)", n)
	}
	// After a reconnect the retry still returns the same ack.
	env.Leave(t, a.P)
	a2 := Join(t, env, room, "alice", Grants{})
	a2.Send(pkt)
	if ack4 := a2.Expect("ack"); ack4.Str("id") != ack1.Str("id") {
		t.Fatalf("retry after reconnect: %v, want %v", ack4, ack1)
	}
}

// Reply: replyTo names a visible message; a reply to a private message must
// stay among its participants.
func Reply(t *testing.T, env Env, room string) {
	a := Join(t, env, room, "alice", Grants{})
	b := Join(t, env, room, "bob", Grants{})
	id, _ := a.Say("question", nil)
	b.Say("answer", map[string]any{"replyTo": id})
	if m := a.Expect("message", func(p Packet) bool { return p.Obj("message").Str("text") == "answer" }); m.Obj("message").Str("replyTo") != id {
		t.Fatalf("replyTo lost: %v", m)
	}
	pid, _ := a.Say("private", map[string]any{"to": []string{"bob"}})
	b.Chat("public reply", map[string]any{"replyTo": pid})
	b.ExpectError("forbidden")
	b.Say("private reply", map[string]any{"replyTo": pid, "to": []string{"alice"}})
	b.Chat("reply to nothing", map[string]any{"replyTo": "01ARZ3NDEKTSV4RRFFQ69G5FAV"})
	b.ExpectError("not_found")
}

// Reactions: one per user per emoji; adding twice is a no-op.
func Reactions(t *testing.T, env Env, room string) {
	a := Join(t, env, room, "alice", Grants{})
	b := Join(t, env, room, "bob", Grants{})
	id, _ := a.Say("react to me", nil)
	react := func(on bool) {
		b.Send(map[string]any{"type": "reaction", "id": id, "emoji": "🎉", "on": on})
	}
	react(true)
	if r := a.Expect("reaction"); r.Str("identity") != "bob" || r.Str("emoji") != "🎉" || !r.Bool("on") {
		t.Fatalf("reaction event %v", r)
	}
	react(true) // no-op: no event
	react(false)
	if r := a.Expect("reaction"); len(r.Has("on")) > 0 {
		t.Fatalf("second event should be the removal, on left out: %v", r)
	}
	react(true)
	a.Expect("reaction")
	a.Send(map[string]any{"type": "history"})
	h := a.Expect("history", func(p Packet) bool { return !p.Bool("replay") })
	ms := h.List("messages")
	rs := ms[len(ms)-1].List("reactions")
	if len(rs) != 1 || strings.Join(rs[0].Strings("identities"), ",") != "bob" {
		t.Fatalf("reactions state %v", ms[len(ms)-1])
	}
}

// EditDelete: edit own only; delete own or with roomAdmin; tombstones keep
// their place.
func EditDelete(t *testing.T, env Env, room string) {
	a := Join(t, env, room, "alice", Grants{})
	b := Join(t, env, room, "bob", Grants{})
	m := Join(t, env, room, "mod", Grants{Admin: true})
	id, seq := a.Say("typo", nil)
	a.Send(map[string]any{"type": "edit", "id": id, "text": "fixed"})
	if e := b.Expect("edited"); e.Str("text") != "fixed" || e.Str("editedAt") == "" || e.Int("seq") != seq {
		t.Fatalf("edited %v", e)
	}
	b.Send(map[string]any{"type": "edit", "id": id, "text": "hijack"})
	b.ExpectError("forbidden")
	b.Send(map[string]any{"type": "delete", "id": id})
	b.ExpectError("forbidden")
	m.Send(map[string]any{"type": "delete", "id": id})
	if d := a.Expect("deleted"); d.Str("id") != id || d.Str("by") != "mod" {
		t.Fatalf("deleted %v", d)
	}
	a.Send(map[string]any{"type": "edit", "id": id, "text": "again"})
	a.ExpectError("not_found")
	a.Send(map[string]any{"type": "history"})
	h := a.Expect("history", func(p Packet) bool { return !p.Bool("replay") })
	found := false
	for _, msg := range h.List("messages") {
		if msg.Str("id") == id {
			found = true
			if !msg.Bool("deleted") || len(msg.Has("text", "kind")) > 0 || msg.Int("seq") != seq {
				t.Fatalf("tombstone %v", msg)
			}
		}
	}
	if !found {
		t.Fatalf("tombstone missing from history")
	}
}

// Pins: roomAdmin pins; others are refused; a newcomer gets the pins.
func Pins(t *testing.T, env Env, room string) {
	a := Join(t, env, room, "alice", Grants{})
	m := Join(t, env, room, "mod", Grants{Admin: true})
	id, _ := a.Say("pin me", nil)
	a.Send(map[string]any{"type": "pin", "id": id})
	a.ExpectError("forbidden")
	m.Send(map[string]any{"type": "pin", "id": id})
	if p := a.Expect("pinned"); p.Str("id") != id || p.Obj("message").Str("text") != "pin me" {
		t.Fatalf("pinned %v", p)
	}
	c := NewClient(t, env.Join(t, room, "carol", Grants{}))
	if p := c.Expect("pins"); len(p.List("messages")) != 1 || p.List("messages")[0].Str("id") != id {
		t.Fatalf("pins on attach %v", p)
	}
	m.Send(map[string]any{"type": "unpin", "id": id})
	a.Expect("unpinned")
}

// Mute: a moderator takes away and gives back the right to chat; it
// survives a reconnect; everyone sees it.
func Mute(t *testing.T, env Env, room string) {
	a := Join(t, env, room, "alice", Grants{})
	b := Join(t, env, room, "bob", Grants{})
	m := Join(t, env, room, "mod", Grants{Admin: true})
	a.Send(map[string]any{"type": "mute", "target": "bob"})
	a.ExpectError("forbidden")
	m.Send(map[string]any{"type": "mute", "target": "bob"})
	if e := b.Expect("muted"); e.Str("identity") != "bob" {
		t.Fatalf("muted %v", e)
	}
	a.Expect("muted")
	b.Chat("can I talk?", nil)
	b.ExpectError("muted")
	env.Leave(t, b.P)
	b2 := NewClient(t, env.Join(t, room, "bob", Grants{}))
	if p := b2.Expect("presence"); !p.Obj("self").Bool("muted") {
		t.Fatalf("mute lost on reconnect: %v", p)
	}
	b2.Chat("still muted?", nil)
	b2.ExpectError("muted")
	m.Send(map[string]any{"type": "unmute", "target": "bob"})
	b2.Expect("unmuted")
	b2.Say("back", nil)
}

// Kick: a moderator removes a participant; it is told, everyone sees it
// leave.
func Kick(t *testing.T, env Env, room string) {
	a := Join(t, env, room, "alice", Grants{})
	b := Join(t, env, room, "bob", Grants{})
	m := Join(t, env, room, "mod", Grants{Admin: true})
	b.Send(map[string]any{"type": "kick", "target": "alice"})
	b.ExpectError("forbidden")
	m.Send(map[string]any{"type": "kick", "target": "alice", "reason": "spam"})
	if k := a.Expect("kicked"); k.Str("reason") != "spam" {
		t.Fatalf("kicked %v", k)
	}
	if l := b.Expect("left"); l.Str("identity") != "alice" || !l.Bool("removed") {
		t.Fatalf("left %v", l)
	}
	m.Send(map[string]any{"type": "kick", "target": "alice"})
	m.ExpectError("not_found")
}

// Typing: started and stopped reach the others; a private indicator only
// its destinations.
func Typing(t *testing.T, env Env, room string) {
	a := Join(t, env, room, "alice", Grants{})
	b := Join(t, env, room, "bob", Grants{})
	c := Join(t, env, room, "carol", Grants{})
	a.Send(map[string]any{"type": "typing", "on": true})
	if p := b.Expect("typing"); p.Str("identity") != "alice" || !p.Bool("on") {
		t.Fatalf("typing %v", p)
	}
	a.Send(map[string]any{"type": "typing", "on": false})
	if p := b.Expect("typing"); len(p.Has("on")) > 0 {
		t.Fatalf("typing stop %v", p)
	}
	c.Expect("typing", func(p Packet) bool { return !p.Bool("on") })
	a.Send(map[string]any{"type": "typing", "on": true, "to": []string{"bob"}})
	b.Expect("typing", func(p Packet) bool { return p.Bool("on") })
	seen := Barrier(t, b, c)
	for _, p := range seen[0] {
		if p.Type() == "typing" {
			t.Fatalf("carol saw a private typing indicator: %v", p)
		}
	}
}

// Read: a read horizon reaches the room as identity + seq.
func Read(t *testing.T, env Env, room string) {
	a := Join(t, env, room, "alice", Grants{})
	b := Join(t, env, room, "bob", Grants{})
	_, seq := a.Say("read me", nil)
	b.Send(map[string]any{"type": "read", "seq": seq})
	if r := a.Expect("read"); r.Str("identity") != "bob" || r.Int("seq") != seq {
		t.Fatalf("read %v", r)
	}
	b.Send(map[string]any{"type": "read", "seq": seq + 1000})
	b.ExpectError("not_found")
}

// History: pages before a seq, oldest first, limit clamped to the maximum.
func History(t *testing.T, env Env, room string) {
	a := Join(t, env, room, "alice", Grants{})
	var seqs []int64
	for i := 0; i < 5; i++ {
		_, s := a.Say(fmt.Sprintf("m%d", i), nil)
		seqs = append(seqs, s)
	}
	a.Send(map[string]any{"type": "history", "before": seqs[3], "limit": 2, "clientId": "h1"})
	h := a.Expect("history", func(p Packet) bool { return p.Str("clientId") == "h1" })
	ms := h.List("messages")
	if len(ms) != 2 || ms[0].Int("seq") != seqs[1] || ms[1].Int("seq") != seqs[2] || !h.Bool("more") {
		t.Fatalf("page %v", h)
	}
	a.Send(map[string]any{"type": "history", "limit": 1000, "clientId": "h2"})
	h = a.Expect("history", func(p Packet) bool { return p.Str("clientId") == "h2" })
	if h.Int("limit") != 100 || len(h.List("messages")) != 5 || h.Bool("more") || h.Int("lastSeq") != seqs[4] {
		t.Fatalf("clamped page %v", h)
	}
	a.Send(map[string]any{"type": "history", "limit": 0})
	a.ExpectError("bad_packet")
}

// Presence: the attach list, joined and left, per identity.
func Presence(t *testing.T, env Env, room string) {
	a := Join(t, env, room, "alice", Grants{})
	b := NewClient(t, env.Join(t, room, "bob", Grants{Name: "Bob"}))
	p := b.Expect("presence")
	if p.Obj("self").Str("identity") != "bob" || len(p.List("participants")) != 2 {
		t.Fatalf("presence %v", p)
	}
	if j := a.Expect("joined"); j.Obj("participant").Str("name") != "Bob" {
		t.Fatalf("joined %v", j)
	}
	b2 := NewClient(t, env.Join(t, room, "bob", Grants{Name: "Bob"})) // a second tab
	b2.Expect("history")
	env.Leave(t, b2.P)
	env.Leave(t, b.P)
	if l := a.ExpectNext("left"); l.Str("identity") != "bob" {
		t.Fatalf("left %v", l)
	}
}

// Errors: every refusal is an error packet with a stable code, and the
// connection keeps working.
func Errors(t *testing.T, env Env, room string) {
	a := Join(t, env, room, "alice", Grants{})
	cases := []struct {
		pkt  any
		code string
	}{
		{"not json", "bad_packet"},
		{`[1,2]`, "bad_packet"},
		{`{"type":"chat","clientId":"x","text":"hi","sender":"bob"}`, "bad_packet"},
		{`{"type":"chat","clientId":"x","text":"hi","senderName":"Bob"}`, "bad_packet"},
		{`{"type":"chat","clientId":"x","text":"hi","from":"bob"}`, "bad_packet"},
		{`{"type":"chat","clientId":"x","text":"hi","identity":"bob"}`, "bad_packet"},
		{`{"type":"chat","text":"no client id"}`, "bad_packet"},
		{`{"type":"fly"}`, "unknown_type"},
		{`{"type":"chat","clientId":"x","text":"   "}`, "empty"},
		{`{"type":"chat","clientId":"x","text":"` + strings.Repeat("é", 2001) + `"}`, "too_long"},
		{`{"type":"chat","clientId":"x","kind":"image","attachmentId":"nope"}`, "not_found"},
		{`{"type":"delete","id":"01ARZ3NDEKTSV4RRFFQ69G5FAV"}`, "not_found"},
		{`{"type":"chat","clientId":"x","text":"` + strings.Repeat("a", 70000) + `"}`, "packet_too_large"},
	}
	for _, c := range cases {
		a.Send(c.pkt)
		e := a.ExpectError(c.code)
		if e.Str("message") == "" {
			t.Fatalf("error without message: %v", e)
		}
	}
	a.Send(`{"type":"chat","clientId":"echo-me","text":""}`)
	if e := a.ExpectError("empty"); e.Str("clientId") != "echo-me" {
		t.Fatalf("clientId not echoed: %v", e)
	}
	n := Join(t, env, room, "nochat", Grants{NoChat: true})
	n.Chat("hi", nil)
	n.ExpectError("forbidden")
	a.Say("still connected", nil)
}
