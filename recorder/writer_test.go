package recorder

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/backchannel-rtc/backchannel/chat"
)

// doneLog records done callbacks.
type doneLog struct {
	mu    sync.Mutex
	order map[string][]int64 // room -> seqs in done order
	calls map[string]int     // message id -> done calls
	errs  []error
	wg    sync.WaitGroup
}

func newDoneLog() *doneLog { return &doneLog{order: map[string][]int64{}, calls: map[string]int{}} }

func (d *doneLog) write(r *Recorder, c chat.Change, check func(c chat.Change) error) {
	d.wg.Add(1)
	r.Write(c, func(err error) {
		if err == nil && check != nil {
			err = check(c)
		}
		d.mu.Lock()
		if err != nil {
			d.errs = append(d.errs, err)
		}
		d.order[c.Room] = append(d.order[c.Room], c.Message.Seq)
		d.calls[c.Message.ID]++
		d.mu.Unlock()
		d.wg.Done()
	})
}

func (d *doneLog) verify(t *testing.T, r *Recorder, rooms []string, perRoom int) {
	t.Helper()
	waited := make(chan struct{})
	go func() { d.wg.Wait(); close(waited) }()
	select {
	case <-waited:
	case <-time.After(2 * time.Minute):
		t.Fatalf("done callbacks missing; stats %+v", r.WriterStats())
	}
	if len(d.errs) > 0 {
		t.Fatalf("%d errors, first: %v", len(d.errs), d.errs[0])
	}
	for id, n := range d.calls {
		if n != 1 {
			t.Fatalf("done for %s called %d times", id, n)
		}
	}
	for _, room := range rooms {
		seqs := d.order[room]
		if len(seqs) != perRoom {
			t.Fatalf("room %s: %d done calls, want %d", room, len(seqs), perRoom)
		}
		for i, s := range seqs {
			if s != int64(i+1) {
				t.Fatalf("room %s: done order broken at %d: seq %d", room, i, s)
			}
		}
		var n, distinct int64
		r.db.Model(&MessageRow{}).Where("room = ?", room).Count(&n)
		r.db.Model(&MessageRow{}).Where("room = ?", room).Distinct("seq").Count(&distinct)
		if n != int64(perRoom) || distinct != n {
			t.Fatalf("room %s: %d rows (%d distinct seqs), want %d", room, n, distinct, perRoom)
		}
		if last, _ := r.LastSeq(ctxT(t), room); last != int64(perRoom) {
			t.Fatalf("room %s: LastSeq %d", room, last)
		}
	}
}

func testWriterOrder(t *testing.T, b backend) {
	r := openT(t, b.config(t))
	rooms := []string{"r0", "r1", "r2", "r3", "r4"}
	const per = 2000
	d := newDoneLog()
	// done must only run once the change is durable: read it back from
	// inside the callback (every 97th, to keep the test fast).
	check := func(c chat.Change) error {
		if c.Message.Seq%97 != 0 {
			return nil
		}
		if _, err := r.Message(ctxT(t), c.Room, c.Message.ID); err != nil {
			return fmt.Errorf("done ran before %s was readable: %w", c.Message.ID, err)
		}
		return nil
	}
	for i := 1; i <= per; i++ {
		for _, room := range rooms {
			d.write(r, msg(room, int64(i), "alice", "hello", i), check)
		}
	}
	d.verify(t, r, rooms, per)
	if s := r.WriterStats(); s.Batches >= int64(per*len(rooms)) {
		t.Fatalf("no group commit: %+v", s)
	}
}

func testWriterTransient(t *testing.T, b backend) {
	cfg := b.config(t)
	r := openT(t, cfg)
	b.prepare(r)
	rooms := []string{"t0", "t1", "t2"}
	const per = 5000
	d := newDoneLog()
	var written atomic.Int64
	go func() {
		for i := 1; i <= per; i++ {
			for _, room := range rooms {
				d.write(r, msg(room, int64(i), "bob", "payload", i), nil)
				written.Add(1)
			}
			if i%250 == 0 {
				time.Sleep(5 * time.Millisecond) // a stream, not one burst
			}
		}
	}()
	// Break the connections three times while the stream runs.
	for k := 1; k <= 3; k++ {
		for written.Load() < int64(k*per*len(rooms)/4) {
			time.Sleep(time.Millisecond)
		}
		b.disrupt(t, r, cfg)
	}
	for written.Load() < per*int64(len(rooms)) {
		time.Sleep(10 * time.Millisecond)
	}
	d.verify(t, r, rooms, per)
	t.Logf("writer stats: %+v", r.WriterStats())
	if r.WriterStats().Retries == 0 {
		t.Fatalf("disruption caused no retry; test proves nothing")
	}
}

// testOutbox: the Outbox's rows commit with their batch (a failed call
// rolls everything back and the batch is retried), and Committed hears of
// them only once they are visible to another connection.
func testOutbox(t *testing.T, b backend) {
	cfg := b.config(t)
	var calls atomic.Int32
	var started, ended atomic.Int32
	ob := &testOutboxer{}
	ob.events = func(tx *gorm.DB, bt *Batch) ([]OutboxEvent, error) {
		if calls.Add(1) == 1 {
			// A failing call: nothing of the batch may commit, not even
			// what it wrote itself in the transaction.
			poison, err := NewOutboxEvent("test.poison", map[string]any{}, "")
			if err == nil {
				err = tx.Create(&poison).Error
			}
			if err != nil {
				return nil, err
			}
			return nil, errors.New("first call fails")
		}
		started.Add(int32(len(bt.Started)))
		ended.Add(int32(len(bt.Ended)))
		var rows []OutboxEvent
		for i, c := range bt.Changes {
			if c.Kind == chat.ChangeMessage {
				ev, err := NewOutboxEvent("chat.message", map[string]any{"id": c.Message.ID,
					"sessionId": bt.SessionIDs[i], "meetingId": bt.MeetingIDs[i]}, "")
				if err != nil {
					return nil, err
				}
				rows = append(rows, ev)
			}
		}
		return rows, nil
	}
	cfg.Outbox = ob
	r := openT(t, cfg)
	ob.db.Store(r.db)
	writeAll(t, r, join("o", "alice", "Alice", 0), msg("o", 1, "alice", "a", 1), msg("o", 2, "alice", "b", 2),
		leave("o", "alice", 3))
	var evs []OutboxEvent
	r.db.Order("id").Find(&evs)
	if len(evs) != 2 || evs[0].EventType != "chat.message" || evs[0].Status != OutboxPending {
		t.Fatalf("outbox %+v", evs)
	}
	if started.Load() != 1 || ended.Load() != 1 {
		t.Fatalf("started %d ended %d", started.Load(), ended.Load())
	}
	ob.mu.Lock()
	defer ob.mu.Unlock()
	if ob.committed != 2 || len(ob.invisible) > 0 {
		t.Fatalf("Committed heard of %d rows; before they were visible: %v", ob.committed, ob.invisible)
	}
}

// testOutboxer is an Outbox that checks, in Committed, that the rows it
// is told about can be read from another connection.
type testOutboxer struct {
	events    func(tx *gorm.DB, b *Batch) ([]OutboxEvent, error)
	db        atomic.Pointer[gorm.DB]
	mu        sync.Mutex
	seen      int64 // rows Committed has heard of
	committed int
	invisible []string
}

func (o *testOutboxer) Events(tx *gorm.DB, b *Batch) ([]OutboxEvent, error) { return o.events(tx, b) }

func (o *testOutboxer) Committed(rows []OutboxEvent) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.committed += len(rows)
	o.seen += int64(len(rows))
	var visible int64
	if db := o.db.Load(); db != nil {
		db.Model(&OutboxEvent{}).Count(&visible)
		if visible < o.seen {
			o.invisible = append(o.invisible, fmt.Sprintf("%d of %d", visible, o.seen))
		}
	}
}

// A full queue makes Write wait for room (it never drops); everything
// still ends durable, once, in order, and the queue's memory goes back.
func testWriterBackPressure(t *testing.T, b backend) {
	cfg := b.config(t)
	cfg.QueueSize = 50
	r := openT(t, cfg)
	rooms := []string{"p0", "p1", "p2"}
	const per = 1000
	d := newDoneLog()
	var wg sync.WaitGroup
	for _, room := range rooms {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 1; i <= per; i++ {
				d.write(r, msg(room, int64(i), "carol", "queued", i), nil)
				if q := r.WriterStats().Queued; q > cfg.QueueSize {
					t.Errorf("queue holds %d, bound %d", q, cfg.QueueSize)
					return
				}
			}
		}()
	}
	wg.Wait()
	d.verify(t, r, rooms, per)
	s := r.WriterStats()
	t.Logf("writer stats: %+v", s)
	if s.BlockedWrites == 0 {
		t.Fatalf("no Write found the queue full; test proves nothing")
	}
	if s.Queued != 0 {
		t.Fatalf("%d changes still queued after every done", s.Queued)
	}
}
