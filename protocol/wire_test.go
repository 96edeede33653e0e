package protocol_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/backchannel-rtc/backchannel/protocol"
)

// The ICE dictionaries are written by the server and read by browsers and
// Pion: they must encode exactly as Pion's own types did, and decode into
// them.
func TestICETypesMatchPion(t *testing.T) {
	for _, s := range []protocol.ICEServer{
		{URLs: []string{"stun:stun.example.org:3478"}, CredentialType: protocol.CredentialPassword},
		{URLs: []string{"turn:turn.example.org:3478?transport=udp"}, Username: "user", Credential: "pass", CredentialType: protocol.CredentialPassword},
	} {
		p := webrtc.ICEServer{URLs: s.URLs, Username: s.Username}
		if s.Credential != "" {
			p.Credential = s.Credential
		}
		ours, _ := json.Marshal(s)
		theirs, _ := json.Marshal(p)
		if string(ours) != string(theirs) {
			t.Errorf("ICEServer encodes as %s, Pion's as %s", ours, theirs)
		}
		var back webrtc.ICEServer
		if err := json.Unmarshal(ours, &back); err != nil || back.Username != s.Username || len(back.URLs) != 1 {
			t.Errorf("Pion cannot read %s: %v %+v", ours, err, back)
		}
	}
	mid, idx := "0", uint16(0)
	c := protocol.ICECandidate{Candidate: "candidate:1 1 udp 2130706431 192.0.2.7 51234 typ host", SDPMid: &mid, SDPMLineIndex: &idx}
	p := webrtc.ICECandidateInit{Candidate: c.Candidate, SDPMid: &mid, SDPMLineIndex: &idx}
	ours, _ := json.Marshal(c)
	theirs, _ := json.Marshal(p)
	if string(ours) != string(theirs) {
		t.Errorf("ICECandidate encodes as %s, Pion's as %s", ours, theirs)
	}
}

// A message and the packets that carry it encode as docs/protocol.md shows.
func TestMessageEncoding(t *testing.T) {
	at := time.Date(2026, 11, 22, 15, 2, 8, 994e6, time.UTC)
	m := &protocol.Message{ID: "01JD3Q4Z8V6W2T9K7M5N3P1R0S", Room: "r", Seq: 42, Sender: "alice", SenderName: "Alice",
		Kind: protocol.KindText, Text: "hello", To: []string{"bob"}, ClientID: "c-17", CreatedAt: at,
		Reactions: []protocol.Reaction{{Emoji: "👍", Identities: []string{"bob"}}}}
	b, err := json.Marshal(protocol.MessageEvent{Type: protocol.EventMessage, Message: m})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"type":"message","message":{"id":"01JD3Q4Z8V6W2T9K7M5N3P1R0S","seq":42,"sender":"alice","senderName":"Alice",` +
		`"text":"hello","to":["bob"],"createdAt":"2026-11-22T15:02:08.994Z","reactions":[{"emoji":"👍","identities":["bob"]}]}}`
	if string(b) != want {
		t.Errorf("got  %s\nwant %s", b, want)
	}
	c := m.Clone()
	c.Reactions[0].Identities[0] = "carol"
	c.To[0] = "carol"
	if m.Reactions[0].Identities[0] != "bob" || m.To[0] != "bob" {
		t.Error("Clone shares reactions or destinations with the original")
	}
	if !m.VisibleTo("bob") || !m.VisibleTo("alice") || m.VisibleTo("carol") {
		t.Error("VisibleTo: a private message is for its sender and destinations only")
	}
	r, _ := json.Marshal(protocol.ChatRequest("c-1", "hi"))
	if string(r) != `{"type":"chat","clientId":"c-1","text":"hi"}` {
		t.Errorf("ChatRequest encodes as %s", r)
	}
}

// TestTimesHaveThreeFractionDigits: a time on a whole 10 ms keeps its
// trailing zero, in a message, an ack and an edit, as in the CSV.
func TestTimesHaveThreeFractionDigits(t *testing.T) {
	at := time.Date(2026, 11, 22, 15, 2, 37, 50_000_000, time.UTC)
	for _, v := range []any{
		protocol.Message{ID: "x", CreatedAt: at, EditedAt: &at},
		protocol.AckEvent{Type: "ack", CreatedAt: at},
		protocol.EditedEvent{Type: "edited", EditedAt: at},
	} {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), `"2026-11-22T15:02:37.050Z"`) || strings.Contains(string(b), `37.05Z`) {
			t.Fatalf("%s", b)
		}
	}
}
