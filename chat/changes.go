package chat

import (
	"errors"
	"time"
)

// Changes to an existing message: reactions, edits, deletes and pins. Each
// is fanned out at once and answered once stored (changeDone).

func (s *session) handleReaction(a *action) *Error {
	if !s.who.Grant.PublishData() {
		return errNoChat
	}
	r := s.r
	e, perr := s.lockLiveMessage(a.id)
	if perr != nil {
		return perr
	}
	defer r.mu.Unlock()
	m := &e.msg
	if m.Deleted {
		return errNotFound
	}
	me := s.who.Identity
	i := reactionIndex(m.Reactions, a.emoji)
	has := i >= 0
	if a.on {
		if has && contains(m.Reactions[i].Identities, me) {
			return s.ackNoop(a.clientID, m.ID, m.Seq) // one per user per emoji: adding twice is a no-op
		}
		if !has {
			if len(m.Reactions) >= r.srv.cfg.MaxReactions {
				return errorf(CodeTooMany, "at most %d different reactions on a message", r.srv.cfg.MaxReactions)
			}
			// A new emoji goes last: reactions are in first-use order.
			m.Reactions = append(m.Reactions, Reaction{Emoji: a.emoji})
			i = len(m.Reactions) - 1
		}
		m.Reactions[i].Identities = append(m.Reactions[i].Identities, me)
	} else {
		if !has {
			return s.ackNoop(a.clientID, m.ID, m.Seq)
		}
		ids := m.Reactions[i].Identities
		j := indexOf(ids, me)
		if j < 0 {
			return s.ackNoop(a.clientID, m.ID, m.Seq)
		}
		ids = append(ids[:j], ids[j+1:]...)
		if len(ids) == 0 {
			m.Reactions = append(m.Reactions[:i], m.Reactions[i+1:]...)
		} else {
			m.Reactions[i].Identities = ids
		}
	}
	r.sendVisibleLocked(marshal(&evReaction{Type: "reaction", ID: m.ID, Seq: m.Seq, Emoji: a.emoji, Identity: me, On: a.on}), m)
	r.writeLocked(Change{Kind: ChangeReaction, MessageID: m.ID, Identity: me, Emoji: a.emoji, On: a.on}, e, s.changeDone(a.clientID, m.ID, m.Seq))
	return nil
}

// changeDone answers a change this connection made once the store has
// it: an ack when the packet carried a clientId, so the client can confirm
// it and retry it idempotently, or an error. The event was already fanned
// out (the real-time path does not wait for the database). id and seq name
// the message changed ("" and 0 for a mute).
func (s *session) changeDone(clientID, id string, seq int64) func(error) {
	return func(err error) {
		switch {
		case errors.Is(err, ErrRejected):
			s.c.Send(errorPacket(errRejected.withClientID(clientID)))
		case err != nil:
			s.c.Send(errorPacket(errUnavailable.withClientID(clientID)))
		case clientID != "":
			s.c.Send(changeAckPacket(clientID, id, seq))
		}
	}
}

// ackNoop answers a change that is already in place (a retry, or a
// reaction added twice): nothing is written, the ack says it holds.
func (s *session) ackNoop(clientID, id string, seq int64) *Error {
	if clientID != "" {
		s.send(changeAckPacket(clientID, id, seq))
	}
	return nil
}

func indexOf(list []string, s string) int {
	for i, x := range list {
		if x == s {
			return i
		}
	}
	return -1
}

func (s *session) handleEdit(a *action) *Error {
	if !s.who.Grant.PublishData() {
		return errNoChat
	}
	r := s.r
	e, perr := s.lockLiveMessage(a.id)
	if perr != nil {
		return perr
	}
	defer r.mu.Unlock()
	m := &e.msg
	if m.Deleted {
		return errNotFound
	}
	if m.Sender != s.who.Identity {
		return errorf(CodeForbidden, "you can only edit your own messages")
	}
	if perr := s.checkEditE2EE(a, m); perr != nil {
		return perr
	}
	if a.text == "" && m.Kind == KindText && a.env == nil {
		return errorf(CodeEmpty, "text is empty")
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	m.Text = a.text
	if a.env != nil {
		m.E2EE = a.env // replaced, never changed in place: copies share it
	}
	m.EditedAt = &now
	r.sendVisibleLocked(marshal(&evEdited{Type: "edited", ID: m.ID, Seq: m.Seq, Text: m.Text, E2EE: a.env, EditedAt: now}), m)
	r.writeLocked(Change{Kind: ChangeEdit, At: now, MessageID: m.ID, Identity: s.who.Identity, Text: m.Text, E2EE: a.env}, e, s.changeDone(a.clientID, m.ID, m.Seq))
	return nil
}

// handleDelete turns a message into a tombstone: text, attachment and
// reactions are gone for everyone, id and seq stay so the order is kept.
// Deleting a tombstone again is a no-op, so a retry is harmless. A muted
// participant may still delete its own messages.
func (s *session) handleDelete(a *action) *Error {
	if !s.who.Grant.PublishData() {
		return errNoChat
	}
	r := s.r
	e, perr := s.lockMessage(a.id)
	if perr != nil {
		return perr
	}
	defer r.mu.Unlock()
	if s.detached || r.closed {
		return errUnavailable
	}
	m := &e.msg
	if m.Sender != s.who.Identity && !s.who.Grant.RoomAdmin {
		return errorf(CodeForbidden, "you can only delete your own messages")
	}
	if m.Deleted {
		return s.ackNoop(a.clientID, m.ID, m.Seq)
	}
	me := s.who.Identity
	if m.Pinned {
		m.Pinned = false
		delete(r.pins, m.ID)
		r.sendVisibleLocked(marshal(&evPin{Type: "unpinned", ID: m.ID, Seq: m.Seq, By: me}), m)
		r.writeLocked(Change{Kind: ChangePin, MessageID: m.ID, Identity: me, On: false}, e, nil)
	}
	m.Deleted = true
	m.Text = ""
	m.E2EE = nil
	m.Attachment = nil
	m.Reactions = nil
	r.sendVisibleLocked(marshal(&evDeleted{Type: "deleted", ID: m.ID, Seq: m.Seq, By: me}), m)
	r.writeLocked(Change{Kind: ChangeDelete, MessageID: m.ID, Identity: me}, e, s.changeDone(a.clientID, m.ID, m.Seq))
	return nil
}

func (s *session) handlePin(a *action) *Error {
	if !s.who.Grant.PublishData() {
		return errNoChat
	}
	if !s.canPin() {
		return errNotAdmin
	}
	r := s.r
	e, perr := s.lockLiveMessage(a.id)
	if perr != nil {
		return perr
	}
	defer r.mu.Unlock()
	m := &e.msg
	on := a.op == opPin
	if m.Deleted {
		return errNotFound
	}
	if m.Pinned == on {
		return s.ackNoop(a.clientID, m.ID, m.Seq)
	}
	if on && len(r.pins) >= r.srv.cfg.MaxPinned {
		return errorf(CodeTooMany, "at most %d pinned messages", r.srv.cfg.MaxPinned)
	}
	m.Pinned = on
	ev := evPin{Type: "unpinned", ID: m.ID, Seq: m.Seq, By: s.who.Identity}
	if on {
		r.pins[m.ID] = e
		ev.Type = "pinned"
		ev.Message = m
	} else {
		delete(r.pins, m.ID)
	}
	r.sendVisibleLocked(marshal(&ev), m)
	r.writeLocked(Change{Kind: ChangePin, MessageID: m.ID, Identity: s.who.Identity, On: on}, e, s.changeDone(a.clientID, m.ID, m.Seq))
	return nil
}
