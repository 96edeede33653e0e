package recorder

// The writer keeps the real-time path free of database waits. Write only
// enqueues; one goroutine takes everything queued (up to BatchSize changes)
// and writes it in one transaction (group commit), then runs each change's
// done callback in order. A single goroutine and a FIFO queue keep every
// room's changes in the order chat wrote them.
//
// Durability rules:
//   - done(nil) runs only after the transaction holding the change commits.
//   - Transient errors (connection lost, database restarting, SQLite busy,
//     disk full) are retried forever with capped exponential back-off: the
//     batch and everything behind it stay queued in memory, in order.
//   - An error the database gives for the data itself (PostgreSQL SQLSTATE
//     classes 22 data exception, 23 integrity constraint, 42 and 54;
//     SQLite TOOBIG, CONSTRAINT, MISMATCH, RANGE) is permanent: it is
//     never retried: the bad change is found with rolled-back trial
//     transactions and fails alone with an error wrapping chat.ErrRejected,
//     so its sender learns that retrying cannot help, and the rest of the
//     batch is committed once (isolate.go). Any other error is retried a
//     few times first. Either way isolating one bad change costs a few
//     rolled-back transactions, never seconds of back-off that every room
//     waits for.
//   - Every statement is idempotent (inserts ignore rows already present,
//     updates set final values), so replaying a batch whose commit outcome
//     was unknown does not duplicate anything. (The one exception, COPY on
//     a batch's first attempt, fails instead of duplicating, and the batch
//     is replayed with the idempotent statements: see bulk.go.)
//   - Write never blocks (chat calls it with a room's lock held). The queue
//     is bounded (Config.QueueSize): when it is full a message, edit,
//     reaction, pin, delete or read horizon is answered at once with
//     ErrQueueFull (chat tells its sender "unavailable, retry"); joins,
//     leaves, mutes and Flush, one per connection or moderator action
//     rather than per keystroke, may use a reserve of as much again, so
//     that sessions still open and close while the database is behind.
//   - Close waits up to Config.CloseTimeout, then fails what is left with
//     ErrClosed.

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/backchannel-rtc/backchannel/chat"
	"github.com/backchannel-rtc/backchannel/internal/logsummary"
)

type item struct {
	c    chat.Change
	done func(error)
}

func (it item) finish(err error) {
	if it.done != nil {
		it.done(err)
	}
}

// WriterStats are the writer's counters since Open.
type WriterStats struct {
	Batches       int64         // committed transactions
	Changes       int64         // changes made durable
	Failed        int64         // changes finished with an error
	Retries       int64         // failed attempts that were retried
	BlockedWrites int64         // Write calls refused at once with ErrQueueFull
	Fenced        int64         // changes refused because this node lost the room (fence.go)
	Queued        int           // changes waiting now
	LastBatch     time.Duration // duration of the last commit
	MaxBatch      time.Duration
	TotalBatch    time.Duration // sum over all commits
}

type statsBox struct {
	mu sync.Mutex
	s  WriterStats
}

func (b *statsBox) update(f func(s *WriterStats)) {
	b.mu.Lock()
	f(&b.s)
	b.mu.Unlock()
}

func (b *statsBox) get() WriterStats {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.s
}

type writer struct {
	r         *Recorder
	q         *itemQueue
	inputDone chan struct{} // closed once no Write can enqueue any more
	finished  chan struct{} // closed when the goroutine has exited
	indexedAt time.Time     // the last search index run (searchindex.go)
	ctx       context.Context
	cancel    context.CancelFunc
	stats     statsBox

	closeOnce sync.Once
	mu        sync.RWMutex // Write holds it shared while enqueuing
	closed    bool

	// Logged as a state change plus summaries, never once per change: in
	// an outage under load these happen hundreds of times a second.
	full    logsummary.Summary // Writes refused with ErrQueueFull
	retries logsummary.Summary // failed attempts being retried
	rejects logsummary.Summary // changes refused for good

	// Owned by the writer goroutine.
	rooms  map[string]*roomState
	sqlite sqliteStmts
}

func newWriter(r *Recorder) *writer {
	ctx, cancel := context.WithCancel(context.Background())
	return &writer{
		r:         r,
		q:         newItemQueue(r.cfg.QueueSize),
		inputDone: make(chan struct{}),
		finished:  make(chan struct{}),
		ctx:       ctx,
		cancel:    cancel,
		rooms:     map[string]*roomState{},
	}
}

// ErrQueueFull is what done reports, at once, for a change Write could not
// queue: the database is behind. It is temporary; a retry may succeed.
var ErrQueueFull = errors.New("recorder: write queue full, the database is behind")

// Write queues a change; done runs once it is durable or has failed. It
// never blocks: with a full queue done runs at once with ErrQueueFull.
func (r *Recorder) Write(c chat.Change, done func(error)) {
	if r.cfg.ReadOnly {
		item{c, done}.finish(ErrReadOnly)
		return
	}
	if err := unstorable(&c); err != nil {
		r.w.stats.update(func(s *WriterStats) { s.Failed++ })
		r.w.reject(item{c, done}, err)
		return
	}
	r.w.enqueue(item{c, done})
}

// WriterStats returns the writer's counters.
func (r *Recorder) WriterStats() WriterStats {
	s := r.w.stats.get()
	s.Queued = r.w.q.len()
	return s
}

// Flush waits until every change written before the call is durable (or
// failed), or ctx ends.
func (r *Recorder) Flush(ctx context.Context) error {
	ch := make(chan error, 1)
	r.Write(chat.Change{}, func(err error) { ch <- err })
	select {
	case err := <-ch:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (w *writer) enqueue(it item) {
	w.mu.RLock()
	defer w.mu.RUnlock()
	if w.closed {
		it.finish(ErrClosed)
		return
	}
	limit := w.q.limit
	switch it.c.Kind {
	case chat.ChangeJoin, chat.ChangeLeave, chat.ChangeEnd, chat.ChangeMute, 0: // 0: Flush
		limit *= 2
	}
	if w.q.tryPush(it, limit) {
		return
	}
	w.stats.update(func(s *WriterStats) { s.BlockedWrites++ })
	if ok, n := w.full.Hit(time.Now()); ok {
		if n == 1 {
			w.r.log.Warn("recorder: write queue full, refusing changes until the database catches up", "queue", w.q.limit)
		} else {
			w.r.log.Warn("recorder: write queue still full", "refused", n, "per", logsummary.Every)
		}
	}
	it.finish(ErrQueueFull)
}

func (w *writer) close(timeout time.Duration) {
	w.closeOnce.Do(func() {
		w.mu.Lock()
		w.closed = true
		w.mu.Unlock()
		close(w.inputDone) // no Write is enqueuing any more
		t := time.NewTimer(timeout)
		defer t.Stop()
		select {
		case <-w.finished:
		case <-t.C:
			w.r.log.Error("recorder: close timed out, failing queued changes", "queued", w.q.len())
			w.cancel()
		}
	})
	<-w.finished
	w.cancel()
}

func (w *writer) run() {
	defer close(w.finished)
	defer w.sqlite.close()
	buf := make([]item, 0, w.r.cfg.BatchSize)
	for {
		batch := w.next(buf[:0])
		if batch == nil {
			return
		}
		w.process(batch, false)
		clear(batch) // drop references to delivered changes
		w.indexSearch()
	}
}

// next blocks for the first queued change, then takes whatever else is
// queued up to BatchSize. It returns nil once closed and drained.
func (w *writer) next(batch []item) []item {
	for {
		if batch = w.q.take(batch, w.r.cfg.BatchSize); len(batch) > 0 {
			return batch
		}
		select {
		case <-w.q.ready:
		case <-w.inputDone:
			// No Write can enqueue any more: drain what is left.
			if batch = w.q.take(batch, w.r.cfg.BatchSize); len(batch) > 0 {
				return batch
			}
			return nil
		}
	}
}

// process makes items durable, splitting the batch on permanent errors.
// split says items are half of a batch that failed.
func (w *writer) process(items []item, split bool) {
	if items = w.unfenced(items); len(items) == 0 {
		return
	}
	err := w.commit(items, split)
	var fe *fencedError
	if errors.As(err, &fe) {
		if rest := w.fenced(items, fe); len(rest) > 0 {
			w.process(rest, split)
		}
		return
	}
	if err == nil {
		w.recovered()
		w.stats.update(func(s *WriterStats) { s.Changes += int64(len(items)) })
		for _, it := range items {
			it.finish(nil)
		}
		return
	}
	if len(items) == 1 && !errors.Is(err, ErrClosed) {
		w.stats.update(func(s *WriterStats) { s.Failed++ })
		w.reject(items[0], err)
		return
	}
	if errors.Is(err, ErrClosed) {
		w.r.log.Error("recorder: changes not recorded", "changes", len(items), "err", err)
		w.stats.update(func(s *WriterStats) { s.Failed += int64(len(items)) })
		for _, it := range items {
			it.finish(err)
		}
		return
	}
	if !split && w.salvage(items) {
		return
	}
	mid := len(items) / 2
	w.process(items[:mid], true)
	w.process(items[mid:], true)
}

// recovered logs the end of a run of failures or of a full queue, once.
func (w *writer) recovered() {
	now := time.Now()
	if ok, d, n := w.retries.End(now); ok {
		w.r.log.Info("recorder: database writes succeed again", "retries", n, "after", d.Round(time.Millisecond))
	}
	if w.q.len() < w.q.limit {
		if ok, d, n := w.full.End(now); ok {
			w.r.log.Info("recorder: write queue has room again", "refused", n, "after", d.Round(time.Millisecond))
		}
	}
}

const permanentTries = 3

// commit plans items once and applies the plan in one transaction,
// retrying as the package comment says.
func (w *writer) commit(items []item, split bool) error {
	var p *plan
	backoff := 20 * time.Millisecond
	fails := 0
	tries := permanentTries
	if split {
		tries = 1
	}
	for {
		var err error
		if p == nil {
			p, err = w.plan(items)
		}
		if err == nil {
			start := time.Now()
			err = w.apply(p)
			if err == nil {
				d := time.Since(start)
				w.stats.update(func(s *WriterStats) {
					s.Batches++
					s.LastBatch = d
					s.TotalBatch += d
					s.MaxBatch = max(s.MaxBatch, d)
				})
				if f := w.r.cfg.OnCommit; f != nil {
					f(len(items), d)
				}
				w.adopt(p)
				return nil
			}
			if !p.replay {
				// The first attempt may have used COPY, which fails on a
				// row already stored; replaying with ON CONFLICT settles
				// that at once (not counted as a failure).
				p.replay = true
				if w.mayHaveCopied(p) && !isTransient(err) && w.ctx.Err() == nil {
					continue
				}
			}
		}
		var fe *fencedError
		if errors.As(err, &fe) {
			return err // not the database's fault: never retried
		}
		if w.ctx.Err() != nil {
			return fmt.Errorf("%w: %v", ErrClosed, err)
		}
		transient := isTransient(err)
		if !transient {
			fails++
			if fails >= tries || isPermanent(err) {
				return err
			}
		}
		w.stats.update(func(s *WriterStats) { s.Retries++ })
		if ok, n := w.retries.Hit(time.Now()); ok {
			if n == 1 {
				w.r.log.Warn("recorder: write failed, retrying", "changes", len(items),
					"transient", transient, "backoff", backoff, "err", err)
			} else {
				w.r.log.Warn("recorder: writes still failing, retrying", "retries", n,
					"per", logsummary.Every, "queued", w.q.len(), "err", err)
			}
		}
		select {
		case <-time.After(backoff):
		case <-w.ctx.Done():
			return fmt.Errorf("%w: %v", ErrClosed, err)
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

// mayHaveCopied reports whether applying p the first time used COPY (as
// insertMessages decides): only then is a free replay worth an attempt.
func (w *writer) mayHaveCopied(p *plan) bool {
	return w.r.db.Dialector.Name() == "postgres" && len(p.messages) >= copyMinRows
}

// isPermanent reports an error about the data written (a value the
// column cannot hold, a constraint): retrying cannot help, the batch is
// split at once to isolate the change.
func isPermanent(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code[:min(2, len(pe.Code))] {
		case "22", // data exception: 22001 too long, 22021 NUL or bad encoding, 22P02 ...
			"23", // integrity constraint violation
			"42", // syntax error or access rule violation
			"54": // program limit exceeded (e.g. a row too large)
			return true
		}
		return false
	}
	if c, ok := sqliteCode(err); ok {
		switch c {
		case 18, 19, 20, 25: // TOOBIG, CONSTRAINT, MISMATCH, RANGE
			return true
		}
	}
	return false
}

// isTransient reports whether err means "the database is unavailable now"
// rather than "this change is wrong".
func isTransient(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, context.Canceled) {
		return false
	}
	if errors.Is(err, driver.ErrBadConn) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, net.ErrClosed) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, syscall.ENOSPC) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		c := pe.Code
		return strings.HasPrefix(c, "08") || strings.HasPrefix(c, "53") || strings.HasPrefix(c, "57P") ||
			c == "40001" || c == "40P01" || c == "55P03" || c == "58030"
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) || pgconn.SafeToRetry(err) || pgconn.Timeout(err) {
		return true
	}
	if c, ok := sqliteCode(err); ok {
		switch c {
		case 5, 6, 10, 13, 14: // BUSY, LOCKED, IOERR, FULL, CANTOPEN
			return true
		}
	}
	msg := strings.ToLower(err.Error())
	for _, s := range []string{"conn closed", "connection reset", "broken pipe", "database is locked",
		"bad connection", "terminating connection", "the database system is", "connection refused",
		"unexpected eof", "closed network connection"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}
