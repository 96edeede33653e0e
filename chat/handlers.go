package chat

import (
	"context"
	"errors"
	"sort"
	"time"

	"github.com/oklog/ulid/v2"
)

// handleChat creates a message. Store reads it may need (idempotency after a
// restart, the attachment, an old reply target) happen before the room lock
// is taken; the id, seq, fan-out and store write then happen under it, so
// that seq order, delivery order and write order are the same.
func (s *session) handleChat(a *action) *Error {
	if !s.who.Grant.PublishData() {
		return errNoChat
	}
	if e := s.checkChatE2EE(a); e != nil {
		return e
	}
	r := s.r
	srv := r.srv
	key := clientKey{s.who.Identity, a.clientID}

	r.mu.Lock()
	if e := s.liveLocked(); e != nil {
		r.mu.Unlock()
		return e
	}
	if ref, ok := r.byClient[key]; ok {
		s.repeatAckLocked(ref, a.clientID)
		r.mu.Unlock()
		return nil
	}
	checkStore := r.checkStore
	r.mu.Unlock()

	// A context (and its timer) only when the store is read: most messages
	// never touch it.
	if checkStore || a.kind != KindText {
		ctx, cancel := srv.storeCtx()
		defer cancel()
		return s.createChecked(ctx, a, key, checkStore)
	}
	return s.create(nil, a, key)
}

// createChecked does the store reads a message may need before create:
// idempotency after a restart, and the attachment.
func (s *session) createChecked(ctx context.Context, a *action, key clientKey, checkStore bool) *Error {
	r := s.r
	srv := r.srv
	if checkStore {
		m, err := srv.store.ByClientID(ctx, r.name, s.who.Identity, a.clientID)
		if err == nil {
			s.send(ackPacket(a.clientID, m.ID, m.Seq, m.CreatedAt))
			return nil
		}
		if !errors.Is(err, ErrNotFound) {
			return s.storeFailed("ByClientID", err)
		}
	}
	var att *Attachment
	if a.kind != KindText {
		at, err := srv.store.Attachment(ctx, r.name, a.attachmentID)
		switch {
		case errors.Is(err, ErrNotFound) || (err == nil && at.Room != r.name):
			return errorf(CodeNotFound, "no such attachment")
		case err != nil:
			return s.storeFailed("Attachment", err)
		case at.Uploader != s.who.Identity:
			return errorf(CodeForbidden, "you did not upload this attachment")
		case a.kind == KindImage && !at.Image:
			return badPacket("attachment is not an image")
		}
		c := *at
		att = &c
	}
	return s.create(att, a, key)
}

// create assigns id, seq and time, fans the message out and queues its
// write.
func (s *session) create(att *Attachment, a *action, key clientKey) *Error {
	r := s.r
	srv := r.srv
	if a.replyTo != "" {
		// lockMessage returns with r.mu held.
		target, e := s.lockMessage(a.replyTo)
		if e != nil {
			return e
		}
		if target.msg.Private() {
			// A reply to a private message stays among its participants,
			// or its id would tell others the conversation exists.
			if len(a.to) == 0 {
				r.mu.Unlock()
				return errorf(CodeForbidden, "a reply to a private message must be private")
			}
			for _, id := range a.to {
				if !target.msg.VisibleTo(id) {
					r.mu.Unlock()
					return errorf(CodeForbidden, "a reply to a private message must stay among its participants")
				}
			}
		}
	} else {
		r.mu.Lock()
	}
	defer r.mu.Unlock()
	// State may have changed while the lock was released.
	if e := s.liveLocked(); e != nil {
		return e
	}
	if ref, ok := r.byClient[key]; ok {
		s.repeatAckLocked(ref, a.clientID)
		return nil
	}

	now := time.Now().UTC().Truncate(time.Millisecond)
	r.lastSeq++
	e := &entry{msg: Message{
		ID:         ulid.MustNew(ulid.Timestamp(now), ulid.DefaultEntropy()).String(),
		Room:       r.name,
		Seq:        r.lastSeq,
		Sender:     s.who.Identity,
		SenderName: s.name,
		Kind:       a.kind,
		Text:       a.text,
		E2EE:       a.env,
		To:         a.to,
		ReplyTo:    a.replyTo,
		ClientID:   a.clientID,
		Attachment: att,
		CreatedAt:  now,
	}}
	e.ack = ackPacket(a.clientID, e.msg.ID, e.msg.Seq, now)
	e.waiters = []Conn{s.c}
	srv.stats.messages.Add(1)

	if s.typing && sameSet(s.typingTo, a.to) {
		s.stopTypingLocked(true) // sending ends typing, without a second packet from the client
	}
	// Fan out first (the sender sees its message before its ack), then
	// queue the write; the ack waits for the write to be durable.
	r.sendVisibleLocked(marshal(&evMessage{Type: "message", Message: &e.msg}), &e.msg)
	r.appendLocked(e, key)
	s.writeMessageLocked(e)
	return nil
}

// writeMessageLocked queues the message's write; its done acks every
// waiting connection, or tells them to retry.
func (s *session) writeMessageLocked(e *entry) {
	m := e.msg.Clone()
	clientID := m.ClientID
	s.r.writeLocked(Change{Kind: ChangeMessage, At: m.CreatedAt, Message: &m}, e, func(err error) {
		e.mu.Lock()
		waiters := e.waiters
		e.waiters = nil
		rejected := errors.Is(err, ErrRejected)
		switch {
		case err == nil:
			e.state = writeDurable
		case rejected:
			e.state = writeRejected // room.reconcile withdraws it
		default:
			e.state = writeFailed
		}
		e.mu.Unlock()
		b := e.ack
		switch {
		case rejected:
			b = errorPacket(errRejected.withClientID(clientID))
		case err != nil:
			b = errorPacket(errUnavailable.withClientID(clientID))
		}
		for _, c := range waiters {
			c.Send(b)
		}
	})
}

// repeatAckLocked answers a retried clientId: the same ack if the message is
// durable, the ack later if its write is still pending, and a new write
// attempt of the same message (same id and seq, current state) if the
// previous one failed. Nothing is created or fanned out again.
func (s *session) repeatAckLocked(ref ackRef, clientID string) {
	e := ref.e
	if e == nil {
		s.send(ackPacket(clientID, ref.id, ref.seq, ref.at))
		return
	}
	e.mu.Lock()
	st := e.state
	switch st {
	case writeDurable:
	case writePending:
		e.waiters = append(e.waiters, s.c)
	case writeFailed:
		e.state = writePending
		e.waiters = append(e.waiters, s.c)
	}
	e.mu.Unlock()
	switch st {
	case writeDurable:
		s.send(e.ack)
	case writeRejected:
		s.sendError(errRejected.withClientID(clientID))
	case writeFailed:
		s.writeMessageLocked(e)
	}
}

// liveLocked refuses work on a detached session, a closed service or a
// muted participant.
func (s *session) liveLocked() *Error {
	if s.detached || s.r.closed {
		return errUnavailable
	}
	if s.r.muted[s.who.Identity] {
		return errMuted
	}
	return nil
}

func (s *session) storeFailed(what string, err error) *Error {
	s.r.srv.stats.storeErrors.Add(1)
	s.log.Warn("chat: store read failed", "op", what, "err", err)
	return errUnavailable
}

// lockMessage finds a message s may see and returns with r.mu held; on
// error r.mu is not held. A message older than the window is read from the
// store (outside the lock) and kept as a cold entry while it is in use, so
// that later changes apply to one in-memory copy.
func (s *session) lockMessage(id string) (*entry, *Error) {
	r := s.r
	r.mu.Lock()
	e := r.byID[id]
	if e == nil && r.floor > 0 {
		r.mu.Unlock()
		ctx, cancel := r.srv.storeCtx()
		m, err := r.srv.store.Message(ctx, r.name, id)
		cancel()
		if errors.Is(err, ErrNotFound) {
			return nil, errNotFound
		}
		if err != nil {
			return nil, s.storeFailed("Message", err)
		}
		r.mu.Lock()
		e = r.byID[id]
		if e == nil && m.Seq <= r.floor {
			e = durableEntry(m)
			r.byID[id] = e
			r.cold[id] = e
		}
	}
	if e == nil || !e.msg.VisibleTo(s.who.Identity) {
		r.mu.Unlock()
		return nil, errNotFound // never tell a private message exists
	}
	return e, nil
}

// lockLiveMessage is lockMessage for a change that a muted participant or
// a closing room may not make: on error r.mu is not held.
func (s *session) lockLiveMessage(id string) (*entry, *Error) {
	e, perr := s.lockMessage(id)
	if perr != nil {
		return nil, perr
	}
	if perr := s.liveLocked(); perr != nil {
		s.r.mu.Unlock()
		return nil, perr
	}
	return e, nil
}

// handleRead records a read horizon. Horizons only move forward; a read
// event carries only identity and seq and goes to everyone in the room.
// That reveals no content: seq numbers are room-wide, and a participant
// already sees gaps where private messages not meant for it sit.
func (s *session) handleRead(a *action) *Error {
	r := s.r
	r.mu.Lock()
	defer r.mu.Unlock()
	if s.detached || r.closed {
		return errUnavailable
	}
	if a.seq > r.lastSeq {
		return errorf(CodeNotFound, "seq %d is after the room's last message", a.seq)
	}
	me := s.who.Identity
	if a.seq <= r.reads[me] {
		return nil
	}
	r.reads[me] = a.seq
	if p := r.people[me]; p == nil || !p.hidden {
		r.sendAllLocked(marshal(&evRead{Type: "read", Identity: me, Seq: a.seq}))
	}
	r.writeLocked(Change{Kind: ChangeRead, Identity: me, Seq: a.seq}, nil, nil)
	return nil
}

// handleHistory answers a page of messages before a seq, from the window
// when it covers the page and from the store for what is older (the store
// has everything older than the window: messages leave it only durable).
func (s *session) handleHistory(a *action) *Error {
	r := s.r
	me := s.who.Identity
	page := evHistory{Type: "history", ClientID: a.clientID, Before: a.before, Limit: a.limit}
	r.mu.Lock()
	if s.detached || r.closed {
		r.mu.Unlock()
		return errUnavailable
	}
	before := a.before
	if before > r.lastSeq {
		before = 0
	}
	msgs, complete, more := r.recentLocked(me, before, a.limit)
	page.LastSeq = r.lastSeq
	if complete {
		page.Messages, page.More = nonNil(msgs), more
		b := marshal(&page)
		r.mu.Unlock()
		s.send(b)
		return nil
	}
	// Copy what the window gave before releasing the lock.
	recent := make([]Message, len(msgs))
	for i, m := range msgs {
		recent[i] = m.Clone()
	}
	storeBefore := r.floor + 1
	if before > 0 && before < storeBefore {
		storeBefore = before
	}
	need := a.limit - len(recent)
	r.mu.Unlock()

	ctx, cancel := r.srv.storeCtx()
	older, err := r.srv.store.History(ctx, r.name, me, storeBefore, need)
	cancel()
	if err != nil {
		return s.storeFailed("History", err)
	}
	// A cold entry may have changes the store has not confirmed yet.
	r.mu.Lock()
	for i := range older {
		if e := r.byID[older[i].ID]; e != nil {
			older[i] = e.msg.Clone()
		}
	}
	r.mu.Unlock()
	out := make([]*Message, 0, len(older)+len(recent))
	for i := range older {
		if older[i].VisibleTo(me) { // belt and braces: never trust a filter we did not apply
			out = append(out, &older[i])
		}
	}
	for i := range recent {
		out = append(out, &recent[i])
	}
	page.Messages = out
	page.More = len(older) == need && storeBefore > 1
	s.send(marshal(&page))
	return nil
}

func sortParticipants(p []Participant) {
	sort.Slice(p, func(i, j int) bool { return p[i].Identity < p[j].Identity })
}
