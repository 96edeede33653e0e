package chat

import (
	"context"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/backchannel-rtc/backchannel/chat/chattest"
)

// TestOnlyStorableValuesAccepted (issue 20, finding 1): what chat accepts,
// PostgreSQL can store. Each packet below was once fanned out live and
// then refused by the database for good; now it is refused before fan-out.
func TestOnlyStorableValuesAccepted(t *testing.T) {
	env := newFakeEnv(t, DefaultConfig(), nil)
	a := env.join("r", "alice", grantsPlain)
	b := env.join("r", "bob", grantsPlain)
	a.SendBytes([]byte(`{"type":"chat","clientId":"k0","text":"mine"}`))
	id := ofType(packets(t, a), "message")[0].Obj("message").Str("id")
	b.take()

	long := strings.Repeat("a", 256)
	for _, pk := range []string{
		`{"type":"chat","clientId":"k1","text":"a\u0000b"}`,
		`{"type":"chat","clientId":"k2","text":"x","to":["` + long + `"]}`,
		`{"type":"chat","clientId":"k3","text":"x","to":[]}`,
		`{"type":"edit","clientId":"k4","id":"` + id + `","text":"b\u0000"}`,
		`{"type":"chat","clientId":"k5","kind":"file","attachmentId":"` + strings.Repeat("f", 65) + `"}`,
		`{"type":"typing","on":true,"to":[]}`,
		`{"type":"mute","target":"` + long + `"}`,
	} {
		a.SendBytes([]byte(pk))
		got := packets(t, a)
		if e := ofType(got, "error"); len(got) != 1 || len(e) != 1 || e[0].Str("code") != "bad_packet" {
			t.Errorf("%s: got %v, want one bad_packet", pk, got)
		}
		if got := b.take(); len(got) != 0 {
			t.Errorf("%s: bob was sent %q", pk, got)
		}
	}
	// 255 bytes is the schema's limit and is fine.
	a.SendBytes([]byte(`{"type":"chat","clientId":"k6","text":"x","to":["` + long[:255] + `"]}`))
	if got := ofType(packets(t, a), "ack"); len(got) != 1 {
		t.Fatalf("a private message to a 255-byte identity was not acked")
	}

	// A token whose identity the database cannot hold is refused at attach;
	// a display name is made storable.
	bad := env.join("r", long, grantsPlain)
	if bad.closedReason() == "" {
		t.Fatal("a 256-byte identity was attached")
	}
	n := env.join("r", "nina", chattest.Grants{Name: "Nina\x00" + strings.Repeat("é", 200)})
	self := ofType(packets(t, n), "presence")[0].Obj("self")
	if name := self.Str("name"); len(name) > 255 || strings.ContainsRune(name, 0) || !strings.HasPrefix(name, "Nina") {
		t.Fatalf("display name %q (%d bytes)", name, len(name))
	}
}

// TestChangesCarryingClientIDAreAcked (issue 20, finding 7): every mutating
// packet with a clientId is acknowledged once durable, or at once when it
// was already in place, so a client can retry it idempotently.
func TestChangesCarryingClientIDAreAcked(t *testing.T) {
	env := newFakeEnv(t, DefaultConfig(), nil)
	a := env.join("r", "alice", grantsAdmin)
	env.join("r", "bob", grantsPlain)
	a.SendBytes([]byte(`{"type":"chat","clientId":"k0","text":"hello"}`))
	id := ofType(packets(t, a), "message")[0].Obj("message").Str("id")
	for i, pk := range []string{
		`{"type":"reaction","id":"%s","emoji":"👍","on":true,"clientId":"c%d"}`,
		`{"type":"reaction","id":"%s","emoji":"👍","on":true,"clientId":"c%d"}`, // already there
		`{"type":"edit","id":"%s","text":"hello, fixed","clientId":"c%d"}`,
		`{"type":"pin","id":"%s","clientId":"c%d"}`,
		`{"type":"pin","id":"%s","clientId":"c%d"}`, // already pinned
		`{"type":"unpin","id":"%s","clientId":"c%d"}`,
		`{"type":"delete","id":"%s","clientId":"c%d"}`,
		`{"type":"delete","id":"%s","clientId":"c%d"}`, // already a tombstone
	} {
		a.SendBytes(fmt.Appendf(nil, pk, id, i))
		acks := ofType(packets(t, a), "ack")
		if len(acks) != 1 || acks[0].Str("clientId") != fmt.Sprintf("c%d", i) || acks[0].Str("id") != id {
			t.Fatalf("%s: acks %v", pk, acks)
		}
	}
	for i, pk := range []string{`{"type":"mute","target":"bob","clientId":"m%d"}`, `{"type":"mute","target":"bob","clientId":"m%d"}`,
		`{"type":"unmute","target":"bob","clientId":"m%d"}`} {
		a.SendBytes(fmt.Appendf(nil, pk, i))
		acks := ofType(packets(t, a), "ack")
		if len(acks) != 1 || acks[0].Str("clientId") != fmt.Sprintf("m%d", i) {
			t.Fatalf("%s: acks %v", pk, acks)
		}
	}
	// Without a clientId, no ack (nothing to match it with).
	a.SendBytes([]byte(`{"type":"chat","clientId":"k1","text":"again"}`))
	id2 := ofType(packets(t, a), "message")[0].Obj("message").Str("id")
	a.SendBytes([]byte(`{"type":"reaction","id":"` + id2 + `","emoji":"👍","on":true}`))
	if acks := ofType(packets(t, a), "ack"); len(acks) != 0 {
		t.Fatalf("ack without a clientId: %v", acks)
	}
}

// TestTimesHaveMilliseconds (issue 20, finding 7): createdAt, editedAt and
// the ack's createdAt always have three fraction digits, as in the CSV.
func TestTimesHaveMilliseconds(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Rate, cfg.RoomRate = 0, 0
	env := newFakeEnv(t, cfg, nil)
	a := env.join("r", "alice", grantsPlain)
	a.take()
	format := regexp.MustCompile(`"(createdAt|editedAt)":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"`)
	anyTime := regexp.MustCompile(`"(createdAt|editedAt)":`)
	for i := range 30 { // some land on a whole 10 or 100 ms
		a.SendBytes(fmt.Appendf(nil, `{"type":"chat","clientId":"k%d","text":"t"}`, i))
	}
	a.SendBytes([]byte(`{"type":"edit","id":"` + ulidOf(t, env, "r", 1) + `","text":"u"}`))
	n := 0
	for _, b := range a.take() {
		all, good := len(anyTime.FindAll(b, -1)), len(format.FindAll(b, -1))
		if all != good {
			t.Fatalf("a time not in .000Z form: %s", b)
		}
		n += all
	}
	if n < 61 {
		t.Fatalf("only %d times seen", n)
	}
}

func ulidOf(t *testing.T, env *fakeEnv, room string, seq int64) string {
	t.Helper()
	r := env.srv.rooms[room]
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range r.window {
		if e.msg.Seq == seq {
			return e.msg.ID
		}
	}
	t.Fatalf("no seq %d", seq)
	return ""
}

// TestRejectedMessageIsWithdrawn: a write the store refuses for good
// (ErrRejected) answers the sender "rejected", not a retryable
// "unavailable", and withdraws the message from everyone who saw it and
// from the room's memory; a retry of the clientId is refused again.
func TestRejectedMessageIsWithdrawn(t *testing.T) {
	st := &heldStore{MemoryStore: NewMemoryStore()}
	env := newFakeEnv(t, DefaultConfig(), nil)
	env.srv.store = st
	a := env.join("r", "alice", grantsPlain)
	b := env.join("r", "bob", grantsPlain)
	st.release(nil)
	a.take()
	b.take()
	a.SendBytes([]byte(`{"type":"chat","clientId":"k1","text":"refused"}`))
	id := ofType(packets(t, b), "message")[0].Obj("message").Str("id")
	st.release(fmt.Errorf("db says no: %w", ErrRejected))
	env.srv.writes.Wait() // the withdrawal runs on its own goroutine
	got := map[*fakeConn][]chattest.Packet{a: packets(t, a), b: packets(t, b)}
	errs := ofType(got[a], "error")
	if len(errs) != 1 || errs[0].Str("code") != "rejected" || errs[0].Bool("retryable") || errs[0].Str("clientId") != "k1" {
		t.Fatalf("alice: %v", errs)
	}
	for _, c := range []*fakeConn{a, b} {
		w := ofType(got[c], "withdrawn")
		if len(w) != 1 || w[0].Str("id") != id || w[0]["message"] != nil {
			t.Fatalf("%s: withdrawn %v", c.who.Identity, w)
		}
	}
	a.SendBytes([]byte(`{"type":"chat","clientId":"k1","text":"refused"}`))
	if errs := ofType(packets(t, a), "error"); len(errs) != 1 || errs[0].Str("code") != "rejected" {
		t.Fatalf("retry: %v", errs)
	}
	if got := b.take(); len(got) != 0 {
		t.Fatalf("the retry was fanned out again: %q", got)
	}
	c := env.join("r", "carol", grantsPlain)
	st.release(nil)
	for _, p := range ofType(packets(t, c), "history") {
		if len(p.List("messages")) != 0 {
			t.Fatalf("a withdrawn message is replayed: %v", p)
		}
	}
}

// TestOutageLogsSummaries (issue 20, finding 3): with the store holding
// every write (a database outage) and a small window, each new message
// evicts one the store has not confirmed; then every write fails. Either
// condition is logged when it starts and summarised, not once per message.
func TestOutageLogsSummaries(t *testing.T) {
	lines := &countLines{}
	st := &heldStore{MemoryStore: NewMemoryStore()}
	cfg := DefaultConfig()
	cfg.Rate, cfg.RoomRate, cfg.Window = 0, 0, 10
	srv := NewServer(st, cfg, slog.New(lines))
	env := &fakeEnv{srv: srv, store: st.MemoryStore}
	a := env.join("r", "alice", grantsPlain)
	for i := range 2000 {
		a.SendBytes(fmt.Appendf(nil, `{"type":"chat","clientId":"k%d","text":"t"}`, i))
		a.take()
	}
	st.release(errBoom)
	t.Logf("%d log lines for 2,000 unconfirmed evictions and failed writes", lines.n.Load())
	if n := lines.n.Load(); n > 6 {
		t.Fatalf("%d log lines: want state changes and summaries, not one per message", n)
	}
	_ = srv.Close(context.Background())
}

type countLines struct{ n atomic.Int64 }

func (h *countLines) Enabled(context.Context, slog.Level) bool { return true }
func (h *countLines) Handle(context.Context, slog.Record) error {
	h.n.Add(1)
	return nil
}
func (h *countLines) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *countLines) WithGroup(string) slog.Handler      { return h }
