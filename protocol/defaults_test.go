package protocol_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/backchannel-rtc/backchannel/protocol"
	"github.com/backchannel-rtc/backchannel/protocol/e2ee"
)

// benchMessage is a 200-byte group text message as the bench sends it
// (identity bench-003, five-digit seq): the shape whose size issue 23
// measured at 383 bytes.
func benchMessage() *protocol.Message {
	return &protocol.Message{ID: "01JD3Q4Z8V6W2T9K7M5N3P1R0S", Room: "r", Seq: 12345, Sender: "bench-003",
		SenderName: "Bench 3", Kind: protocol.KindText, Text: strings.Repeat("x", 200), ClientID: "m1234",
		CreatedAt: time.Date(2026, 12, 4, 14, 2, 8, 994e6, time.UTC)}
}

// TestPlainMessageSize pins what a plain text message and its ack cost on
// the wire: every field at its default is left out (docs/protocol.md,
// "Absent fields"), so a 200-byte text's message event is 369 bytes (383
// when kind was written), its ack 118 (unchanged: every field of an ack is needed).
func TestPlainMessageSize(t *testing.T) {
	m := benchMessage()
	b, err := json.Marshal(protocol.MessageEvent{Type: protocol.EventMessage, Message: m})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"type":"message","message":{"id":"01JD3Q4Z8V6W2T9K7M5N3P1R0S","seq":12345,"sender":"bench-003","senderName":"Bench 3",` +
		`"text":"` + m.Text + `","createdAt":"2026-12-04T14:02:08.994Z"}}`
	if string(b) != want {
		t.Fatalf("got  %s\nwant %s", b, want)
	}
	a, err := json.Marshal(protocol.AckEvent{Type: protocol.EventAck, ClientID: m.ClientID, ID: m.ID, Seq: m.Seq, CreatedAt: m.CreatedAt})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("200-byte group text: message event %d bytes, ack %d bytes", len(b), len(a))
	if len(b) != 369 || len(a) != 118 {
		t.Errorf("message event %d bytes (want 369), ack %d (want 118)", len(b), len(a))
	}
}

// TestAbsentFieldsReadAsDefaults: what the server leaves out, a Go decoder
// reads back as the default, and every other kind survives the round trip.
func TestAbsentFieldsReadAsDefaults(t *testing.T) {
	for _, k := range []protocol.Kind{protocol.KindText, protocol.KindImage, protocol.KindFile} {
		m := benchMessage()
		m.Kind = k
		b, _ := json.Marshal(m)
		if k == protocol.KindText && strings.Contains(string(b), `"kind"`) {
			t.Errorf("a text message carries its kind: %s", b)
		}
		var back protocol.Message
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		if back.Kind != k || back.Text != m.Text || back.Deleted || back.Pinned || back.EditedAt != nil ||
			back.To != nil || back.ReplyTo != "" || back.Attachment != nil || back.Reactions != nil || back.E2EE != nil {
			t.Errorf("%s read back as %+v", k, back)
		}
	}
	// A tombstone: no text, no kind, deleted said.
	m := benchMessage()
	m.Text, m.Deleted = "", true
	b, _ := json.Marshal(m)
	if strings.Contains(string(b), `"text"`) || strings.Contains(string(b), `"kind"`) || !strings.Contains(string(b), `"deleted":true`) {
		t.Errorf("tombstone %s", b)
	}
	var back protocol.Message
	if err := json.Unmarshal(b, &back); err != nil || back.Text != "" || !back.Deleted || back.Kind != protocol.KindText {
		t.Errorf("tombstone read back as %+v (%v)", back, err)
	}
}

// TestEncryptedMessageHasNoText: an end-to-end encrypted message's content
// is its envelope; the empty text is left out, the envelope kept whole.
func TestEncryptedMessageHasNoText(t *testing.T) {
	m := benchMessage()
	m.Text, m.To = "", []string{"bob"}
	m.E2EE = &e2ee.Envelope{Suite: "bc-e2ee-v1"}
	b, _ := json.Marshal(m)
	if strings.Contains(string(b), `"text"`) || !strings.Contains(string(b), `"e2ee":{"suite":"bc-e2ee-v1"`) {
		t.Errorf("encrypted message %s", b)
	}
	var back protocol.Message
	if err := json.Unmarshal(b, &back); err != nil || !back.Encrypted() || back.Text != "" || back.Kind != protocol.KindText {
		t.Errorf("encrypted message read back as %+v (%v)", back, err)
	}
	e, _ := json.Marshal(protocol.EditedEvent{Type: protocol.EventEdited, ID: m.ID, Seq: m.Seq, E2EE: m.E2EE, EditedAt: m.CreatedAt})
	if strings.Contains(string(e), `"text"`) || !strings.Contains(string(e), `"e2ee"`) {
		t.Errorf("encrypted edit %s", e)
	}
}

// TestAdminMessageKeepsDefaults: the admin API's message object is another
// contract and keeps kind and text even at their defaults.
func TestAdminMessageKeepsDefaults(t *testing.T) {
	m := benchMessage()
	m.Text = ""
	b, err := m.MarshalJSONWithDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"kind":"text","text":"","createdAt"`) {
		t.Errorf("admin message %s", b)
	}
}

// TestEventDefaultsLeftOut: the other server packets leave out their
// fields at the default too, and keep those that are never implied.
func TestEventDefaultsLeftOut(t *testing.T) {
	for _, c := range []struct {
		v    any
		want string
	}{
		{protocol.ReactionEvent{Type: "reaction", ID: "m", Seq: 4, Emoji: "👍", Identity: "bob"},
			`{"type":"reaction","id":"m","seq":4,"emoji":"👍","identity":"bob"}`},
		{protocol.ReactionEvent{Type: "reaction", ID: "m", Seq: 4, Emoji: "👍", Identity: "bob", On: true},
			`{"type":"reaction","id":"m","seq":4,"emoji":"👍","identity":"bob","on":true}`},
		{protocol.TypingEvent{Type: "typing", Identity: "alice", Name: "Alice"},
			`{"type":"typing","identity":"alice","name":"Alice"}`},
		{protocol.KickedEvent{Type: "kicked", By: "mod"}, `{"type":"kicked","by":"mod"}`},
		// lastSeq 0 (an empty room) and an empty page are written.
		{protocol.HistoryEvent{Type: "history", Limit: 50, Messages: []*protocol.Message{}, Replay: true},
			`{"type":"history","limit":50,"messages":[],"lastSeq":0,"replay":true}`},
		{protocol.HistoryEvent{Type: "history", Before: 9, Limit: 2, Messages: []*protocol.Message{}, More: true, LastSeq: 12},
			`{"type":"history","before":9,"limit":2,"messages":[],"more":true,"lastSeq":12}`},
		// Grants are always stated.
		{protocol.Self{Participant: protocol.Participant{Identity: "bob", Name: "Bob"}},
			`{"identity":"bob","name":"Bob","canChat":false,"canPin":false}`},
		{protocol.ErrorEvent{Type: "error", Code: protocol.CodeEmpty, Message: "text is empty"},
			`{"type":"error","code":"empty","message":"text is empty"}`},
	} {
		b, err := json.Marshal(c.v)
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != c.want {
			t.Errorf("got  %s\nwant %s", b, c.want)
		}
	}
}
