package chat

import (
	"testing"

	"github.com/backchannel-rtc/backchannel/chat/chattest"
)

// A moderator's mute outlives a restart (a new server on the same store),
// even in a room with no message yet, and so does the unmute.
func TestMuteSurvivesRestart(t *testing.T) {
	st := NewMemoryStore()
	env := newFakeEnv(t, DefaultConfig(), st)
	m := env.join("r", "mod", chattest.Grants{Admin: true})
	m.SendBytes([]byte(`{"type":"mute","target":"bob"}`)) // bob is not here
	if ps := ofType(packets(t, m), "muted"); len(ps) != 1 {
		t.Fatalf("mute not announced: %v", ps)
	}

	env2 := newFakeEnv(t, DefaultConfig(), st)
	b := env2.join("r", "bob", chattest.Grants{})
	if p := ofType(packets(t, b), "presence"); len(p) != 1 || !p[0].Obj("self").Bool("muted") {
		t.Fatalf("presence after restart does not say muted: %v", p)
	}
	b.SendBytes([]byte(`{"type":"chat","clientId":"k","text":"am I back?"}`))
	if e := ofType(packets(t, b), "error"); len(e) != 1 || e[0].Str("code") != "muted" {
		t.Fatalf("a muted participant chatted after a restart: %v", e)
	}
	m2 := env2.join("r", "mod", chattest.Grants{Admin: true})
	m2.SendBytes([]byte(`{"type":"unmute","target":"bob"}`))
	if ps := ofType(packets(t, b), "unmuted"); len(ps) != 1 {
		t.Fatalf("unmute not announced: %v", ps)
	}

	env3 := newFakeEnv(t, DefaultConfig(), st)
	b3 := env3.join("r", "bob", chattest.Grants{})
	b3.take()
	b3.SendBytes([]byte(`{"type":"chat","clientId":"k2","text":"back"}`))
	if acks := ofType(packets(t, b3), "ack"); len(acks) != 1 {
		t.Fatalf("the unmute did not outlive a restart")
	}
}
