package recorder

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/backchannel-rtc/backchannel/chat"
)

// testWriterReplay: a big batch is first written with COPY on PostgreSQL,
// which fails on a message already stored; the replay with ON CONFLICT
// keeps the stored one, writes the rest, and a client id used twice fails
// only its own change. (SQLite takes the ON CONFLICT path at once.)
func testWriterReplay(t *testing.T, b backend) {
	r := openT(t, b.config(t))
	writeAll(t, r, join("rp", "alice", "Alice", 0))
	var first []chat.Change
	for i := 1; i <= 40; i++ {
		first = append(first, msg("rp", int64(i), "alice", "first", i))
	}
	writeAll(t, r, first...)

	// Batches handed to the (idle) writer's own processing. First 20
	// messages again with another text and 40 new ones: one commit (the
	// replay, not a split).
	errs := map[int64]error{}
	batch := func(from, to int) []item {
		var items []item
		for i := from; i <= to; i++ {
			c := msg("rp", int64(i), "alice", "second", i)
			if i == 81 {
				c.Message.ClientID = "c5"
			}
			seq := int64(i)
			items = append(items, item{c: c, done: func(err error) { errs[seq] = err }})
		}
		if len(items) < copyMinRows {
			t.Fatal("batch too small to be copied")
		}
		return items
	}
	before := r.WriterStats().Batches
	r.w.process(batch(21, 80), false)
	if n := r.WriterStats().Batches - before; n != 1 {
		t.Fatalf("%d commits, want 1", n)
	}
	// Then 40 more, the last reusing message 5's client id.
	r.w.process(batch(42, 81), false)
	for seq := int64(21); seq <= 80; seq++ {
		if err, ok := errs[seq]; !ok || err != nil {
			t.Fatalf("message %d: done %v, %v", seq, ok, err)
		}
	}
	if errs[81] == nil || !isPermanent(errs[81]) || !errors.Is(errs[81], chat.ErrRejected) {
		t.Fatalf("reused client id: %v", errs[81])
	}
	hist, err := r.History(context.Background(), "rp", "", 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(hist) != 80 {
		t.Fatalf("%d messages, want 80", len(hist))
	}
	for _, m := range hist {
		want := "first"
		if m.Seq > 40 {
			want = "second"
		}
		if m.Text != want || m.ID != fmt.Sprintf("mrp%06d", m.Seq) {
			t.Fatalf("message %d (%s): %q, want %q", m.Seq, m.ID, m.Text, want)
		}
	}
	if s := r.WriterStats(); s.Failed != 1 {
		t.Fatalf("writer stats: %+v", s)
	}
}
