package chat

// handleMute takes away or gives back another participant's right to chat.
// The state is per room and identity, outlives reconnects and restarts
// (it is stored), and is announced
// to everyone (the target included) with muted/unmuted. The target need not
// be present: a moderator may mute someone before they come back.
func (s *session) handleMute(a *action) *Error {
	if !s.who.Grant.RoomAdmin {
		return errNotAdmin
	}
	if a.target == s.who.Identity {
		return errorf(CodeForbidden, "you cannot mute yourself")
	}
	r := s.r
	r.mu.Lock()
	defer r.mu.Unlock()
	if s.detached || r.closed {
		return errUnavailable
	}
	on := a.op == opMute
	if r.muted[a.target] == on {
		return s.ackNoop(a.clientID, "", 0)
	}
	ev := evMuted{Type: "unmuted", Identity: a.target, By: s.who.Identity}
	if on {
		r.muted[a.target] = true
		ev.Type = "muted"
		for _, o := range r.sessions {
			if o.who.Identity == a.target {
				o.stopTypingLocked(true)
			}
		}
	} else {
		delete(r.muted, a.target)
	}
	// Persisted so that a restart does not give the right back; the room
	// already enforces it, so only the moderator's ack waits for the write.
	r.writeLocked(Change{Kind: ChangeMute, Identity: a.target, On: on, By: s.who.Identity}, nil, s.changeDone(a.clientID, "", 0))
	s.log.Info("chat: "+ev.Type, "target", a.target)
	r.sendAllLocked(marshal(&ev))
	return nil
}

// handleKick removes a participant from the room: its connections are told
// why (kicked), detached from chat at once (everyone sees left with
// removed=true) and closed through the transport. Chat does not ban: a
// token that is still valid may join again unless signaling refuses it.
func (s *session) handleKick(a *action) *Error {
	if !s.who.Grant.RoomAdmin {
		return errNotAdmin
	}
	if a.target == s.who.Identity {
		return errorf(CodeForbidden, "you cannot remove yourself")
	}
	reason := a.reason
	if reason == "" {
		reason = "removed by a moderator"
	}
	r := s.r
	r.mu.Lock()
	if s.detached || r.closed {
		r.mu.Unlock()
		return errUnavailable
	}
	var victims []*session
	for _, o := range r.sessions {
		if o.who.Identity == a.target {
			victims = append(victims, o)
		}
	}
	if len(victims) == 0 {
		r.mu.Unlock()
		return errorf(CodeNotFound, "no such participant")
	}
	b := marshal(&evKicked{Type: "kicked", By: s.who.Identity, Reason: reason})
	for _, v := range victims {
		v.send(b)
		r.detachLocked(v, departRemoved)
	}
	r.mu.Unlock()
	s.log.Info("chat: participant removed", "target", a.target, "reason", reason)
	// Close outside the lock: a transport may call Detach from Close.
	for _, v := range victims {
		v.c.Close(reason)
	}
	return nil
}
