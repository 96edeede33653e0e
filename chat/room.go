package chat

import (
	"errors"

	"golang.org/x/time/rate"

	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// writeState is where a new message's store write stands; its ack waits for
// durable.
type writeState uint8

const (
	writePending writeState = iota
	writeDurable
	writeFailed   // a temporary error: a retry with the clientId writes it again
	writeRejected // refused for good: withdrawn, a retry gets "rejected"
)

// entry is one message the room holds in memory: in the recent window, or
// older but pinned or being changed ("cold").
type entry struct {
	msg Message // guarded by room.mu

	// pending counts store writes about this message not yet reported
	// done; an entry leaves memory only at zero, so that the store, which
	// sees only completed writes, is then up to date about it.
	pending atomic.Int32
	// refused is set when the store refused a write about this message for
	// good; the last pending write to finish then reconciles the room's
	// copy with the store (room.reconcile). gen counts writes queued about
	// it (guarded by room.mu), so that reconcile knows its read is current.
	refused atomic.Bool
	gen     uint64

	// mu guards the fields below. done callbacks take it and never take
	// room.mu: a Store may call done synchronously inside Write, which
	// chat calls with room.mu held.
	mu      sync.Mutex
	state   writeState
	waiters []Conn // connections waiting for the ack
	ack     []byte // the ack packet, marshalled once
}

type clientKey struct{ sender, clientID string }

// ackRef is the idempotency record of a message: enough to repeat its ack
// after the entry has left memory (it was durable by then).
type ackRef struct {
	e   *entry // nil once evicted
	id  string
	seq int64
	at  time.Time
}

type person struct {
	name   string
	conns  int
	hidden bool
	host   bool // roomAdmin: shown as host in presence
	// grace runs while conns is 0 and the identity is kept present
	// (departure.go); nil otherwise.
	grace *time.Timer
}

// room is one room's chat state. Everything is guarded by mu, except the
// fields marked otherwise. Fan-out happens with mu held so that every
// recipient sees events in the same order; nothing under mu blocks or does
// I/O: an event is marshalled once and Conn.Send only enqueues it for each
// recipient's own writer, and Store.Write only enqueues the change (when
// the store is full it answers at once).
type room struct {
	srv  *Server
	name string

	ready   chan struct{} // closed once load ran; loadErr is then fixed
	loadErr error

	attaching int          // guarded by srv.mu
	pending   atomic.Int64 // store writes not yet done
	empty     atomic.Bool  // no session attached: drop when pending reaches 0

	lim *rate.Limiter // RoomRate; safe for concurrent use

	mu       sync.Mutex
	closed   bool
	sessions []*session
	people   map[string]*person // attached identities
	muted    map[string]bool
	keys     map[string]string // identity → last e2ee public key announced in this meeting (e2ee.go)
	reads    map[string]int64  // read horizons since the room was loaded
	lastSeq  int64
	floor    int64    // every message with seq > floor is in window
	window   []*entry // recent messages, by seq
	byID     map[string]*entry
	cold     map[string]*entry // in byID but seq <= floor
	pins     map[string]*entry
	byClient map[clientKey]ackRef
	clientQ  []clientKey // byClient keys in insertion order, to bound it
	// checkStore: byClient may not know every clientId of the room (the
	// room existed before it was loaded, or byClient was trimmed), so a
	// miss must be confirmed with Store.ByClientID.
	checkStore bool
	appended   int
	// ending is the departure timer, running while people is empty;
	// emptyAt is when the room became empty (departure.go).
	ending  *time.Timer
	emptyAt time.Time
}

func newRoom(srv *Server, name string, muted map[string]bool) *room {
	if muted == nil {
		muted = make(map[string]bool)
	}
	return &room{
		srv: srv, name: name, ready: make(chan struct{}),
		lim:    newLimiter(srv.cfg.RoomRate, srv.cfg.RoomBurst),
		people: make(map[string]*person), muted: muted, reads: make(map[string]int64), keys: make(map[string]string),
		byID: make(map[string]*entry), cold: make(map[string]*entry),
		pins: make(map[string]*entry), byClient: make(map[clientKey]ackRef),
	}
}

// load fills a new room from the store: last seq, the recent window and
// the pins. It runs once, before any session sees the room.
func (r *room) load() error {
	ctx, cancel := r.srv.storeCtx()
	defer cancel()
	st := r.srv.store
	last, err := st.LastSeq(ctx, r.name)
	if err != nil {
		return err
	}
	// Before the early return: a moderator may mute someone in a room
	// that has no message yet.
	muted, err := st.Muted(ctx, r.name)
	if err != nil {
		return err
	}
	for _, id := range muted {
		r.muted[id] = true
	}
	r.lastSeq = last
	if last == 0 {
		return nil // a new room: everything it will hold is in memory
	}
	r.checkStore = true
	recent, err := st.History(ctx, r.name, "", 0, r.srv.cfg.Window)
	if err != nil {
		return err
	}
	pinned, err := st.Pinned(ctx, r.name, "")
	if err != nil {
		return err
	}
	for i := range recent {
		m := &recent[i]
		e := durableEntry(m)
		r.window = append(r.window, e)
		r.byID[m.ID] = e
		if m.ClientID != "" {
			r.rememberClientLocked(clientKey{m.Sender, m.ClientID}, ackRef{e: e, id: m.ID, seq: m.Seq, at: m.CreatedAt})
		}
		r.lastSeq = max(r.lastSeq, m.Seq)
	}
	if len(recent) == r.srv.cfg.Window {
		r.floor = recent[0].Seq - 1
	}
	for i := range pinned {
		m := &pinned[i]
		e := r.byID[m.ID]
		if e == nil {
			e = durableEntry(m)
			r.byID[m.ID] = e
			r.cold[m.ID] = e
		}
		r.pins[m.ID] = e
	}
	return nil
}

func durableEntry(m *Message) *entry {
	e := &entry{msg: *m, state: writeDurable}
	if m.ClientID != "" {
		e.ack = ackPacket(m.ClientID, m.ID, m.Seq, m.CreatedAt)
	}
	return e
}

// attach adds s and sends it the snapshot (presence, pins, replay) before any
// live event can reach it, since both happen under mu.
func (r *room) attach(s *session) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return false
	}
	r.empty.Store(false)
	r.sessions = append(r.sessions, s)
	id := s.who.Identity
	p := r.people[id]
	first := p == nil
	if first {
		p = &person{name: s.name, hidden: s.who.Grant.Hidden, host: s.who.Grant.RoomAdmin}
		r.people[id] = p
	}
	r.returnLocked(p)
	p.conns++
	r.announceKeyLocked(s, p.hidden)
	s.sendSnapshotLocked()
	if first {
		// Join and leave are per identity, not per connection: a second
		// tab is not a second participant. The first attach records
		// ChangeJoin, the last detach ChangeLeave (after LeaveGrace if the
		// connection was lost: a reconnect within it is no join).
		if !p.hidden {
			r.sendAllExceptLocked(marshal(&evJoined{Type: "joined", Participant: r.participantLocked(id, p)}), s)
		}
		r.writeLocked(Change{Kind: ChangeJoin, Identity: id, Name: p.name}, nil, nil)
	}
	return true
}

// detachLocked removes s; it reports whether the room has no session left.
func (r *room) detachLocked(s *session, how departure) bool {
	if s.detached {
		return false
	}
	s.detached = true
	s.stopTypingLocked(true)
	if i := slices.Index(r.sessions, s); i >= 0 {
		last := len(r.sessions) - 1
		r.sessions[i] = r.sessions[last]
		r.sessions[last] = nil
		r.sessions = r.sessions[:last]
	}
	id := s.who.Identity
	if p := r.people[id]; p != nil {
		p.conns--
		if p.conns <= 0 {
			r.personGoneLocked(id, p, how)
		}
	}
	if len(r.sessions) == 0 {
		r.empty.Store(true)
		return true
	}
	return false
}

func (r *room) participantLocked(id string, p *person) Participant {
	return Participant{Identity: id, Name: p.name, Muted: r.muted[id], Host: p.host, Read: r.reads[id], E2EEKey: r.keys[id]}
}

// writeLocked queues c in the store, in the order chat decided it (the
// caller holds mu). e, if set, is the message c is about: it stays in
// memory until the write is done. done runs on the store's goroutine and
// must not take r.mu.
func (r *room) writeLocked(c Change, e *entry, done func(error)) {
	if r.closed {
		if done != nil {
			done(errClosed)
		}
		return
	}
	c.Room = r.name
	if c.At.IsZero() {
		c.At = time.Now().UTC()
	}
	srv := r.srv
	srv.writes.Add(1)
	r.pending.Add(1)
	if e != nil {
		e.pending.Add(1)
		e.gen++
	}
	srv.store.Write(c, func(err error) {
		srv.noteWrite(r.name, c.Kind, err)
		reconcile := false
		if e != nil {
			if errors.Is(err, ErrRejected) {
				e.refused.Store(true)
			}
			reconcile = e.pending.Add(-1) == 0 && e.refused.Swap(false)
		}
		if done != nil {
			done(err)
		}
		if reconcile {
			// done must not take r.mu (a Store may call it inside Write):
			// the room is corrected on a goroutine of its own. srv.writes
			// covers it, so Close waits for it.
			srv.writes.Add(1)
			go func() {
				defer srv.writes.Done()
				r.reconcile(e)
			}()
		}
		if r.pending.Add(-1) == 0 && r.empty.Load() {
			go srv.maybeDrop(r)
		}
		srv.writes.Done()
	})
}

// Fan-out. Each helper sends the same bytes to every chosen session.

func (r *room) sendAllLocked(b []byte) {
	r.srv.stats.events.Add(1)
	for _, s := range r.sessions {
		s.send(b)
	}
}

func (r *room) sendAllExceptLocked(b []byte, except *session) {
	r.srv.stats.events.Add(1)
	for _, s := range r.sessions {
		if s != except {
			s.send(b)
		}
	}
}

// sendVisibleLocked sends an event about m only to who may see m: the one
// place private messages are filtered for live events.
func (r *room) sendVisibleLocked(b []byte, m *Message) {
	if !m.Private() {
		r.sendAllLocked(b)
		return
	}
	r.srv.stats.events.Add(1)
	for _, s := range r.sessions {
		if m.VisibleTo(s.who.Identity) {
			s.send(b)
		}
	}
}

// appendLocked adds a new message to the window and trims it.
func (r *room) appendLocked(e *entry, key clientKey) {
	r.window = append(r.window, e)
	r.byID[e.msg.ID] = e
	r.rememberClientLocked(key, ackRef{e: e, id: e.msg.ID, seq: e.msg.Seq, at: e.msg.CreatedAt})
	r.evictLocked()
}

// evictLocked keeps the window at cfg.Window messages. Only messages whose
// writes are all done leave it, so that everything older than floor can be
// read from the store; if the store stalls the window grows, up to four
// times its size, after which memory wins and a warning is logged.
func (r *room) evictLocked() {
	limit := r.srv.cfg.Window
	n := 0
	for len(r.window)-n > limit {
		e := r.window[n]
		if e.pending.Load() > 0 && len(r.window)-n <= 4*limit {
			break
		}
		e.mu.Lock()
		durable := e.state == writeDurable
		e.mu.Unlock()
		r.srv.noteEvict(r.name, e.msg.Seq, e.pending.Load() > 0, durable)
		r.floor = e.msg.Seq
		if e.msg.Pinned || e.pending.Load() > 0 {
			r.cold[e.msg.ID] = e
		} else {
			delete(r.byID, e.msg.ID)
		}
		if e.msg.ClientID != "" {
			k := clientKey{e.msg.Sender, e.msg.ClientID}
			if ref, ok := r.byClient[k]; ok && ref.e == e {
				e.mu.Lock()
				if e.state == writeDurable {
					ref.e = nil
				}
				e.mu.Unlock()
				r.byClient[k] = ref
			}
		}
		r.window[n] = nil
		n++
	}
	if n > 0 {
		r.window = r.window[n:]
	}
	r.appended++
	if r.appended%64 == 0 && len(r.cold) > len(r.pins) {
		for id, e := range r.cold {
			if !e.msg.Pinned && e.pending.Load() == 0 {
				delete(r.cold, id)
				delete(r.byID, id)
			}
		}
	}
}

// maxClientIDs bounds the in-memory idempotency map per room; past it the
// oldest half is forgotten and misses are confirmed with the store.
const maxClientIDs = 100_000

func (r *room) rememberClientLocked(k clientKey, ref ackRef) {
	if _, ok := r.byClient[k]; !ok {
		r.clientQ = append(r.clientQ, k)
	}
	r.byClient[k] = ref
	if len(r.clientQ) > maxClientIDs {
		half := len(r.clientQ) / 2
		for _, old := range r.clientQ[:half] {
			if ref := r.byClient[old]; ref.e == nil {
				delete(r.byClient, old)
			}
		}
		r.clientQ = append([]clientKey(nil), r.clientQ[half:]...)
		r.checkStore = true
	}
}

// recentLocked returns up to limit messages viewer may see with seq <
// before (0: latest) from the window, oldest first, and whether the window
// alone answers (no older visible message can exist outside it).
func (r *room) recentLocked(viewer string, before int64, limit int) (out []*Message, complete bool, more bool) {
	i := len(r.window) - 1
	if before > 0 {
		i = sort.Search(len(r.window), func(j int) bool { return r.window[j].msg.Seq >= before }) - 1
	}
	for ; i >= 0 && len(out) < limit; i-- {
		m := &r.window[i].msg
		if m.VisibleTo(viewer) {
			out = append(out, m)
		}
	}
	slices.Reverse(out)
	if len(out) == limit {
		return out, true, i >= 0 || r.floor > 0
	}
	return out, r.floor == 0, false
}

// pinnedLocked returns the pins viewer may see, oldest first.
func (r *room) pinnedLocked(viewer string) []*Message {
	out := make([]*Message, 0, len(r.pins))
	for _, e := range r.pins {
		if e.msg.VisibleTo(viewer) {
			out = append(out, &e.msg)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Seq < out[j].Seq })
	return out
}
