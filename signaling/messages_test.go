package signaling

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/backchannel-rtc/backchannel/protocol/e2ee"
)

// aliceKey is DeriveKeyPair(0x01…01)'s public key (protocol/e2ee's fixed
// envelope), computed here so the test cannot hold a stale copy.
var aliceKey = func() string {
	k, err := e2ee.DeriveKey(bytes.Repeat([]byte{1}, 32))
	if err != nil {
		panic(err)
	}
	return k.Public().String()
}()

func TestDecode(t *testing.T) {
	ok := []string{
		`{"type":"join"}`,
		`{"type":"ping","timestamp":5}`,
		`{"type":"offer","target":"publisher","sdp":"v=0"}`,
		`{"type":"candidate","target":"subscriber","candidate":{"candidate":"candidate:1 1 udp 1 127.0.0.1 9 typ host"}}`,
		`{"type":"leave"}`,
		`{"type":"muteTrack","trackId":"AT_1","muted":true}`,
		`{"type":"muteTrack","trackId":"AT_1","muted":false}`,
		// The e2ee key of docs/e2ee.md's fixed vector (alice).
		`{"type":"join","e2eeKey":"` + aliceKey + `"}`,
	}
	for _, s := range ok {
		if _, err := Decode([]byte(s)); err != nil {
			t.Errorf("%s: %v", s, err)
		}
	}
	bad := []string{
		``, `{`, `[]`, `null`, `{"type":""}`, `{"type":"joined"}`, `{"type":"fly"}`,
		`{"type":"join","identity":"x","extra":1}`, `{"type":"join"} {"type":"join"}`,
		`{"type":"offer"}`, `{"type":"candidate"}`, `{"type":1}`,
		// Fields of the server's messages, valid JSON for Message but not
		// for what a client sends (issue 20, finding 7).
		`{"type":"join","identity":"x"}`, `{"type":"join","room":"other"}`,
		`{"type":"ping","sdp":"v=0"}`, `{"type":"offer","target":"publisher","sdp":"v=0","code":"x"}`,
		`{"type":"muteTrack","muted":true}`, `{"type":"muteTrack","trackId":"AT_1"}`,
		`{"type":"muteTrack","trackId":"AT_1","muted":"yes"}`, `{"type":"trackMuted","trackId":"AT_1","muted":true}`,
		`{"type":"activeSpeakers","speakers":[]}`,
		// e2eeKey: only on join, and only a P-256 point in canonical base64.
		`{"type":"ping","e2eeKey":"` + aliceKey + `"}`, `{"type":"join","e2eeKey":"AAAA"}`,
		`{"type":"join","e2eeKey":"` + strings.TrimRight(aliceKey, "=") + `"}`,
		`{"type":"join","e2eeKey":"BA` + aliceKey[2:] + `"}`, `{"type":"join","e2eeKey":5}`, `{"type":"muteTrack","trackId":"` + strings.Repeat("x", 257) + `","muted":true}`,
	}
	for _, s := range bad {
		if _, err := Decode([]byte(s)); !errors.Is(err, ErrBadMessage) {
			t.Errorf("%q: got %v, want ErrBadMessage", s, err)
		}
	}
}

// FuzzDecode: any input is either a valid client message, which then
// survives a marshal/decode round trip, or ErrBadMessage; never a panic.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"type":"join"}`, `{"type":"offer","target":"publisher","sdp":"v=0\r\n"}`,
		`{"type":"candidate","target":"publisher","candidate":{"candidate":"c","sdpMid":"0","sdpMLineIndex":0}}`,
		`{"type":"ping","timestamp":-1}`, `{"type":"join","x":1}`, `{"type":"\u0000"}`, `{"type":"leave"}{}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Decode(b)
		if err != nil {
			if !errors.Is(err, ErrBadMessage) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if m.Type == "" {
			t.Fatal("accepted a message without type")
		}
		again, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		m2, err := Decode(again)
		if err != nil && utf8.Valid(b) {
			t.Fatalf("round trip of %s: %v", again, err)
		}
		if err == nil && m2.Type != m.Type {
			t.Fatalf("type changed: %q → %q", m.Type, m2.Type)
		}
	})
}
