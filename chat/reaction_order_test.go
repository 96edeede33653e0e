package chat

import (
	"slices"
	"strings"
	"testing"

	"github.com/backchannel-rtc/backchannel/chat/chattest"
)

// reactionsOf is a message's reactions as "emoji:identity|identity".
func reactionsOf(m chattest.Packet) []string {
	var out []string
	for _, r := range m.List("reactions") {
		out = append(out, r.Str("emoji")+":"+strings.Join(r.Strings("identities"), "|"))
	}
	return out
}

// Reactions keep first-use order (not the emoji's byte order: 🎉 sorts
// before 👍), for a message in the room's memory and for one only in the
// store, in replay and in history; an emoji removed by its last reactor
// and added again goes last.
func TestReactionsKeepFirstUseOrder(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Window = 4
	cfg.ReplayMessages = 4
	cfg.Rate = 0
	env := newFakeEnv(t, cfg, nil)
	a := env.join("r", "alice", chattest.Grants{})
	b := env.join("r", "bob", chattest.Grants{Admin: true})
	send := func(text string) string {
		b.SendBytes([]byte(`{"type":"chat","clientId":"` + text + `","text":"` + text + `"}`))
		acks := ofType(packets(t, b), "ack")
		if len(acks) != 1 {
			t.Fatalf("no ack for %s", text)
		}
		return acks[0].Str("id")
	}
	react := func(c *fakeConn, id, emoji string, on bool) {
		on1 := "true"
		if !on {
			on1 = "false"
		}
		c.SendBytes([]byte(`{"type":"reaction","id":"` + id + `","emoji":"` + emoji + `","on":` + on1 + `}`))
		a.take()
		b.take()
	}
	old := send("old")
	for _, s := range []string{"f1", "f2", "f3", "f4", "f5"} {
		send(s) // "old" leaves the room's memory: its reactions go through the store
	}
	recent := send("recent")
	for _, id := range []string{old, recent} {
		react(a, id, "👍", true)
		react(b, id, "👍", true)
		react(b, id, "🎉", true)
		react(a, id, "❤️", true)
		react(a, id, "❤️", false) // gone with its last reactor…
		react(b, id, "❤️", true)  // …and back, last
	}
	want := []string{"👍:alice|bob", "🎉:bob", "❤️:bob"}
	c := env.join("r", "carol", chattest.Grants{})
	replay := ofType(packets(t, c), "history")
	if len(replay) != 1 {
		t.Fatal("no replay")
	}
	var seen int
	for _, m := range replay[0].List("messages") {
		if m.Str("id") == recent {
			seen++
			if got := reactionsOf(m); !slices.Equal(got, want) {
				t.Fatalf("replay: reactions %v, want %v", got, want)
			}
		}
	}
	c.SendBytes([]byte(`{"type":"history","limit":100,"before":1000}`))
	for _, m := range ofType(packets(t, c), "history")[0].List("messages") {
		if m.Str("id") == old || m.Str("id") == recent {
			seen++
			if got := reactionsOf(m); !slices.Equal(got, want) {
				t.Fatalf("history of %s: reactions %v, want %v", m.Str("text"), got, want)
			}
		}
	}
	if seen != 3 {
		t.Fatalf("saw the messages %d times, want 3", seen)
	}
}
