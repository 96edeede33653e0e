package chat

import (
	"encoding/json"
	"testing"
	"unicode/utf8"
)

var fuzzSeeds = []string{
	`{"type":"chat","clientId":"c1","text":"hello"}`,
	`{"type":"chat","clientId":"c1","text":"hi","to":["bob","bob"],"replyTo":"01ARZ3NDEKTSV4RRFFQ69G5FAV"}`,
	`{"type":"chat","clientId":"c1","kind":"image","attachmentId":"a1","text":""}`,
	`{"type":"chat","clientId":"c1","text":"hi","sender":"mallory"}`,
	`{"type":"reaction","id":"01ARZ3NDEKTSV4RRFFQ69G5FAV","emoji":"👍","on":true}`,
	`{"type":"edit","id":"01ARZ3NDEKTSV4RRFFQ69G5FAV","text":"x"}`,
	`{"type":"delete","id":"01ARZ3NDEKTSV4RRFFQ69G5FAV"}`,
	`{"type":"pin","id":"01ARZ3NDEKTSV4RRFFQ69G5FAV"}`,
	`{"type":"mute","target":"bob"}`,
	`{"type":"kick","target":"bob","reason":"spam"}`,
	`{"type":"typing","on":true,"to":["bob"]}`,
	`{"type":"read","seq":3}`,
	`{"type":"history","before":10,"limit":1000}`,
	`{"type":"keys","to":["bob"],"clientId":"k"}`,
	`{"type":"chat","clientId":"c1","to":["bob"],"e2ee":{"suite":"bc-e2ee-v1","nonce":"AAAAAAAAAAAAAAAA","ct":"AAAAAAAAAAAAAAAAAAAAAAA=",` +
		`"keys":[{"identity":"alice","enc":"BAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=","key":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="},` +
		`{"identity":"bob","enc":"BAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=","key":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}]}}`,
	`{"type":"chat","clientId":"c1","to":["bob"],"e2ee":{"suite":"x","nonce":1}}`,
	`{"type":"edit","id":"01ARZ3NDEKTSV4RRFFQ69G5FAV","e2ee":{"suite":"bc-e2ee-v1","nonce":"","ct":"","keys":[]}}`,
	`{"type":"chat"} {}`,
	`[]`, `null`, `"chat"`, `{"type":1}`, "\xff\xfe", ``,
}

// FuzzParse: the parser never panics, and every input yields either a valid
// action or an error that encodes as an error packet.
func FuzzParse(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	cfg := DefaultConfig()
	f.Fuzz(func(t *testing.T, b []byte) {
		a, e := parse(b, &cfg)
		if e != nil {
			var p struct {
				Type, Code, Message string
			}
			pkt := errorPacket(e)
			if err := json.Unmarshal(pkt, &p); err != nil || p.Type != "error" || p.Code == "" || p.Message == "" {
				t.Fatalf("bad error packet %q for %q", pkt, b)
			}
			if !utf8.Valid(pkt) {
				t.Fatalf("error packet not UTF-8")
			}
			return
		}
		if a.op == 0 {
			t.Fatalf("no op and no error for %q", b)
		}
		if utf8.RuneCountInString(a.text) > cfg.MaxTextRunes || len(a.to) > cfg.MaxRecipients {
			t.Fatalf("limits not enforced for %q", b)
		}
		if a.op == opChat && (a.clientID == "" || (a.kind == KindText && a.text == "" && a.env == nil)) {
			t.Fatalf("chat without clientId or text accepted: %q", b)
		}
		if a.env != nil && (a.text != "" || (a.attachmentID != "") != (a.kind == KindFile) || (a.op == opChat && len(a.to) == 0)) {
			t.Fatalf("an envelope beside text or an attachment, or to everyone, accepted: %q", b)
		}
		if a.op == opHistory && (a.limit < 1 || a.limit > cfg.HistoryMax) {
			t.Fatalf("history limit %d", a.limit)
		}
	})
}

// FuzzReceive feeds arbitrary packets to a live session: nothing panics,
// every packet the server sends is valid JSON, and the session still works.
func FuzzReceive(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	cfg := DefaultConfig()
	cfg.Rate, cfg.TypingRate, cfg.ReadRate, cfg.MaxViolations = 0, 0, 0, -1
	env := newFakeEnv(f, cfg, nil)
	a := env.join("r", "alice", grantsAdmin)
	b := env.join("r", "bob", grantsPlain)
	f.Fuzz(func(t *testing.T, pkt []byte) {
		a.SendBytes(pkt)
		for _, c := range []*fakeConn{a, b} {
			for _, out := range c.take() {
				if !json.Valid(out) {
					t.Fatalf("server sent invalid JSON %q for %q", out, pkt)
				}
			}
		}
	})
}
