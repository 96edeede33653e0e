package chat

import (
	"encoding/json"
	"log/slog"
	"time"

	"github.com/backchannel-rtc/backchannel/auth"
	"golang.org/x/time/rate"
)

// session is one attached connection. Receive runs on the transport's
// single reader goroutine for this connection; Detach and Overflowed may run
// on others, so shared state lives under room.mu.
type session struct {
	r   *room
	c   Conn
	who auth.Identity
	// name is the token's display name made storable (storableName).
	name string
	log  *slog.Logger

	lim, typingLim, readLim *rate.Limiter // safe for concurrent use
	violations              int           // Receive goroutine only

	// guarded by r.mu
	detached    bool
	typing      bool
	typingTo    []string
	typingTimer *time.Timer
	typingGen   uint64
}

var _ Session = (*session)(nil)

func newSession(r *room, c Conn, who auth.Identity) *session {
	cfg := &r.srv.cfg
	return &session{
		r: r, c: c, who: who, name: storableName(who.DisplayName()),
		log:       r.srv.log.With("room", r.name, "identity", who.Identity, "conn", c.ID()),
		lim:       newLimiter(cfg.Rate, cfg.Burst),
		typingLim: newLimiter(cfg.TypingRate, cfg.TypingBurst),
		readLim:   newLimiter(cfg.ReadRate, cfg.ReadBurst),
	}
}

func (s *session) send(b []byte) {
	st := &s.r.srv.stats
	st.deliveries.Add(1)
	if !s.c.Send(b) {
		// The transport calls Overflowed once the queue drains.
		st.dropped.Add(1)
	}
}

func (s *session) sendError(e *Error) {
	st := &s.r.srv.stats
	st.errors.Add(1)
	if e.Violation() {
		st.violations.Add(1)
	}
	if e.Code == CodeRateLimited {
		st.rateLimited.Add(1)
	}
	s.send(errorPacket(e))
}

// Receive implements Session. Every refusal is an error packet on the same
// channel; only MaxViolations consecutive protocol violations close the
// connection, so one broken packet never costs a participant the meeting.
func (s *session) Receive(b []byte) {
	cfg := &s.r.srv.cfg
	a, perr := parse(b, cfg)
	if perr != nil {
		if perr.ClientID == "" {
			perr = perr.withClientID(peekClientID(b, cfg.MaxPacketBytes))
		}
		s.sendError(perr)
		s.r.srv.packets.add(0, perr.Code)
		if perr.Violation() {
			s.violations++
			s.log.Debug("chat: protocol violation", "code", perr.Code, "msg", perr.Message)
			if cfg.MaxViolations > 0 && s.violations >= cfg.MaxViolations {
				s.log.Warn("chat: closing connection after repeated protocol violations", "count", s.violations)
				s.c.Close("protocol violation")
			}
		}
		return
	}
	s.violations = 0
	e := s.handle(&a)
	if e == nil {
		s.r.srv.packets.add(a.op, "")
	} else {
		s.r.srv.packets.add(a.op, e.Code)
		s.sendError(e.withClientID(a.clientID))
		if e.Code == CodeRateLimited {
			s.pause(e.RetryAfter)
		}
	}
}

// maxPause bounds how long Receive holds a flooding connection.
const maxPause = 500 * time.Millisecond

// pause holds this connection's reader for the retry-after: Receive runs
// on the connection's own goroutine, so only this connection waits, its
// transport stops reading and flow control slows the sender down. A client
// that sends as fast as it can then costs the server its rate limit, not
// its line rate, and never crowds out anyone else.
func (s *session) pause(d time.Duration) {
	if d <= 0 {
		return
	}
	s.r.srv.stats.paused.Add(1)
	time.Sleep(min(d, maxPause))
}

// handle runs one action; a returned error becomes the error packet.
func (s *session) handle(a *action) *Error {
	now := time.Now()
	switch a.op {
	case opTyping:
		if e := allow(s.typingLim, now); e != nil {
			return e
		}
		return s.handleTyping(a)
	case opRead:
		if e := allow(s.readLim, now); e != nil {
			return e
		}
		return s.handleRead(a)
	}
	if e := allow(s.lim, now); e != nil {
		return e
	}
	if a.op != opHistory && a.op != opKeys {
		if e := allow(s.r.lim, now); e != nil {
			e.Message = "the room is receiving too many packets; slow down"
			return e
		}
	}
	switch a.op {
	case opChat:
		return s.handleChat(a)
	case opReaction:
		return s.handleReaction(a)
	case opEdit:
		return s.handleEdit(a)
	case opDelete:
		return s.handleDelete(a)
	case opPin, opUnpin:
		return s.handlePin(a)
	case opMute, opUnmute:
		return s.handleMute(a)
	case opKick:
		return s.handleKick(a)
	case opHistory:
		return s.handleHistory(a)
	case opKeys:
		return s.handleKeys(a)
	}
	return badPacket("unhandled packet")
}

// Overflowed implements Session. The transport dropped `dropped` packets
// for this connection; chat cannot know which, so it tells the client
// (resync with the room's last seq) and sends the same snapshot as on attach:
// presence, pins, and the latest messages with their current state. The
// client merges them and pages back with history from its last known seq.
func (s *session) Overflowed(dropped int) {
	r := s.r
	r.mu.Lock()
	defer r.mu.Unlock()
	if s.detached {
		return
	}
	r.srv.stats.resyncs.Add(1)
	s.log.Info("chat: resync after dropped packets", "dropped", dropped)
	s.send(marshal(&evResync{Type: "resync", Dropped: dropped, LastSeq: r.lastSeq}))
	s.sendSnapshotLocked()
}

// Detach implements Session.
func (s *session) Detach() {
	r := s.r
	r.mu.Lock()
	empty := r.detachLocked(s, departureOf(s.c))
	r.mu.Unlock()
	if empty && r.pending.Load() == 0 {
		r.srv.maybeDrop(r)
	}
}

// sendSnapshotLocked sends presence, pins and the latest messages s may see.
// Only memory is read: a participant of a busy room whose window has fewer
// visible messages than ReplayMessages gets more=true and pages with
// history.
func (s *session) sendSnapshotLocked() {
	r := s.r
	id := s.who.Identity
	pres := evPresence{Type: "presence", Participants: make([]Participant, 0, len(r.people))}
	pres.Self = evSelf{
		Participant: Participant{Identity: id, Name: s.name, Muted: r.muted[id], Host: s.who.Grant.RoomAdmin, Read: r.reads[id], E2EEKey: r.keys[id]},
		Admin:       s.who.Grant.RoomAdmin,
		CanChat:     s.who.Grant.PublishData(),
		CanPin:      s.canPin(),
	}
	for pid, p := range r.people {
		if !p.hidden {
			pres.Participants = append(pres.Participants, r.participantLocked(pid, p))
		}
	}
	sortParticipants(pres.Participants)
	s.send(marshal(&pres))
	s.send(marshal(&evPins{Type: "pins", Messages: r.pinnedLocked(id)}))
	msgs, _, more := r.recentLocked(id, 0, r.srv.cfg.ReplayMessages)
	if len(msgs) < r.srv.cfg.ReplayMessages && r.floor > 0 {
		more = true
	}
	s.send(marshal(&evHistory{Type: "history", Limit: r.srv.cfg.ReplayMessages, Messages: nonNil(msgs),
		More: more, LastSeq: r.lastSeq, Replay: true}))
}

func nonNil(m []*Message) []*Message {
	if m == nil {
		return []*Message{}
	}
	return m
}

func (s *session) canPin() bool {
	return s.who.Grant.PublishData() && (s.who.Grant.RoomAdmin || s.r.srv.cfg.AnyonePins)
}

// Typing. The indicator is per connection; it carries the destinations of
// a private conversation and then goes only to them. The server ends it
// after TypingTimeout without a refresh, on a message from the same
// connection, and on detach.

func (s *session) handleTyping(a *action) *Error {
	if !s.who.Grant.PublishData() {
		return errNoChat
	}
	r := s.r
	r.mu.Lock()
	defer r.mu.Unlock()
	if s.detached || r.closed {
		return nil
	}
	if r.muted[s.who.Identity] {
		return errMuted
	}
	if !a.on {
		s.stopTypingLocked(true)
		return nil
	}
	if s.typing && !sameSet(s.typingTo, a.to) {
		s.stopTypingLocked(true) // the old audience sees it stop
	}
	s.typingGen++
	gen := s.typingGen
	// A new timer per refresh, tagged with its generation, so that a timer
	// that fired while we held the lock cannot end a newer indicator.
	if s.typingTimer != nil {
		s.typingTimer.Stop()
	}
	s.typingTimer = time.AfterFunc(r.srv.cfg.TypingTimeout, func() { s.typingExpired(gen) })
	if !s.typing {
		s.typing = true
		s.typingTo = a.to
		s.sendTypingLocked(true)
	}
	return nil
}

func (s *session) typingExpired(gen uint64) {
	r := s.r
	r.mu.Lock()
	defer r.mu.Unlock()
	if s.typingGen == gen && s.typing && !s.detached {
		s.stopTypingLocked(true)
	}
}

// stopTypingLocked ends the indicator, telling the audience if notify.
func (s *session) stopTypingLocked(notify bool) {
	if s.typingTimer != nil {
		s.typingTimer.Stop()
		s.typingTimer = nil
	}
	s.typingGen++
	if !s.typing {
		return
	}
	s.typing = false
	if notify {
		s.sendTypingLocked(false)
	}
	s.typingTo = nil
}

func (s *session) sendTypingLocked(on bool) {
	r := s.r
	b := marshal(&evTyping{Type: "typing", Identity: s.who.Identity, Name: s.name, On: on, To: s.typingTo})
	r.srv.stats.events.Add(1)
	for _, o := range r.sessions {
		if o.who.Identity == s.who.Identity {
			continue
		}
		if s.typingTo == nil || contains(s.typingTo, o.who.Identity) {
			o.send(b)
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for _, x := range a {
		if !contains(b, x) {
			return false
		}
	}
	return true
}

// peekClientID reads a refused packet's clientId leniently (the strict
// parser stops at the first unknown field or wrong type), so the client can
// still match the error to what it sent. Oversized packets are not read.
func peekClientID(b []byte, maxBytes int) string {
	if len(b) > maxBytes {
		return ""
	}
	var p struct {
		ClientID string `json:"clientId"`
	}
	if json.Unmarshal(b, &p) != nil || len(p.ClientID) > 128 {
		return ""
	}
	return p.ClientID
}
