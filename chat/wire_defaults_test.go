package chat

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/backchannel-rtc/backchannel/chat/chattest"
	"github.com/backchannel-rtc/backchannel/protocol"
)

// nextOfType waits for c's next packet of type typ, raw.
func nextOfType(t *testing.T, c *fakeConn, typ string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for {
		b, err := c.Next(ctx)
		if err != nil {
			t.Fatalf("no %s packet: %v", typ, err)
		}
		if decode(t, b).Type() == typ {
			return b
		}
	}
}

// TestPlainMessageOnTheWire: the message event the server fans out for a
// plain 200-byte group text carries no field at its default (no kind,
// deleted, pinned, editedAt…), so it is 365 bytes at seq 1 (379 when kind
// was written), and its ack 114; a Go decoder still reads it as a text.
func TestPlainMessageOnTheWire(t *testing.T) {
	env := newFakeEnv(t, DefaultConfig(), nil)
	a := env.join("r", "bench-003", chattest.Grants{Name: "Bench 3"})
	b := env.join("r", "bench-004", chattest.Grants{Name: "Bench 4"})
	text := strings.Repeat("x", 200)
	a.SendBytes([]byte(`{"type":"chat","clientId":"m1234","text":"` + text + `"}`))
	raw := nextOfType(t, b, protocol.EventMessage)
	ack := nextOfType(t, a, protocol.EventAck)
	t.Logf("message event %d bytes, ack %d bytes", len(raw), len(ack))

	m := decode(t, raw).Obj("message")
	if has := m.Has("kind", "deleted", "pinned", "editedAt", "to", "replyTo", "reactions", "attachment", "e2ee"); len(has) > 0 {
		t.Errorf("the message carries %v at their defaults: %s", has, raw)
	}
	if has := m.Has("id", "seq", "sender", "senderName", "text", "createdAt"); len(has) != 6 {
		t.Errorf("the message lacks a field that is always written: %s", raw)
	}
	if len(raw) != 365 || len(ack) != 114 {
		t.Errorf("message event %d bytes (want 365), ack %d (want 114)", len(raw), len(ack))
	}
	var ev protocol.MessageEvent
	if err := json.Unmarshal(raw, &ev); err != nil || ev.Message.Kind != protocol.KindText || ev.Message.Text != text ||
		ev.Message.Deleted || ev.Message.Pinned || ev.Message.EditedAt != nil || ev.Message.Private() {
		t.Errorf("read back as %+v (%v)", ev.Message, err)
	}
}
