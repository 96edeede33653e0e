package chat

import (
	"fmt"
	"testing"

	"github.com/backchannel-rtc/backchannel/chat/chattest"
)

func TestRateLimits(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Rate, cfg.Burst = 1, 3
	cfg.TypingRate, cfg.TypingBurst = 1, 1
	env := newFakeEnv(t, cfg, nil)
	a := env.join("r", "alice", chattest.Grants{})
	a.take()
	for i := 0; i < 4; i++ {
		a.SendBytes([]byte(`{"type":"chat","clientId":"k` + itoa(int64(i)) + `","text":"x"}`))
	}
	a.SendBytes([]byte(`{"type":"typing","on":true}`)) // separate bucket: allowed
	a.SendBytes([]byte(`{"type":"typing","on":false}`))
	ps := packets(t, a)
	errs := ofType(ps, "error")
	if len(ofType(ps, "ack")) != 3 || len(errs) != 2 {
		t.Fatalf("%v", ps)
	}
	for _, e := range errs {
		if e.Str("code") != "rate_limited" || e.Int("retryAfterMs") <= 0 {
			t.Fatalf("%v", e)
		}
	}
	if errs[0].Str("clientId") != "k3" {
		t.Fatalf("rate_limited must echo the clientId: %v", errs[0])
	}
}

func TestViolationsCloseConnection(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxViolations = 3
	env := newFakeEnv(t, cfg, nil)
	a := env.join("r", "alice", chattest.Grants{})
	a.SendBytes([]byte(`garbage`))
	a.SendBytes([]byte(`{"type":"read","seq":0}`)) // bad_packet too
	if a.closedReason() != "" {
		t.Fatalf("closed too early")
	}
	a.SendBytes([]byte(`{"type":"history"}`)) // valid: resets the count
	a.SendBytes([]byte(`{"type":"nope"}`))    // unknown_type is not a violation
	a.SendBytes([]byte(`garbage`))
	a.SendBytes([]byte(`garbage`))
	if a.closedReason() != "" {
		t.Fatalf("closed although the count was reset")
	}
	a.SendBytes([]byte(`{"text":1}`))
	if a.closedReason() != "protocol violation" {
		t.Fatalf("not closed after 3 consecutive violations")
	}
}

// TestRoomRateLimit: connections each within their own limit are still held
// by the room's, so many connections cannot flood a room together.
func TestRoomRateLimit(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Rate, cfg.Burst = 0, 0 // per-connection off: only the room's bucket
	cfg.RoomRate, cfg.RoomBurst = 1, 5
	env := newFakeEnv(t, cfg, nil)
	a := chattest.Join(t, env, "flood", "alice", chattest.Grants{})
	b := chattest.Join(t, env, "flood", "bob", chattest.Grants{})
	for i := range 3 {
		a.Chat(fmt.Sprintf("a%d", i), nil)
		b.Chat(fmt.Sprintf("b%d", i), nil)
	}
	// 6 packets against a room burst of 5: the last is refused.
	e := b.Expect("error")
	if e.Str("code") != "rate_limited" || e.Int("retryAfterMs") <= 0 {
		t.Fatalf("no retry-after: %v", e)
	}
}

// TestRefusedPacketEchoesClientID: even a packet the strict parser refuses
// for an unknown field or a wrong type names its clientId in the error.
func TestRefusedPacketEchoesClientID(t *testing.T) {
	env := newFakeEnv(t, DefaultConfig(), nil)
	a := chattest.Join(t, env, "echo", "alice", chattest.Grants{})
	a.Send(`{"type":"chat","clientId":"c-unknown","text":"hi","colour":"red"}`)
	if e := a.ExpectError("bad_packet"); e.Str("clientId") != "c-unknown" {
		t.Fatalf("unknown field: %v", e)
	}
	a.Send(`{"type":"chat","clientId":"c-type","text":42}`)
	if e := a.ExpectError("bad_packet"); e.Str("clientId") != "c-type" {
		t.Fatalf("wrong type: %v", e)
	}
}
