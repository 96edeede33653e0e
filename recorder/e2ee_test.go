package recorder

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/backchannel-rtc/backchannel/chat"
	"github.com/backchannel-rtc/backchannel/protocol/e2ee"
)

// testEnvelope is a well-formed envelope (the recorder does not validate:
// chat did) whose bytes say which message and version it is.
func testEnvelope(tag string) *e2ee.Envelope {
	return &e2ee.Envelope{Suite: e2ee.Suite, Nonce: "AAAAAAAAAAAAAAAA", Ciphertext: "Y2lwaGVy" + tag,
		Keys: []e2ee.SealedKey{{Identity: "alice", Enc: "BA==", Key: "a2V5"}, {Identity: "bob", Enc: "BA==", Key: "a2V5"}}}
}

// testE2EE: an encrypted message's envelope is stored and read back as it
// was written, through every insert path (one row, a batch, COPY on
// PostgreSQL), its edits replace it (in the same batch and later), a delete
// clears it, and the text column stays empty.
func testE2EE(t *testing.T, b backend) {
	r := openT(t, b.config(t))
	const room = "e2"
	enc := func(seq int64, sec int) chat.Change {
		c := msg(room, seq, "alice", "", sec, "bob")
		c.Message.E2EE = testEnvelope(fmt.Sprint(seq))
		return c
	}
	edit := func(seq int64, tag string, sec int) chat.Change {
		return chat.Change{Kind: chat.ChangeEdit, Room: room, MessageID: fmt.Sprintf("m%s%06d", room, seq),
			Identity: "alice", E2EE: testEnvelope(tag), At: at(sec)}
	}
	// One message alone, then a batch large enough for COPY, with an edit
	// of one of its messages folded in.
	writeAll(t, r, join(room, "alice", "Alice", 0), enc(1, 1))
	batch := []chat.Change{msg(room, 2, "alice", "clear", 2)}
	for seq := int64(3); seq < 43; seq++ {
		batch = append(batch, enc(seq, int(seq)))
	}
	batch = append(batch, edit(5, "edit5", 50))
	writeAll(t, r, batch...)
	writeAll(t, r, edit(1, "edit1", 60),
		chat.Change{Kind: chat.ChangeDelete, Room: room, MessageID: fmt.Sprintf("m%s%06d", room, 3), Identity: "alice", At: at(61)})

	got, err := r.History(ctxT(t), room, "", 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 42 {
		t.Fatalf("%d messages", len(got))
	}
	want := func(seq int64) string {
		switch seq {
		case 1:
			return "edit1"
		case 5:
			return "edit5"
		case 2, 3:
			return ""
		}
		return fmt.Sprint(seq)
	}
	for _, m := range got {
		w := want(m.Seq)
		switch {
		case w == "" && m.E2EE != nil:
			t.Errorf("seq %d: envelope %+v, want none", m.Seq, m.E2EE)
		case w != "" && (m.E2EE == nil || m.E2EE.Ciphertext != "Y2lwaGVy"+w):
			t.Errorf("seq %d: envelope %+v, want version %s", m.Seq, m.E2EE, w)
		case w != "" && (m.Text != "" || m.E2EE.Suite != e2ee.Suite || len(m.E2EE.Keys) != 2 || m.E2EE.Keys[1].Identity != "bob"):
			t.Errorf("seq %d read back as %+v", m.Seq, m)
		}
	}
	// Round trip through JSON: what the API and chat send is the envelope.
	m1, err := r.Message(ctxT(t), room, fmt.Sprintf("m%s%06d", room, 1))
	if err != nil {
		t.Fatal(err)
	}
	b1, _ := json.Marshal(m1)
	if !strings.Contains(string(b1), `"e2ee":{"suite":"bc-e2ee-v1"`) || m1.EditedAt == nil {
		t.Fatalf("message 1 as sent: %s", b1)
	}
}
