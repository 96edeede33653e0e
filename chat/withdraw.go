package chat

import (
	"errors"
	"slices"
)

// Withdrawal. Chat fans a change out before the store has it (the real-time
// path never waits on a database), so a change the store refuses for good
// (ErrRejected) has already been shown. Validation in parse makes that
// impossible for what chat knows of the schema; this is the rule for
// anything else: the room's copy is corrected to what the store holds and
// everyone who may see the message is told, with a "withdrawn" event:
//   - a refused new message is removed (the event has no message); its
//     sender's ack waiters got a "rejected" error, and a retry with the same
//     clientId gets it again;
//   - a refused edit, reaction, pin or delete is undone: the event carries
//     the message as stored, which replaces the client's copy.

// reconcile runs once no write about e is pending and at least one was
// refused. It never holds r.mu while it reads the store.
func (r *room) reconcile(e *entry) {
	for {
		r.mu.Lock()
		gen, id := e.gen, e.msg.ID
		r.mu.Unlock()
		e.mu.Lock()
		state := e.state
		e.mu.Unlock()
		gone := state == writeRejected

		var stored *Message
		if !gone {
			ctx, cancel := r.srv.storeCtx()
			m, err := r.srv.store.Message(ctx, r.name, id)
			cancel()
			switch {
			case errors.Is(err, ErrNotFound) && state != writeDurable:
				return // not stored yet: a retry of the message writes its current state
			case errors.Is(err, ErrNotFound):
				// Not in the store at all: stored stays nil, e is withdrawn.
			case err != nil:
				r.srv.stats.storeErrors.Add(1)
				r.srv.log.Warn("chat: cannot read back a message whose change was refused", "room", r.name, "id", id, "err", err)
				return
			default:
				stored = m
			}
		}

		r.mu.Lock()
		if e.gen != gen || e.pending.Load() > 0 {
			// Another write about e was queued meanwhile: what was read may
			// be stale. Whoever finishes the last write reconciles again,
			// unless it already finished (then this loop does).
			e.refused.Store(true)
			again := e.pending.Load() == 0 && e.refused.Swap(false)
			r.mu.Unlock()
			if again {
				continue
			}
			return
		}
		r.withdrawLocked(e, stored)
		r.mu.Unlock()
		return
	}
}

// withdrawLocked removes e (stored == nil) or resets it to stored, and tells
// who may see it.
func (r *room) withdrawLocked(e *entry, stored *Message) {
	r.srv.stats.withdrawn.Add(1)
	ev := evWithdrawn{Type: "withdrawn", ID: e.msg.ID, Seq: e.msg.Seq}
	if stored == nil {
		r.srv.log.Warn("chat: a message the store refused was withdrawn", "room", r.name, "seq", e.msg.Seq)
		r.window = slices.DeleteFunc(r.window, func(x *entry) bool { return x == e })
		delete(r.byID, e.msg.ID)
		delete(r.cold, e.msg.ID)
		delete(r.pins, e.msg.ID)
		// byClient keeps pointing at e (state writeRejected): a retry with
		// the same clientId is answered "rejected", not created again.
		r.sendVisibleLocked(marshal(&ev), &e.msg)
		return
	}
	r.srv.log.Warn("chat: a change the store refused was withdrawn", "room", r.name, "seq", e.msg.Seq)
	m := stored.Clone()
	m.Room = r.name
	e.msg = m
	if m.Pinned {
		r.pins[m.ID] = e
	} else {
		delete(r.pins, m.ID)
	}
	ev.Message = &e.msg
	r.sendVisibleLocked(marshal(&ev), &e.msg)
}
