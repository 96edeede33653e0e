package chat

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/backchannel-rtc/backchannel/chat/chattest"
)

// heldStore queues writes until the test releases them: a slow database.
type heldStore struct {
	*MemoryStore
	mu   sync.Mutex
	held []heldWrite
}

type heldWrite struct {
	c    Change
	done func(error)
}

func (h *heldStore) Write(c Change, done func(error)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.held = append(h.held, heldWrite{c, done})
}

// release makes the held writes durable (err nil) or fails them.
func (h *heldStore) release(err error) {
	h.mu.Lock()
	w := h.held
	h.held = nil
	h.mu.Unlock()
	for _, x := range w {
		if err != nil {
			x.done(err)
		} else {
			h.MemoryStore.Write(x.c, x.done)
		}
	}
}

func decode(t testing.TB, b []byte) chattest.Packet {
	t.Helper()
	var p chattest.Packet
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatalf("bad JSON %q: %v", b, err)
	}
	return p
}

// packets returns the decoded queued packets of c and clears them.
func packets(t testing.TB, c *fakeConn) []chattest.Packet {
	var out []chattest.Packet
	for _, b := range c.take() {
		out = append(out, decode(t, b))
	}
	return out
}

func ofType(ps []chattest.Packet, typ string) []chattest.Packet {
	var out []chattest.Packet
	for _, p := range ps {
		if p.Type() == typ {
			out = append(out, p)
		}
	}
	return out
}

func TestAckWaitsForDurable(t *testing.T) {
	st := &heldStore{MemoryStore: NewMemoryStore()}
	env := newFakeEnv(t, DefaultConfig(), nil)
	env.srv.store = st
	a := env.join("r", "alice", chattest.Grants{})
	b := env.join("r", "bob", chattest.Grants{})
	st.release(nil)
	a.take()
	b.take()

	a.SendBytes([]byte(`{"type":"chat","clientId":"k1","text":"hi"}`))
	if got := packets(t, b); len(ofType(got, "message")) != 1 {
		t.Fatalf("fan-out must not wait for the store: bob got %v", got)
	}
	if got := packets(t, a); len(ofType(got, "message")) != 1 || len(ofType(got, "ack")) != 0 {
		t.Fatalf("alice before durable: %v", got)
	}
	// A retry while pending waits for the same write.
	a.SendBytes([]byte(`{"type":"chat","clientId":"k1","text":"hi"}`))
	if got := packets(t, a); len(got) != 0 {
		t.Fatalf("retry before durable answered early: %v", got)
	}
	st.release(nil)
	acks := ofType(packets(t, a), "ack")
	if len(acks) != 2 || acks[0].String() != acks[1].String() || acks[0].Str("clientId") != "k1" {
		t.Fatalf("acks after durable: %v", acks)
	}
	if got := packets(t, b); len(got) != 0 {
		t.Fatalf("retry fanned out again: %v", got)
	}
}

func TestStoreFailureThenRetry(t *testing.T) {
	st := &heldStore{MemoryStore: NewMemoryStore()}
	env := newFakeEnv(t, DefaultConfig(), nil)
	env.srv.store = st
	a := env.join("r", "alice", chattest.Grants{})
	st.release(nil)
	a.take()
	a.SendBytes([]byte(`{"type":"chat","clientId":"k1","text":"hi"}`))
	msg := ofType(packets(t, a), "message")[0].Obj("message")
	st.release(errBoom)
	errs := ofType(packets(t, a), "error")
	if len(errs) != 1 || errs[0].Str("code") != "unavailable" || errs[0].Str("clientId") != "k1" || !errs[0].Bool("retryable") {
		t.Fatalf("want unavailable with clientId: %v", errs)
	}
	// The retry writes the same message again and acks it: same id and seq.
	a.SendBytes([]byte(`{"type":"chat","clientId":"k1","text":"hi"}`))
	st.release(nil)
	acks := ofType(packets(t, a), "ack")
	if len(acks) != 1 || acks[0].Str("id") != msg.Str("id") || acks[0].Int("seq") != msg.Int("seq") {
		t.Fatalf("ack after retry %v for %v", acks, msg)
	}
	if m, err := st.Message(context.Background(), "r", msg.Str("id")); err != nil || m.Text != "hi" {
		t.Fatalf("not durable after retry: %v %v", m, err)
	}
}

func TestMemoryStoreFailWrites(t *testing.T) {
	env := newFakeEnv(t, DefaultConfig(), nil)
	a := env.join("r", "alice", chattest.Grants{})
	env.store.FailWrites(errBoom)
	a.take()
	a.SendBytes([]byte(`{"type":"chat","clientId":"k","text":"x"}`))
	a.SendBytes([]byte(`{"type":"history","before":1}`)) // window answers: no store read
	ps := packets(t, a)
	if e := ofType(ps, "error"); len(e) != 1 || e[0].Str("code") != "unavailable" {
		t.Fatalf("%v", ps)
	}
	env.store.FailWrites(nil)
	a.SendBytes([]byte(`{"type":"chat","clientId":"k","text":"x"}`))
	if acks := ofType(packets(t, a), "ack"); len(acks) != 1 {
		t.Fatalf("no ack after recovery")
	}
}

func TestRestartContinuesSeqAndDedup(t *testing.T) {
	st := NewMemoryStore()
	env := newFakeEnv(t, DefaultConfig(), st)
	a := env.join("r", "alice", chattest.Grants{})
	for i := 0; i < 3; i++ {
		a.SendBytes([]byte(`{"type":"chat","clientId":"c` + string(rune('0'+i)) + `","text":"x"}`))
	}
	a.take()
	// A new server on the same store: a restart.
	env2 := newFakeEnv(t, DefaultConfig(), st)
	a2 := env2.join("r", "alice", chattest.Grants{})
	replay := ofType(packets(t, a2), "history")[0]
	if len(replay.List("messages")) != 3 || replay.Int("lastSeq") != 3 {
		t.Fatalf("replay after restart %v", replay)
	}
	a2.SendBytes([]byte(`{"type":"chat","clientId":"c1","text":"x"}`))
	ps := packets(t, a2)
	if len(ps) != 1 || ps[0].Type() != "ack" || ps[0].Int("seq") != 2 {
		t.Fatalf("dedup across restart: %v", ps)
	}
	a2.SendBytes([]byte(`{"type":"chat","clientId":"new","text":"x"}`))
	if m := ofType(packets(t, a2), "message"); len(m) != 1 || m[0].Obj("message").Int("seq") != 4 {
		t.Fatalf("seq after restart: %v", m)
	}
}

// A small window forces history, edits and reactions on old messages
// through the store.
func TestWindowEvictionAndStoreHistory(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Window = 8
	cfg.ReplayMessages = 5
	cfg.Rate = 0
	env := newFakeEnv(t, cfg, nil)
	a := env.join("r", "alice", chattest.Grants{})
	b := env.join("r", "bob", chattest.Grants{Admin: true})
	var ids []string
	for i := 0; i < 30; i++ {
		to := ""
		if i%3 == 0 {
			to = `,"to":["alice"]`
		}
		b.SendBytes([]byte(`{"type":"chat","clientId":"c` + strings.Repeat("x", i+1) + `","text":"m` + itoa(int64(i)) + `"` + to + `}`))
		ps := packets(t, b)
		if len(ofType(ps, "ack")) == 0 {
			t.Fatalf("no ack: %v", ps)
		}
		ids = append(ids, ofType(ps, "ack")[0].Str("id"))
	}
	a.take()
	// Old messages: react, edit, pin through the store.
	a.SendBytes([]byte(`{"type":"reaction","id":"` + ids[1] + `","emoji":"👍","on":true}`))
	b.SendBytes([]byte(`{"type":"edit","id":"` + ids[1] + `","text":"edited"}`))
	b.SendBytes([]byte(`{"type":"pin","id":"` + ids[2] + `"}`))
	ps := packets(t, a)
	if len(ofType(ps, "reaction")) != 1 || len(ofType(ps, "edited")) != 1 || len(ofType(ps, "pinned")) != 1 {
		t.Fatalf("changes on old messages: %v", ps)
	}
	// Alice pages back through everything; bob sees no private ones.
	for _, who := range []*fakeConn{a, b} {
		var seqs []int64
		before := int64(0)
		for {
			who.SendBytes([]byte(`{"type":"history","limit":7,"before":` + itoa(before) + `}`))
			h := ofType(packets(t, who), "history")[0]
			ms := h.List("messages")
			for i := len(ms) - 1; i >= 0; i-- {
				seqs = append(seqs, ms[i].Int("seq"))
				if ms[i].Int("seq") == 2 && (ms[i].Str("text") != "edited" || len(ms[i].List("reactions")) != 1) {
					t.Fatalf("old message state %v", ms[i])
				}
			}
			if !h.Bool("more") || len(ms) == 0 {
				break
			}
			before = ms[0].Int("seq")
		}
		want := 30
		if who == b {
			want = 30 // bob sent the private ones: he sees them all
		}
		if len(seqs) != want {
			t.Fatalf("%s paged %d messages: %v", who.who.Identity, len(seqs), seqs)
		}
		for i := 1; i < len(seqs); i++ {
			if seqs[i] >= seqs[i-1] {
				t.Fatalf("not in order: %v", seqs)
			}
		}
	}
	c := env.join("r", "carol", chattest.Grants{})
	total := 0
	before := int64(0)
	for {
		c.take()
		c.SendBytes([]byte(`{"type":"history","limit":7,"before":` + itoa(before) + `}`))
		h := ofType(packets(t, c), "history")[0]
		for _, m := range h.List("messages") {
			if len(m.Strings("to")) > 0 {
				t.Fatalf("carol got a private message %v", m)
			}
			total++
		}
		ms := h.List("messages")
		if !h.Bool("more") || len(ms) == 0 {
			break
		}
		before = ms[0].Int("seq")
	}
	if total != 20 {
		t.Fatalf("carol paged %d public messages, want 20", total)
	}
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

func TestOverflowResync(t *testing.T) {
	env := newFakeEnv(t, DefaultConfig(), nil)
	a := env.join("r", "alice", chattest.Grants{})
	b := env.join("r", "bob", chattest.Grants{})
	b.take()
	b.mu.Lock()
	b.limit = 2
	b.mu.Unlock()
	for i := 0; i < 5; i++ {
		a.SendBytes([]byte(`{"type":"chat","clientId":"k` + itoa(int64(i)) + `","text":"x"}`))
	}
	if len(b.take()) != 2 || b.dropped != 3 {
		t.Fatalf("expected 2 queued, 3 dropped")
	}
	b.mu.Lock()
	b.limit = 0
	b.mu.Unlock()
	b.sess.Overflowed(3)
	ps := packets(t, b)
	if len(ps) != 4 || ps[0].Type() != "resync" || ps[0].Int("dropped") != 3 || ps[0].Int("lastSeq") != 5 ||
		ps[1].Type() != "presence" || ps[2].Type() != "pins" || ps[3].Type() != "history" || len(ps[3].List("messages")) != 5 {
		t.Fatalf("resync: %v", ps)
	}
	if st := env.srv.Stats(); st.Dropped != 3 || st.Resyncs != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestTypingExpiresAndEndsOnLeave(t *testing.T) {
	cfg := DefaultConfig()
	cfg.TypingTimeout = 30 * time.Millisecond
	env := newFakeEnv(t, cfg, nil)
	a := env.join("r", "alice", chattest.Grants{})
	b := env.join("r", "bob", chattest.Grants{})
	b.take()
	a.SendBytes([]byte(`{"type":"typing","on":true}`))
	a.SendBytes([]byte(`{"type":"typing","on":true}`)) // a refresh: no second event
	if ps := ofType(packets(t, b), "typing"); len(ps) != 1 {
		t.Fatalf("typing on: %v", ps)
	}
	time.Sleep(100 * time.Millisecond)
	if ps := ofType(packets(t, b), "typing"); len(ps) != 1 || ps[0].Bool("on") {
		t.Fatalf("typing should have expired: %v", ps)
	}
	a.SendBytes([]byte(`{"type":"typing","on":true}`))
	a.sess.Detach()
	ps := packets(t, b)
	if len(ps) != 3 || ps[1].Type() != "typing" || ps[1].Bool("on") || ps[2].Type() != "left" {
		t.Fatalf("typing stop on leave: %v", ps)
	}
	// Sending a message ends the indicator too.
	c := env.join("r", "carol", chattest.Grants{})
	b.take()
	c.SendBytes([]byte(`{"type":"typing","on":true}`))
	c.SendBytes([]byte(`{"type":"chat","clientId":"x","text":"done"}`))
	ps = packets(t, b)
	if len(ps) != 3 || ps[1].Type() != "typing" || ps[1].Bool("on") || ps[2].Type() != "message" {
		t.Fatalf("typing stop on send: %v", ps)
	}
}

func TestAttachments(t *testing.T) {
	env := newFakeEnv(t, DefaultConfig(), nil)
	env.store.AddAttachment(Attachment{ID: "img", Room: "r", Uploader: "alice", Name: "a.png", ContentType: "image/png", Size: 10, Image: true})
	env.store.AddAttachment(Attachment{ID: "doc", Room: "r", Uploader: "alice", Name: "a.pdf", ContentType: "application/pdf", Size: 10})
	env.store.AddAttachment(Attachment{ID: "other", Room: "r2", Uploader: "alice", Name: "b.pdf"})
	a := env.join("r", "alice", chattest.Grants{})
	b := env.join("r", "bob", chattest.Grants{})
	a.take()
	a.SendBytes([]byte(`{"type":"chat","clientId":"1","kind":"image","attachmentId":"img"}`))
	a.SendBytes([]byte(`{"type":"chat","clientId":"2","kind":"file","attachmentId":"doc","text":"the report"}`))
	ms := ofType(packets(t, b), "message")
	if len(ms) != 2 || ms[0].Obj("message").Obj("attachment").Str("name") != "a.png" || ms[1].Obj("message").Str("text") != "the report" {
		t.Fatalf("%v", ms)
	}
	if _, leaked := ms[0].Obj("message").Obj("attachment")["uploader"]; leaked {
		t.Fatalf("uploader leaked")
	}
	a.take()
	for pkt, code := range map[string]string{
		`{"type":"chat","clientId":"3","kind":"image","attachmentId":"doc"}`:   "bad_packet",
		`{"type":"chat","clientId":"4","kind":"file","attachmentId":"other"}`:  "not_found",
		`{"type":"chat","clientId":"5","kind":"file","attachmentId":"absent"}`: "not_found",
		`{"type":"chat","clientId":"6","kind":"file"}`:                         "bad_packet",
		`{"type":"chat","clientId":"7","text":"x","attachmentId":"doc"}`:       "bad_packet",
	} {
		a.SendBytes([]byte(pkt))
		if e := ofType(packets(t, a), "error"); len(e) != 1 || e[0].Str("code") != code {
			t.Fatalf("%s: want %s, got %v", pkt, code, e)
		}
	}
	b.SendBytes([]byte(`{"type":"chat","clientId":"8","kind":"file","attachmentId":"doc"}`))
	if e := ofType(packets(t, b), "error"); len(e) != 1 || e[0].Str("code") != "forbidden" {
		t.Fatalf("someone else's attachment: %v", e)
	}
}

func TestPermissionsAndLimits(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxPinned = 1
	cfg.MaxReactions = 1
	env := newFakeEnv(t, cfg, nil)
	n := env.join("r", "viewer", chattest.Grants{NoChat: true})
	m := env.join("r", "mod", chattest.Grants{Admin: true})
	m.SendBytes([]byte(`{"type":"chat","clientId":"1","text":"a"}`))
	m.SendBytes([]byte(`{"type":"chat","clientId":"2","text":"b"}`))
	acks := ofType(packets(t, m), "ack")
	id1, id2 := acks[0].Str("id"), acks[1].Str("id")
	n.take()
	for _, pkt := range []string{
		`{"type":"reaction","id":"` + id1 + `","emoji":"x","on":true}`,
		`{"type":"typing","on":true}`,
		`{"type":"pin","id":"` + id1 + `"}`,
		`{"type":"mute","target":"mod"}`,
	} {
		n.SendBytes([]byte(pkt))
		if e := ofType(packets(t, n), "error"); len(e) != 1 || e[0].Str("code") != "forbidden" {
			t.Fatalf("%s: %v", pkt, e)
		}
	}
	n.SendBytes([]byte(`{"type":"history"}`)) // reading is allowed
	if h := ofType(packets(t, n), "history"); len(h) != 1 {
		t.Fatalf("history without chat grant")
	}
	m.SendBytes([]byte(`{"type":"pin","id":"` + id1 + `"}`))
	m.SendBytes([]byte(`{"type":"pin","id":"` + id2 + `"}`))
	m.SendBytes([]byte(`{"type":"reaction","id":"` + id1 + `","emoji":"a","on":true}`))
	m.SendBytes([]byte(`{"type":"reaction","id":"` + id1 + `","emoji":"b","on":true}`))
	e := ofType(packets(t, m), "error")
	if len(e) != 2 || e[0].Str("code") != "too_many" || e[1].Str("code") != "too_many" {
		t.Fatalf("%v", e)
	}
	m.SendBytes([]byte(`{"type":"mute","target":"mod"}`))
	if e := ofType(packets(t, m), "error"); len(e) != 1 || e[0].Str("code") != "forbidden" {
		t.Fatalf("self-mute: %v", e)
	}
}

func TestAnyonePins(t *testing.T) {
	cfg := DefaultConfig()
	cfg.AnyonePins = true
	env := newFakeEnv(t, cfg, nil)
	a := env.join("r", "alice", chattest.Grants{})
	if p := ofType(packets(t, a), "presence")[0]; !p.Obj("self").Bool("canPin") {
		t.Fatalf("canPin not advertised: %v", p)
	}
	a.SendBytes([]byte(`{"type":"chat","clientId":"1","text":"a"}`))
	id := ofType(packets(t, a), "ack")[0].Str("id")
	a.SendBytes([]byte(`{"type":"pin","id":"` + id + `"}`))
	if p := ofType(packets(t, a), "pinned"); len(p) != 1 {
		t.Fatalf("pin with AnyonePins")
	}
}

func TestJoinLeaveChangesPerIdentity(t *testing.T) {
	cfg := DefaultConfig()
	cfg.DepartureTimeout = -1 // the room unloads once empty, not 20 s later
	env := newFakeEnv(t, cfg, nil)
	a1 := env.join("r", "alice", chattest.Grants{})
	a2 := env.join("r", "alice", chattest.Grants{})
	if !env.store.Present("r", "alice") {
		t.Fatalf("no join recorded")
	}
	a1.sess.Detach()
	if !env.store.Present("r", "alice") {
		t.Fatalf("leave recorded while a second connection is open")
	}
	a2.sess.Detach()
	a2.sess.Detach() // twice is harmless
	if env.store.Present("r", "alice") {
		t.Fatalf("no leave recorded")
	}
	if st := env.srv.Stats(); st.Rooms != 0 || st.Sessions != 0 {
		t.Fatalf("room not unloaded: %+v", st)
	}
}

func TestReadHorizon(t *testing.T) {
	env := newFakeEnv(t, DefaultConfig(), nil)
	a := env.join("r", "alice", chattest.Grants{})
	b := env.join("r", "bob", chattest.Grants{})
	a.SendBytes([]byte(`{"type":"chat","clientId":"1","text":"a"}`))
	a.SendBytes([]byte(`{"type":"chat","clientId":"2","text":"b"}`))
	a.take()
	b.SendBytes([]byte(`{"type":"read","seq":2}`))
	b.SendBytes([]byte(`{"type":"read","seq":1}`)) // backwards: no-op
	if r := ofType(packets(t, a), "read"); len(r) != 1 || r[0].Int("seq") != 2 {
		t.Fatalf("%v", r)
	}
	if env.store.ReadHorizon("r", "bob") != 2 {
		t.Fatalf("read not stored")
	}
	c := env.join("r", "carol", chattest.Grants{})
	for _, p := range ofType(packets(t, c), "presence")[0].List("participants") {
		if p.Str("identity") == "bob" && p.Int("read") != 2 {
			t.Fatalf("read horizon not in presence: %v", p)
		}
	}
}

func TestCloseRefusesAndWaits(t *testing.T) {
	st := NewMemoryStore()
	st.Async = true
	srv := NewServer(st, DefaultConfig(), quietLogger())
	c := newFakeConn("alice", grantFor(chattest.Grants{}))
	c.sess = srv.Attach("r", c)
	c.sess.Receive([]byte(`{"type":"chat","clientId":"1","text":"a"}`))
	if err := srv.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n, _ := st.LastSeq(context.Background(), "r"); n != 1 {
		t.Fatalf("Close returned before the write was durable")
	}
	c.take()
	c.sess.Receive([]byte(`{"type":"chat","clientId":"2","text":"a"}`))
	if e := ofType(packets(t, c), "error"); len(e) != 1 || e[0].Str("code") != "unavailable" {
		t.Fatalf("after close: %v", e)
	}
	d := newFakeConn("bob", grantFor(chattest.Grants{}))
	srv.Attach("r", d)
	if d.closedReason() == "" {
		t.Fatalf("attach after close accepted")
	}
}
