package app_test

// Hostile input through the real server (SECURITY.md): on the signaling
// WebSocket and on the chat data channel, oversized, deeply nested and huge
// JSON, invalid UTF-8, unknown fields and wrong types each get their error,
// the connection survives where the protocol says it does, and the
// server's heap stays bounded across a burst of them.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/backchannel-rtc/backchannel/chat/chattest"
	"github.com/backchannel-rtc/backchannel/client"
	"github.com/backchannel-rtc/backchannel/protocol"
)

// heapNow is the live heap after a full collection.
func heapNow() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

const heapSlack = 24 << 20 // generous: the race detector and Pion buffers

// nested is n opening brackets: JSON nested n levels deep (never closed).
func nested(n int) []byte { return bytes.Repeat([]byte("["), n) }

func TestHostileSignalingInput(t *testing.T) {
	a := startServer(t, nil, nil)
	tok, _ := a.Token("hostile", "mallory", "", false)
	ws, _, _ := dial(t, a, tok, nil)
	if ws == nil {
		t.Fatal("refused")
	}
	defer ws.Close()
	read := func() protocol.Signal {
		t.Helper()
		var m protocol.Signal
		_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
		if err := ws.ReadJSON(&m); err != nil {
			t.Fatalf("read: %v", err)
		}
		return m
	}
	expect := func(typ string, code protocol.Code) protocol.Signal {
		t.Helper()
		for {
			m := read()
			if m.Type == protocol.SignalOffer || m.Type == protocol.SignalParticipantJoined {
				continue // room events are not what this test looks at
			}
			if m.Type != typ || m.Code != code {
				t.Fatalf("got %+v, want %s %s", m, typ, code)
			}
			return m
		}
	}
	write := func(kind int, b []byte) {
		t.Helper()
		_ = ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
		if err := ws.WriteMessage(kind, b); err != nil {
			t.Fatalf("write: %v", err)
		}
	}
	big := strings.Repeat("A", 250<<10)
	hostile := []struct {
		name string
		kind int
		b    []byte
	}{
		{"100,000 levels of [", websocket.TextMessage, nested(100000)},
		{"255 KiB of [", websocket.TextMessage, nested(255 << 10)},
		{"huge JSON, unknown type", websocket.TextMessage, []byte(`{"type":"nope","sdp":"` + big + `"}`)},
		{"huge array", websocket.TextMessage, []byte("[" + strings.Repeat("1,", 120<<10) + "1]")},
		{"unknown field", websocket.TextMessage, []byte(`{"type":"ping","timestamp":1,"sender":"alice"}`)},
		{"wrong type", websocket.TextMessage, []byte(`{"type":"ping","timestamp":"soon"}`)},
		{"type not a string", websocket.TextMessage, []byte(`{"type":7}`)},
		{"trailing data", websocket.TextMessage, []byte(`{"type":"ping"} {"type":"ping"}`)},
		{"not an object", websocket.TextMessage, []byte(`"join"`)},
		{"binary frame", websocket.BinaryMessage, []byte(`{"type":"join"}`)},
		{"empty", websocket.TextMessage, nil},
	}
	// Before join and after: each is answered with bad_message and the
	// socket stays open.
	for _, phase := range []string{"before join", "after join"} {
		for _, h := range hostile {
			write(h.kind, h.b)
			m := expect(protocol.SignalError, "bad_message")
			if len(m.Message) > 1024 {
				t.Errorf("%s %s: error message of %d bytes echoes the input", phase, h.name, len(m.Message))
			}
		}
		if phase == "before join" {
			write(websocket.TextMessage, []byte(`{"type":"join"}`))
			expect(protocol.SignalJoined, "")
		}
	}
	// Invalid UTF-8 inside a string, in a field a ping does not carry: the
	// field is refused (issue 20, finding 7: a client message carries only
	// its own fields) and the socket stays.
	write(websocket.TextMessage, []byte("{\"type\":\"ping\",\"timestamp\":5,\"reason\":\"\xff\xfe\"}"))
	expect(protocol.SignalError, "bad_message")
	write(websocket.TextMessage, []byte(`{"type":"ping","timestamp":5}`))
	if m := expect(protocol.SignalPong, ""); m.Timestamp != 5 {
		t.Fatalf("pong %+v", m)
	}

	// A burst of large bad messages: the heap stays bounded.
	before := heapNow()
	const burst = 60
	for i := range burst {
		write(websocket.TextMessage, hostile[i%4].b)
		expect(protocol.SignalError, "bad_message")
	}
	after := heapNow()
	t.Logf("signaling: %d bad messages of 100–255 KiB (%.1f MiB): heap %.1f → %.1f MiB",
		burst, float64(burst*200<<10)/(1<<20), float64(before)/(1<<20), float64(after)/(1<<20))
	if after > before+heapSlack {
		t.Errorf("heap grew from %d to %d bytes over the burst", before, after)
	}
	write(websocket.TextMessage, []byte(`{"type":"ping","timestamp":9}`))
	expect(protocol.SignalPong, "")

	// Over the 256 KiB read limit: closed with a close frame (1009,
	// message too big), without the server reading the frame into memory.
	before = heapNow()
	_ = ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
	_ = ws.WriteMessage(websocket.TextMessage, bytes.Repeat([]byte("x"), 8<<20)) // may fail: the server hangs up
	var closeErr *websocket.CloseError
	for {
		_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, _, err := ws.ReadMessage()
		if err == nil {
			continue
		}
		if !errors.As(err, &closeErr) {
			t.Fatalf("socket ended without a close frame: %v", err)
		}
		break
	}
	if closeErr.Code != websocket.CloseMessageTooBig {
		t.Fatalf("close code %d, want %d", closeErr.Code, websocket.CloseMessageTooBig)
	}
	after = heapNow()
	t.Logf("signaling: an 8 MiB frame closed the socket with %d; heap %.1f → %.1f MiB",
		closeErr.Code, float64(before)/(1<<20), float64(after)/(1<<20))
	if after > before+heapSlack {
		t.Errorf("heap grew from %d to %d bytes after an 8 MiB frame", before, after)
	}
	eventually(t, 10*time.Second, "mallory gone", func() bool { _, ps := a.SFU.Counts(); return ps == 0 })

	// Just over the limit, before join: the same.
	ws2, _, _ := dial(t, a, tok, nil)
	if ws2 == nil {
		t.Fatal("refused")
	}
	defer ws2.Close()
	_ = ws2.WriteMessage(websocket.TextMessage, []byte(`{"type":"join","sdp":"`+strings.Repeat("x", 256<<10)+`"}`))
	_ = ws2.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, _, err := ws2.ReadMessage()
	if !websocket.IsCloseError(err, websocket.CloseMessageTooBig) {
		t.Fatalf("257 KiB before join: %v, want close 1009", err)
	}
}

func TestHostileChatInput(t *testing.T) {
	a := startServer(t, nil, nil)
	env := &wireEnv{a: a}
	room := "hostile-chat"
	mal := chattest.Join(t, env, room, "mallory", chattest.Grants{})
	bob := chattest.Join(t, env, room, "bob", chattest.Grants{})

	huge := `{"type":"chat","clientId":"h1","text":"` + strings.Repeat("a", 200<<10) + `"}`
	cases := []struct {
		name, packet, code, clientID string
	}{
		{"invalid UTF-8", "{\"type\":\"chat\",\"clientId\":\"u1\",\"text\":\"\xff\xfe\"}", "bad_packet", ""},
		{"invalid UTF-8 in a key", "{\"type\":\"chat\",\"clientId\":\"u2\",\"te\xffxt\":\"hi\"}", "bad_packet", ""},
		{"unknown field", `{"type":"chat","clientId":"u3","text":"hi","colour":"red"}`, "bad_packet", ""},
		{"server-owned field", `{"type":"chat","clientId":"u4","text":"hi","sender":"bob"}`, "bad_packet", ""},
		{"wrong type: text", `{"type":"chat","clientId":"u5","text":5}`, "bad_packet", ""},
		{"wrong type: to", `{"type":"chat","clientId":"u6","text":"hi","to":"bob"}`, "bad_packet", ""},
		{"wrong type: clientId", `{"type":"chat","clientId":{"a":1},"text":"hi"}`, "bad_packet", ""},
		{"wrong type: type", `{"type":["chat"],"clientId":"u7","text":"hi"}`, "bad_packet", ""},
		{"not an object", `[1,2,3]`, "bad_packet", ""},
		{"trailing data", `{"type":"read","seq":1}{"type":"read","seq":1}`, "bad_packet", ""},
		{"60,000 levels of [ (under 64 KiB)", string(nested(60000)), "bad_packet", ""},
		{"nested objects", strings.Repeat(`{"a":`, 12000), "bad_packet", ""},
		{"100,000 levels of [", string(nested(100000)), "packet_too_large", ""},
		{"huge JSON (200 KiB)", huge, "packet_too_large", ""},
		{"empty", ``, "bad_packet", ""},
		{"unknown type", `{"type":"shout","clientId":"u8"}`, "unknown_type", "u8"},
		{"integer overflow", `{"type":"read","seq":99999999999999999999999}`, "bad_packet", ""},
	}
	for _, c := range cases {
		mal.Send(c.packet)
		p := mal.ExpectError(c.code)
		if c.clientID != "" && p.Str("clientId") != c.clientID {
			t.Errorf("%s: clientId %q, want %q", c.name, p.Str("clientId"), c.clientID)
		}
		if len(p.Str("message")) > 512 {
			t.Errorf("%s: error message of %d bytes", c.name, len(p.Str("message")))
		}
	}
	// One bad packet never closes: after 17 violations in a row (and an
	// unknown type, which is not one) the connection still works.
	id := mal.Chat("still here", nil)
	mal.Expect("ack", func(p chattest.Packet) bool { return p.Str("clientId") == id })
	bob.Expect("message", func(p chattest.Packet) bool { return p.Obj("message").Str("text") == "still here" })

	// History: huge limits are clamped and the reply says so; nonsense is
	// refused.
	mal.Send(`{"type":"history","limit":1000000,"clientId":"h-big"}`)
	h := mal.Expect("history", func(p chattest.Packet) bool { return p.Str("clientId") == "h-big" })
	if h.Int("limit") != 100 {
		t.Errorf("history limit 1000000 answered with limit %d, want 100", h.Int("limit"))
	}
	mal.Send(`{"type":"history","before":9223372036854775807,"limit":101,"clientId":"h-far"}`)
	if h := mal.Expect("history", func(p chattest.Packet) bool { return p.Str("clientId") == "h-far" }); h.Int("limit") != 100 || len(h.List("messages")) != 1 {
		t.Errorf("history before max int64: %v", h)
	}
	for _, bad := range []string{
		`{"type":"history","limit":0,"clientId":"hb1"}`,
		`{"type":"history","limit":-5,"clientId":"hb2"}`,
		`{"type":"history","limit":"100","clientId":"hb3"}`,
		`{"type":"history","limit":1e3,"clientId":"hb4"}`,
		`{"type":"history","limit":99999999999999999999,"clientId":"hb5"}`,
		`{"type":"history","before":-1,"clientId":"hb6"}`,
	} {
		mal.Send(bad)
		mal.ExpectError("bad_packet")
	}

	// A burst of large bad packets (with a valid one every 10, so the
	// violation limit is not reached): every one answered, heap bounded.
	before := heapNow()
	const burst = 120
	bursty := []string{string(nested(60000)), string(nested(100000)), huge,
		`{"type":"chat","clientId":"b","text":"` + strings.Repeat("\xff", 60<<10) + `"}`}
	sentBytes := 0
	for i := range burst {
		b := bursty[i%len(bursty)]
		sentBytes += len(b)
		mal.Send(b)
		p := mal.Expect("error")
		if c := p.Str("code"); c != "bad_packet" && c != "packet_too_large" {
			t.Fatalf("burst: %v", p)
		}
		if i%10 == 9 {
			cid := fmt.Sprintf("hv-%d", i)
			mal.Send(`{"type":"history","limit":1,"clientId":"` + cid + `"}`)
			mal.Expect("history", func(p chattest.Packet) bool { return p.Str("clientId") == cid })
		}
	}
	mal.Log = nil
	after := heapNow()
	t.Logf("chat: %d bad packets (%.1f MiB): heap %.1f → %.1f MiB", burst, float64(sentBytes)/(1<<20),
		float64(before)/(1<<20), float64(after)/(1<<20))
	if after > before+heapSlack {
		t.Errorf("heap grew from %d to %d bytes over the burst", before, after)
	}

	// 19 violations and a valid packet: still open. Then 20 in a row:
	// closed with "protocol violation".
	for range 19 {
		mal.Send(`{"type":"chat"`)
		mal.ExpectError("bad_packet")
	}
	mal.Send(`{"type":"history","limit":1,"clientId":"reset"}`)
	mal.Expect("history", func(p chattest.Packet) bool { return p.Str("clientId") == "reset" })
	c := mal.P.(*wireParticipant).c
	for i := range 20 {
		if err := c.SendChat([]byte(`{"type":"chat"`)); err != nil {
			t.Fatalf("violation %d: %v", i+1, err)
		}
	}
	select {
	case <-c.Done():
	case <-time.After(15 * time.Second):
		t.Fatal("20 consecutive violations did not close the connection")
	}
	if r := c.Reason(); !strings.Contains(r, "protocol violation") {
		t.Errorf("closed with reason %q", r)
	}
	bob.Expect("left", func(p chattest.Packet) bool { return p.Str("identity") == "mallory" })
}

// TestChatMessageOverTransportLimit: a data-channel message over the
// 256 KiB the server advertises never reaches it: Pion refuses to send it
// (the limit comes from the server's SDP), and the connection stays up.
func TestChatMessageOverTransportLimit(t *testing.T) {
	a := startServer(t, nil, nil)
	acked := make(chan struct{}, 1)
	c := join(t, a, "limit", "mallory", client.Options{OnChat: func(b []byte) {
		if bytes.Contains(b, []byte(`"type":"ack"`)) {
			acked <- struct{}{}
		}
	}})
	err := c.SendChat(bytes.Repeat([]byte("a"), 300<<10))
	t.Logf("300 KiB data-channel message: %v", err)
	if err == nil {
		t.Fatal("a 300 KiB data-channel message was sent")
	}
	b, _ := json.Marshal(map[string]string{"type": "chat", "clientId": "after", "text": "ok"})
	if err := c.SendChat(b); err != nil {
		t.Fatal(err)
	}
	select {
	case <-acked:
	case <-c.Done():
		t.Fatal("connection ended")
	case <-time.After(10 * time.Second):
		t.Fatal("no ack after the refused message")
	}
}
