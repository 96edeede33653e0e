package recorder

import "sync"

// itemQueue is the writer's FIFO of changes: bounded like a channel of
// Config.QueueSize, but its memory grows with what is queued and goes back
// when it drains. A buffered channel of 100,000 items was 15 MB of heap
// from start to stop — a third of a 100-participant server's live heap —
// to hold what is, except while the database is down, a handful of items.
type itemQueue struct {
	mu    sync.Mutex
	ring  []item // a ring: n items from head, wrapping around
	head  int
	n     int
	limit int
	ready chan struct{} // cap 1: something was pushed
}

// newItemQueue returns a queue of limit items; changes that may use the
// reserve (writer.enqueue) go up to twice that.
func newItemQueue(limit int) *itemQueue {
	return &itemQueue{limit: limit, ready: make(chan struct{}, 1)}
}

// tryPush appends it unless the queue holds limit items (q.limit, or more
// for the changes that may use the reserve).
func (q *itemQueue) tryPush(it item, limit int) bool {
	q.mu.Lock()
	if q.n >= limit {
		q.mu.Unlock()
		return false
	}
	if q.n == len(q.ring) {
		// Grow (doubling, at most to about twice the limit), oldest first.
		grown := make([]item, min(max(16, 2*q.n), 2*q.limit))
		k := copy(grown, q.ring[q.head:])
		copy(grown[k:], q.ring[:q.head])
		q.ring, q.head = grown, 0
	}
	q.ring[(q.head+q.n)%len(q.ring)] = it
	q.n++
	q.mu.Unlock()
	signal(q.ready)
	return true
}

// take moves up to max items, oldest first, onto batch.
func (q *itemQueue) take(batch []item, max int) []item {
	q.mu.Lock()
	k := min(max, q.n)
	for range k {
		batch = append(batch, q.ring[q.head])
		q.ring[q.head] = item{} // the queue no longer holds it
		q.head = (q.head + 1) % len(q.ring)
	}
	q.n -= k
	if q.n == 0 {
		q.head = 0
		if len(q.ring) > 1024 {
			q.ring = nil // drained after a burst: let the array go
		}
	}
	q.mu.Unlock()
	return batch
}

func (q *itemQueue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.n
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}
