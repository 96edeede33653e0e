package app_test

import (
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"

	"github.com/backchannel-rtc/backchannel/client"
	"github.com/backchannel-rtc/backchannel/protocol/compact"
)

// packets keeps the JSON packets a client saw.
type packets struct {
	mu  sync.Mutex
	all []map[string]any
}

func (p *packets) add(b []byte) {
	var m map[string]any
	if json.Unmarshal(b, &m) == nil {
		p.mu.Lock()
		p.all = append(p.all, m)
		p.mu.Unlock()
	}
}

// find counts the packets of type typ whose field key (inside "message"
// for a message event) equals value.
func (p *packets) find(typ, key string, value any) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, m := range p.all {
		if m["type"] != typ {
			continue
		}
		f := m
		if inner, ok := m["message"].(map[string]any); ok && typ == "message" {
			f = inner
		}
		if f[key] == value {
			n++
		}
	}
	return n
}

// A client that asks for the compact encoding and one that speaks JSON
// share a room: each sees the other's messages (group and private), the
// compact one gets its acks, everything the server sent it is CBOR, it may
// send either encoding, and a packet that is neither is refused as
// bad_packet with its connection kept.
func TestCompactEncodingBesideJSON(t *testing.T) {
	a := startServer(t, nil, nil)
	var cara, jon packets
	var rawMu sync.Mutex
	var raw [][]byte
	c := join(t, a, "compact", "cara", client.Options{Compact: true, OnChat: cara.add, OnCompactChat: func(b []byte) {
		rawMu.Lock()
		raw = append(raw, b)
		rawMu.Unlock()
	}})
	j := join(t, a, "compact", "jon", client.Options{OnChat: jon.add})
	eventually(t, 10*time.Second, "jon's chat attached", func() bool { return jon.find("presence", "type", "presence") == 1 })

	send := func(cl *client.Client, b []byte) {
		t.Helper()
		if err := cl.SendChat(b); err != nil {
			t.Fatal(err)
		}
	}
	send(c, []byte(`{"type":"chat","clientId":"c1","text":"JSON from a compact client"}`))
	pkt, err := cbor.Marshal(map[string]any{"type": "chat", "clientId": "c2", "text": "CBOR from a compact client"})
	if err != nil {
		t.Fatal(err)
	}
	send(c, pkt)
	send(j, []byte(`{"type":"chat","clientId":"j1","text":"private to cara","to":["cara"]}`))
	send(j, []byte(`{"type":"chat","clientId":"j2","text":"for everyone"}`))

	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("cara saw %v\njon saw %v", cara.all, jon.all)
		}
	})
	eventually(t, 10*time.Second, "both see every message", func() bool {
		return jon.find("message", "text", "JSON from a compact client") == 1 &&
			jon.find("message", "text", "CBOR from a compact client") == 1 &&
			cara.find("message", "text", "private to cara") == 1 &&
			cara.find("message", "text", "for everyone") == 1 &&
			cara.find("ack", "clientId", "c1") == 1 && cara.find("ack", "clientId", "c2") == 1
	})
	if n := cara.find("message", "to", nil); n < 3 { // her own two and jon's group message
		t.Errorf("cara saw %d group messages, want 3", n)
	}

	send(c, []byte{0xff, 0x00, 0x01})
	eventually(t, 10*time.Second, "bad packet refused", func() bool { return cara.find("error", "code", "bad_packet") == 1 })
	send(c, []byte(`{"type":"chat","clientId":"c3","text":"still here"}`))
	eventually(t, 10*time.Second, "connection kept", func() bool {
		return cara.find("ack", "clientId", "c3") == 1 && jon.find("message", "text", "still here") == 1
	})

	rawMu.Lock()
	defer rawMu.Unlock()
	typed := 0
	for _, b := range raw {
		if len(b) == 0 || b[0] == '{' {
			t.Fatalf("the compact client was sent JSON: %s", b)
		}
		if _, err := compact.ToJSON(b); err != nil {
			t.Fatalf("undecodable packet % x: %v", b, err)
		}
		if p, ok := compact.DecodePlain(b); ok && p.Type == "message" {
			typed++
		}
	}
	if typed < 4 {
		t.Errorf("%d message events with integer keys, want at least 4", typed)
	}
}
