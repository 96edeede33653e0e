package recorder

import "sync"

// itemQueue is the writer's FIFO of changes: bounded like a channel of
// Config.QueueSize, but its memory grows with what is queued and goes back
// when it drains. A buffered channel of 100,000 items was 15 MB of heap
// from start to stop — a third of a 100-participant server's live heap —
// to hold what is, except while the database is down, a handful of items.
type itemQueue struct {
	mu    sync.Mutex
	items []item // items[head:] are queued
	head  int
	limit int
	ready chan struct{} // cap 1: something was pushed
	space chan struct{} // cap 1: something was taken
}

func newItemQueue(limit int) *itemQueue {
	return &itemQueue{limit: limit, ready: make(chan struct{}, 1), space: make(chan struct{}, 1)}
}

// tryPush appends it unless the queue is full.
func (q *itemQueue) tryPush(it item) bool {
	q.mu.Lock()
	if len(q.items)-q.head >= q.limit {
		q.mu.Unlock()
		return false
	}
	if q.head > 0 && len(q.items) == cap(q.items) {
		// Full array with taken items in front: slide down rather than grow.
		n := copy(q.items, q.items[q.head:])
		clear(q.items[n:])
		q.items, q.head = q.items[:n], 0
	}
	q.items = append(q.items, it)
	q.mu.Unlock()
	signal(q.ready)
	return true
}

// take moves up to max items, oldest first, onto batch.
func (q *itemQueue) take(batch []item, max int) []item {
	q.mu.Lock()
	n := min(max, len(q.items)-q.head)
	batch = append(batch, q.items[q.head:q.head+n]...)
	clear(q.items[q.head : q.head+n]) // the queue no longer holds them
	q.head += n
	if q.head == len(q.items) {
		q.items, q.head = q.items[:0], 0
		if cap(q.items) > 1024 {
			q.items = nil // drained after a burst: let the array go
		}
	}
	q.mu.Unlock()
	if n > 0 {
		signal(q.space)
	}
	return batch
}

func (q *itemQueue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items) - q.head
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}
