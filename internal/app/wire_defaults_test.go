package app_test

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/backchannel-rtc/backchannel/client"
	"github.com/backchannel-rtc/backchannel/internal/app"
	"github.com/backchannel-rtc/backchannel/protocol"
)

// defaultsPeer is a Go client that keeps the raw chat packets and what
// its OnMessage read.
type defaultsPeer struct {
	c    *client.Client
	mu   sync.Mutex
	raw  [][]byte
	read map[string]protocol.Message // message id → as OnMessage got it
}

func joinDefaults(t *testing.T, a *app.App, room, identity string) *defaultsPeer {
	p := &defaultsPeer{read: map[string]protocol.Message{}}
	p.c = join(t, a, room, identity, client.Options{
		OnMessage: func(r client.Received) {
			p.mu.Lock()
			p.read[r.Message.ID] = *r.Message
			p.mu.Unlock()
		},
		OnChat: func(b []byte) {
			p.mu.Lock()
			p.raw = append(p.raw, b)
			p.mu.Unlock()
		},
	})
	return p
}

// message is what OnMessage read of the message whose text is text, or
// of id when text is "".
func (p *defaultsPeer) message(id, text string) (protocol.Message, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for k, m := range p.read {
		if (text != "" && m.Text == text) || (text == "" && k == id) {
			return m, true
		}
	}
	return protocol.Message{}, false
}

// rawWith returns the raw packets of type typ that contain needle.
func (p *defaultsPeer) rawWith(typ, needle string) [][]byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out [][]byte
	for _, b := range p.raw {
		if bytes.HasPrefix(b, []byte(`{"type":"`+typ+`"`)) && bytes.Contains(b, []byte(needle)) {
			out = append(out, b)
		}
	}
	return out
}

// TestGoClientReadsDefaults: over real data channels the server leaves
// out kind, deleted, editedAt… of a plain 200-byte text message, and text
// and kind of a tombstone; the Go client reads them back as their
// defaults, live and in a late joiner's replay.
func TestGoClientReadsDefaults(t *testing.T) {
	a := startServer(t, nil, nil)
	const room = "defaults"
	bob := joinDefaults(t, a, room, "bob")
	alice := join(t, a, room, "alice", client.Options{})
	text := strings.Repeat("x", 200)
	for i, s := range []string{text, "a mistake"} {
		b, _ := json.Marshal(protocol.ChatRequest("c"+strconv.Itoa(i), s))
		if err := alice.SendChat(b); err != nil {
			t.Fatal(err)
		}
	}
	var plain, oops protocol.Message
	eventually(t, 10*time.Second, "bob reads both messages", func() bool {
		var ok1, ok2 bool
		plain, ok1 = bob.message("", text)
		oops, ok2 = bob.message("", "a mistake")
		return ok1 && ok2
	})
	raw := bob.rawWith(protocol.EventMessage, text)
	if len(raw) != 1 {
		t.Fatalf("bob's message packets: %d", len(raw))
	}
	for _, f := range []string{`"kind"`, `"deleted"`, `"pinned"`, `"editedAt"`, `"to"`, `"replyTo"`, `"reactions"`, `"e2ee"`} {
		if bytes.Contains(raw[0], []byte(f)) {
			t.Errorf("a plain text message carries %s: %s", f, raw[0])
		}
	}
	if plain.Kind != protocol.KindText || plain.Deleted || plain.EditedAt != nil || plain.Private() {
		t.Errorf("the Go client read %+v", plain)
	}

	del, _ := json.Marshal(protocol.Request{Type: protocol.PacketDelete, ID: &oops.ID})
	if err := alice.SendChat(del); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "the delete", func() bool { return len(bob.rawWith(protocol.EventDeleted, oops.ID)) == 1 })

	carol := joinDefaults(t, a, room, "carol")
	var tomb protocol.Message
	eventually(t, 10*time.Second, "carol's replay", func() bool {
		var ok bool
		tomb, ok = carol.message(oops.ID, "")
		return ok
	})
	if tomb.Kind != protocol.KindText || tomb.Text != "" || !tomb.Deleted || tomb.Seq != oops.Seq {
		t.Errorf("the tombstone read as %+v", tomb)
	}
	if m, ok := carol.message("", text); !ok || m.Kind != protocol.KindText {
		t.Errorf("the replayed text read as %+v", m)
	}
	// The replay's only tombstone is the one message without text.
	h := carol.rawWith(protocol.EventHistory, oops.ID)
	if len(h) != 1 || bytes.Contains(h[0], []byte(`"kind"`)) || bytes.Contains(h[0], []byte(`"text":""`)) ||
		!bytes.Contains(h[0], []byte(`"deleted":true`)) {
		t.Errorf("carol's replay: %s", h)
	}
}
