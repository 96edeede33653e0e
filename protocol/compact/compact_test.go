package compact

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/backchannel-rtc/backchannel/protocol"
)

const id1, id2 = "01JD3Q4Z8V6W2T9K7M5N3P1R0S", "01JD3Q4Z8V6W2T9K7M5N3P1R0T"

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Every server packet comes back from the compact encoding as the JSON it
// was: byte for byte for the packets with integer keys, as the same JSON
// value for the generic ones.
func TestRoundTrip(t *testing.T) {
	at := time.Date(2026, 12, 4, 17, 4, 20, 457_000_000, time.UTC)
	edited := at.Add(time.Minute)
	text := strings.Repeat("x", 200)
	typedCases := map[string]any{
		"group message": protocol.MessageEvent{Type: "message", Message: &protocol.Message{ID: id1, Seq: 42,
			Sender: "alice", SenderName: "Alice", Kind: protocol.KindText, Text: text, CreatedAt: at}},
		"private reply, edited, pinned": protocol.MessageEvent{Type: "message", Message: &protocol.Message{ID: id2,
			Seq: 43, Sender: "bob", SenderName: "Bob", Kind: protocol.KindText, Text: "hé ✓", To: []string{"alice", "carol"},
			ReplyTo: id1, CreatedAt: at, EditedAt: &edited, Pinned: true}},
		"tombstone": protocol.MessageEvent{Type: "message", Message: &protocol.Message{ID: id1, Seq: 1,
			Sender: "alice", SenderName: "", Kind: protocol.KindText, CreatedAt: at, Deleted: true}},
		"ack": protocol.AckEvent{Type: "ack", ClientID: "c-17", ID: id1, Seq: 42, CreatedAt: at},
	}
	for name, v := range typedCases {
		j := mustJSON(t, v)
		c, err := FromJSON(j)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if c[0]>>5 != 5 || !bytes.Contains(c[:3], []byte{0x00}) {
			t.Errorf("%s: not encoded with integer keys: % x", name, c[:8])
		}
		back, err := ToJSON(c)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !bytes.Equal(back, j) {
			t.Errorf("%s:\n got %s\nwant %s", name, back, j)
		}
	}

	genericCases := map[string]any{
		"image message": protocol.MessageEvent{Type: "message", Message: &protocol.Message{ID: id1, Seq: 5,
			Sender: "alice", SenderName: "Alice", Kind: protocol.KindImage, CreatedAt: at,
			Attachment: &protocol.Attachment{ID: "att1", Name: "a.png", ContentType: "image/png", Size: 1234, Image: true, Width: 640, Height: 480}}},
		"reactions": protocol.MessageEvent{Type: "message", Message: &protocol.Message{ID: id1, Seq: 6,
			Sender: "alice", SenderName: "Alice", Kind: protocol.KindText, Text: "hi", CreatedAt: at,
			Reactions: []protocol.Reaction{{Emoji: "👍", Identities: []string{"bob"}}}}},
		"not a ULID id": protocol.MessageEvent{Type: "message", Message: &protocol.Message{ID: "m-1", Seq: 7,
			Sender: "alice", SenderName: "Alice", Kind: protocol.KindText, Text: "hi", CreatedAt: at}},
		"change ack": protocol.ChangeAckEvent{Type: "ack", ClientID: "r-3", ID: id1, Seq: 42},
		"error":      protocol.ErrorEvent{Type: "error", Code: "bad_packet", Message: "missing type", ClientID: "c-1"},
		"presence": json.RawMessage(`{"type":"presence","participants":[{"identity":"a","name":"A"}],"lastSeq":9007199254740993}`),
	}
	for name, v := range genericCases {
		j := mustJSON(t, v)
		c, err := FromJSON(j)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		back, err := ToJSON(c)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var want, got any
		_ = json.Unmarshal(j, &want)
		_ = json.Unmarshal(back, &got)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s:\n got %s\nwant %s", name, back, j)
		}
	}
}

// The point of the encoding: a 200-byte text's event fits four to an SCTP
// packet (1,200 bytes less a 12-byte header, 16 bytes per DATA chunk and
// its padding) where the JSON one fits three.
func TestPlainMessageIsSmall(t *testing.T) {
	j := mustJSON(t, protocol.MessageEvent{Type: "message", Message: &protocol.Message{ID: id1, Seq: 123456,
		Sender: "bench-3", SenderName: "bench-3", Kind: protocol.KindText, Text: strings.Repeat("x", 200),
		CreatedAt: time.Now()}})
	c, err := FromJSON(j)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("message event: JSON %d bytes, compact %d bytes", len(j), len(c))
	if per := 16 + (len(c)+3)/4*4; 4*per > 1200-12 {
		t.Errorf("compact event is %d bytes: four do not fit an SCTP packet", len(c))
	}
}

func TestToJSONRefusesWhatIsNotAPacket(t *testing.T) {
	for _, b := range [][]byte{nil, []byte(`{"type":"chat"}`), {0x82, 0x01, 0x02}, {0xa1, 0x00}, {0xa1, 0x00, 0x09},
		{0xbf, 0x61}, {0xa1, 0x61, 0x61, 0x9f, 0x9f, 0x9f}} {
		if j, err := ToJSON(b); err == nil {
			t.Errorf("ToJSON(% x) = %s, want an error", b, j)
		}
	}
}
