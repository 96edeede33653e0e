package chat

import "time"

// Departures. A participant whose last connection dropped without leaving
// (Departure.Lost) stays present for LeaveGrace, silently: a reconnect of
// the same identity within it is invisible to the others and records
// nothing. A room whose last participant left records ChangeEnd only once
// it has stayed empty for DepartureTimeout, so that a network blip of a
// lone participant does not end its meeting session. Timers only take
// room.mu and enqueue, as every handler does: no I/O under the lock.

// departure says why a session detaches.
type departure uint8

const (
	departLeft    departure = iota // an explicit leave, or a Conn that cannot tell
	departLost                     // the connection dropped: LeaveGrace applies
	departRemoved                  // kicked: announced with removed=true
)

// departureOf asks c why it went away.
func departureOf(c Conn) departure {
	if d, ok := c.(Departure); ok && d.Lost() {
		return departLost
	}
	return departLeft
}

// personGoneLocked handles the last connection of id detaching.
func (r *room) personGoneLocked(id string, p *person, how departure) {
	if how == departLost && r.srv.cfg.LeaveGrace > 0 && !r.closed {
		var t *time.Timer
		// The callback takes r.mu, which the caller holds until t is set.
		t = time.AfterFunc(r.srv.cfg.LeaveGrace, func() {
			r.mu.Lock()
			defer r.mu.Unlock()
			if r.people[id] == p && p.grace == t && p.conns == 0 {
				p.grace = nil
				r.leaveLocked(id, p, false)
			}
		})
		p.grace = t
		return
	}
	r.leaveLocked(id, p, how == departRemoved)
}

// leaveLocked announces and records that id left; the room's departure
// timer starts if it became empty.
func (r *room) leaveLocked(id string, p *person, removed bool) {
	delete(r.people, id)
	if !p.hidden {
		r.sendAllLocked(marshal(&evLeft{Type: "left", Identity: id, Removed: removed}))
	}
	r.writeLocked(Change{Kind: ChangeLeave, Identity: id}, nil, nil)
	if len(r.people) > 0 || r.closed {
		return
	}
	emptyAt := time.Now().UTC()
	if r.srv.cfg.DepartureTimeout <= 0 {
		r.writeLocked(Change{Kind: ChangeEnd, At: emptyAt}, nil, nil)
		return
	}
	var t *time.Timer
	t = time.AfterFunc(r.srv.cfg.DepartureTimeout, func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.ending == t {
			r.ending = nil
			r.writeLocked(Change{Kind: ChangeEnd, At: r.emptyAt}, nil, nil)
		}
	})
	r.ending, r.emptyAt = t, emptyAt
}

// returnLocked is an attach of id while it is present: in its grace (a
// reconnect), or the room in its departure timeout (a join that continues
// the session). It stops whichever timer runs.
func (r *room) returnLocked(p *person) {
	if p != nil && p.grace != nil {
		p.grace.Stop()
		p.grace = nil
	}
	if r.ending != nil {
		r.ending.Stop()
		r.ending = nil
	}
}

// settleLocked ends every pending departure at once (shutdown): the
// identities in their grace leave, and an empty room records ChangeEnd, so
// that no session stays open.
func (r *room) settleLocked() {
	for id, p := range r.people {
		if p.grace != nil && p.conns == 0 {
			p.grace.Stop()
			p.grace = nil
			r.leaveLocked(id, p, false)
		}
	}
	if r.ending != nil {
		r.ending.Stop()
		r.ending = nil
		r.writeLocked(Change{Kind: ChangeEnd, At: r.emptyAt}, nil, nil)
	}
}

// lingering reports whether the room must stay loaded although no session
// is attached: an identity in its grace, or a departure timer running.
func (r *room) lingeringLocked() bool {
	return len(r.people) > 0 || r.ending != nil
}
