package chat

import (
	"errors"
	"path"

	"github.com/oklog/ulid/v2"

	"github.com/backchannel-rtc/backchannel/protocol"
	"github.com/backchannel-rtc/backchannel/protocol/e2ee"
)

// End-to-end encrypted private messages (docs/e2ee.md). Chat holds no key:
// it checks an envelope's shape, sizes and that its sealed keys are
// exactly the message's destinations plus the sender (e2ee.Validate), then
// stores and forwards it as it came. It also keeps, per room (so per
// meeting: a room stays loaded until its session ends), the last public
// key each identity announced at join, shows it in presence, answers keys
// packets for identities that are momentarily absent, and announces a key
// that changes.

// parseEncryptedChat is parseChat for a chat packet carrying e2ee: a
// private message whose content is the envelope, of kind text, or file
// with the attachmentId of bytes the client encrypted before uploading
// (their key, name and type are in the envelope). A text in clear would
// defeat it; so would kind image, which promises the server an image it
// cannot check.
func (a *action) parseEncryptedChat(w *protocol.Request, cfg *Config) *Error {
	a.kind = KindText
	if w.Kind != nil {
		a.kind = Kind(*w.Kind)
	}
	switch {
	case a.kind != KindText && a.kind != KindFile:
		return badPacket("an end-to-end encrypted message is of kind text or file (its content is in e2ee)")
	case w.Text != nil:
		return badPacket("an end-to-end encrypted message has no text: its content is in e2ee")
	case a.kind == KindText && w.AttachmentID != nil:
		return badPacket("an end-to-end encrypted text message has no attachmentId")
	case a.kind == KindFile && (w.AttachmentID == nil || *w.AttachmentID == "" || len(*w.AttachmentID) > maxAttachIDBytes || !printable(*w.AttachmentID)):
		return badPacket("an end-to-end encrypted file message needs an attachmentId")
	case w.To == nil:
		return badPacket("only private messages (with to) are end-to-end encrypted")
	}
	if a.kind == KindFile {
		a.attachmentID = *w.AttachmentID
	}
	if w.ReplyTo != nil {
		if _, err := ulid.ParseStrict(*w.ReplyTo); err != nil {
			return badPacket("replyTo is not a message id")
		}
		a.replyTo = *w.ReplyTo
	}
	var e *Error
	if a.to, e = checkTo(w.To, cfg); e != nil {
		return e
	}
	a.env = w.E2EE
	return nil
}

// parseEdit takes an edit's new content: text, or e2ee for an encrypted
// message (the client re-encrypts it; handleEdit checks which one the
// message needs).
func (a *action) parseEdit(w *protocol.Request, cfg *Config) *Error {
	switch {
	case w.Text != nil && w.E2EE != nil:
		return badPacket("an edit carries text or e2ee, not both")
	case w.E2EE != nil:
		a.env = w.E2EE
		return nil
	case w.Text == nil:
		return badPacket("field %q is required in a edit packet", "text")
	}
	var e *Error
	a.text, e = checkText(*w.Text, cfg, true)
	return e
}

// checkEnvelope validates env for a message of sender to the destinations
// to. A refusal is bad_packet: only broken or hostile client software sends
// one, and nothing of it is stored or forwarded.
func (s *session) checkEnvelope(env *e2ee.Envelope, to []string, sender string) *Error {
	cfg := &s.r.srv.cfg
	lim := e2ee.DefaultLimits()
	lim.MaxKeys = cfg.MaxRecipients + 1
	if err := e2ee.Validate(env, to, sender, lim); err != nil {
		var ee *e2ee.EnvelopeError
		if errors.As(err, &ee) {
			return badPacket("%s", ee.Error())
		}
		return badPacket("e2ee envelope refused")
	}
	return nil
}

// errNeedsE2EE refuses a plaintext private message in a room that
// requires encryption.
var errNeedsE2EE = badPacket("this room requires private messages to be end-to-end encrypted: send the content in e2ee, not text")

// requiresE2EE reports whether room requires private messages to be
// encrypted (Config.RequireE2EE).
func (c *Config) requiresE2EE(room string) bool {
	for _, pat := range c.RequireE2EE {
		if ok, _ := path.Match(pat, room); ok {
			return true
		}
	}
	return false
}

// checkChatE2EE applies the room's policy and validates an encrypted
// message before anything is looked up or created.
func (s *session) checkChatE2EE(a *action) *Error {
	if a.env == nil {
		if len(a.to) > 0 && s.r.srv.cfg.requiresE2EE(s.r.name) {
			return errNeedsE2EE
		}
		return nil
	}
	return s.checkEnvelope(a.env, a.to, s.who.Identity)
}

// checkEditE2EE checks that an edit's content matches its message: an
// encrypted message is edited only with a new envelope (for the same
// audience), a plaintext one only with text. Called with r.mu held.
func (s *session) checkEditE2EE(a *action, m *Message) *Error {
	switch {
	case m.E2EE != nil && a.env == nil:
		return badPacket("this message is end-to-end encrypted: an edit re-encrypts it and carries e2ee, not text")
	case m.E2EE == nil && a.env != nil:
		return badPacket("this message is not end-to-end encrypted: its edit carries text")
	case a.env != nil:
		return s.checkEnvelope(a.env, m.To, m.Sender)
	}
	return nil
}

// announceKeyLocked records the key s's connection announced and, when
// it differs from the one its identity had in this meeting, tells everyone
// else present. Everyone, not only those who exchanged private messages
// with it: the key is public, presence already shows it to all, and a
// warning to all is what lets anyone about to write to it compare
// fingerprints. Hidden participants' keys are not kept (they are not in
// presence either).
func (r *room) announceKeyLocked(s *session, hidden bool) {
	key := s.who.E2EEKey
	if key == "" || hidden {
		return
	}
	id := s.who.Identity
	prev := r.keys[id]
	r.keys[id] = key
	if prev != "" && prev != key {
		r.sendAllExceptLocked(marshal(&protocol.KeyChangedEvent{Type: protocol.EventKeyChanged,
			Identity: id, E2EEKey: key, Previous: prev}), s)
	}
}

// handleKeys answers the last key of each identity asked for that
// announced one in this meeting, present or not, so that a message can be
// sealed for a destination who is momentarily away.
func (s *session) handleKeys(a *action) *Error {
	r := s.r
	ev := protocol.KeysEvent{Type: protocol.EventKeys, ClientID: a.clientID, Keys: []protocol.IdentityKey{}}
	r.mu.Lock()
	if s.detached || r.closed {
		r.mu.Unlock()
		return errUnavailable
	}
	for _, id := range a.to {
		if k := r.keys[id]; k != "" {
			ev.Keys = append(ev.Keys, protocol.IdentityKey{Identity: id, E2EEKey: k})
		}
	}
	r.mu.Unlock()
	s.send(marshal(&ev))
	return nil
}
