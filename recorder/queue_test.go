package recorder

import "testing"

func TestItemQueueBoundedFIFOAndReleases(t *testing.T) {
	q := newItemQueue(3000)
	for i := range 3000 {
		if !q.tryPush(item{c: msg("r", int64(i), "a", "t", 0)}, q.limit) {
			t.Fatalf("push %d refused below the limit", i)
		}
	}
	if q.tryPush(item{}, q.limit) {
		t.Fatal("push accepted beyond the limit")
	}
	var next int64
	for q.len() > 0 {
		batch := q.take(nil, 700)
		for _, it := range batch {
			if it.c.Message.Seq != next {
				t.Fatalf("got seq %d, want %d", it.c.Message.Seq, next)
			}
			next++
		}
	}
	if next != 3000 {
		t.Fatalf("took %d items, want 3000", next)
	}
	if len(q.ring) != 0 {
		t.Fatalf("a drained queue still holds an array of %d items", len(q.ring))
	}
	if got := q.take(nil, 10); len(got) != 0 {
		t.Fatalf("took %d items from an empty queue", len(got))
	}
}

// A queue that is never drained empty (the writer always a little behind)
// reuses its ring instead of growing it.
func TestItemQueueStaysBoundedUnderSteadyLoad(t *testing.T) {
	q := newItemQueue(100)
	var pushed, taken int64
	for range 10000 {
		for q.tryPush(item{c: msg("r", pushed, "a", "t", 0)}, q.limit) {
			pushed++
		}
		for _, it := range q.take(nil, 7) {
			if it.c.Message.Seq != taken {
				t.Fatalf("got seq %d, want %d", it.c.Message.Seq, taken)
			}
			taken++
		}
		if c := len(q.ring); c > 2*q.limit {
			t.Fatalf("array of %d items for a queue bounded at %d", c, q.limit)
		}
	}
}
