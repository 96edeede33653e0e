package chat

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/oklog/ulid/v2"

	"github.com/backchannel-rtc/backchannel/protocol"
	"github.com/backchannel-rtc/backchannel/protocol/e2ee"
)

// op is what a client packet asks for.
type op uint8

const (
	opChat op = iota + 1
	opReaction
	opEdit
	opDelete
	opPin
	opUnpin
	opMute
	opUnmute
	opKick
	opTyping
	opRead
	opHistory
	opKeys
)

var opNames = map[string]op{
	"chat": opChat, "reaction": opReaction, "edit": opEdit, "delete": opDelete,
	"pin": opPin, "unpin": opUnpin, "mute": opMute, "unmute": opUnmute,
	"kick": opKick, "typing": opTyping, "read": opRead, "history": opHistory,
	"keys": opKeys,
}

// field bits: which fields a packet carried, checked against what its type
// allows so that e.g. an "emoji" on a chat packet is refused, not ignored.
type field uint16

const (
	fClientID field = 1 << iota
	fKind
	fText
	fAttachment
	fReplyTo
	fTo
	fID
	fEmoji
	fOn
	fSeq
	fBefore
	fLimit
	fTarget
	fReason
	fE2EE
)

var fieldNames = []string{"clientId", "kind", "text", "attachmentId", "replyTo", "to",
	"id", "emoji", "on", "seq", "before", "limit", "target", "reason", "e2ee"}

var allowed = map[op]field{
	opChat:     fClientID | fKind | fText | fAttachment | fReplyTo | fTo | fE2EE,
	opReaction: fClientID | fID | fEmoji | fOn,
	opEdit:     fClientID | fID | fText | fE2EE,
	opDelete:   fClientID | fID,
	opPin:      fClientID | fID,
	opUnpin:    fClientID | fID,
	opMute:     fClientID | fTarget,
	opUnmute:   fClientID | fTarget,
	opKick:     fClientID | fTarget | fReason,
	opTyping:   fOn | fTo,
	opRead:     fSeq,
	opHistory:  fClientID | fBefore | fLimit,
	opKeys:     fClientID | fTo,
}

var required = map[op]field{
	opChat:     fClientID,
	opReaction: fID | fEmoji | fOn,
	opEdit:     fID, // and text or e2ee (parseEdit)
	opDelete:   fID,
	opPin:      fID,
	opUnpin:    fID,
	opMute:     fTarget,
	opUnmute:   fTarget,
	opKick:     fTarget,
	opTyping:   fOn,
	opRead:     fSeq,
	opKeys:     fTo,
}

// serverOwned are fields only the server fills. A packet that carries one is
// refused with a message saying so, rather than the generic unknown-field
// one: identity comes only from the connection's token.
var serverOwned = []string{"sender", "senderName", "from", "identity", "name",
	"displayName", "participantId", "userId", "createdAt"}

// fieldsOf says which fields a packet carried.
func fieldsOf(w *protocol.Request) field {
	var f field
	set := func(ok bool, b field) {
		if ok {
			f |= b
		}
	}
	set(w.ClientID != nil, fClientID)
	set(w.Kind != nil, fKind)
	set(w.Text != nil, fText)
	set(w.AttachmentID != nil, fAttachment)
	set(w.ReplyTo != nil, fReplyTo)
	set(w.To != nil, fTo)
	set(w.ID != nil, fID)
	set(w.Emoji != nil, fEmoji)
	set(w.On != nil, fOn)
	set(w.Seq != nil, fSeq)
	set(w.Before != nil, fBefore)
	set(w.Limit != nil, fLimit)
	set(w.Target != nil, fTarget)
	set(w.Reason != nil, fReason)
	set(w.E2EE != nil, fE2EE)
	return f
}

// action is a parsed, validated client packet. Only what the server must
// check against its state (permissions, existence) is left to the handlers.
type action struct {
	op           op
	clientID     string
	kind         Kind
	text         string
	attachmentID string
	replyTo      string
	to           []string // deduplicated; nil for a group message
	id           string
	emoji        string
	on           bool
	seq          int64
	before       int64 // 0: latest
	limit        int   // history page size after clamping
	target       string
	reason       string
	env          *e2ee.Envelope // end-to-end encrypted content (chat, edit); checked by checkEnvelope
}

// Limits that make what chat accepts storable by every database the
// recorder supports: PostgreSQL's varchar(255) columns (identities, room
// names, display names) and its varchar(64) ids and emoji. A value over one
// of them would be fanned out live and then refused by the database for good.
const (
	maxClientIDBytes = 64
	maxIdentityBytes = 255 // identities and room names: varchar(255)
	maxNameBytes     = 255 // display names: varchar(255)
	maxAttachIDBytes = 64  // attachment ids: varchar(64)
	maxEmojiBytes    = 64
	maxEmojiRunes    = 16
	maxReasonRunes   = 200
)

// parse decodes and validates one client packet. It never panics; on failure
// the *Error says why and carries the clientId when one could be read.
func parse(b []byte, cfg *Config) (action, *Error) {
	var a action
	if len(b) > cfg.MaxPacketBytes {
		return a, errorf(CodePacketTooLarge, "packet is %d bytes, the limit is %d", len(b), cfg.MaxPacketBytes)
	}
	// encoding/json silently replaces invalid UTF-8; refuse it instead so
	// that what is stored is exactly what the client sent.
	if !utf8.Valid(b) {
		return a, badPacket("packet is not valid UTF-8")
	}
	var w protocol.Request
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&w); err != nil {
		return a, decodeError(err)
	}
	if rest := b[dec.InputOffset():]; len(bytes.TrimSpace(rest)) != 0 {
		return a, badPacket("trailing data after the JSON object")
	}
	if w.ClientID != nil {
		a.clientID = *w.ClientID
		if len(a.clientID) == 0 || len(a.clientID) > maxClientIDBytes || !printable(a.clientID) {
			a.clientID = "" // do not echo garbage back
			return a, badPacket("clientId must be 1 to %d printable bytes", maxClientIDBytes)
		}
	}
	fail := func(e *Error) (action, *Error) { return a, e.withClientID(a.clientID) }
	if w.Type == "" {
		return fail(badPacket("missing type"))
	}
	o, ok := opNames[w.Type]
	if !ok {
		return fail(errorf(CodeUnknownType, "unknown packet type %q", truncate(w.Type, 32)))
	}
	a.op = o
	got := fieldsOf(&w)
	if extra := got &^ allowed[o]; extra != 0 {
		return fail(badPacket("field %q is not allowed in a %s packet", fieldName(extra), w.Type))
	}
	if missing := required[o] &^ got; missing != 0 {
		return fail(badPacket("field %q is required in a %s packet", fieldName(missing), w.Type))
	}
	if w.ID != nil {
		if _, err := ulid.ParseStrict(*w.ID); err != nil {
			return fail(badPacket("id is not a message id"))
		}
		a.id = *w.ID
	}
	if w.On != nil {
		a.on = *w.On
	}
	var e *Error
	switch o {
	case opChat:
		e = a.parseChat(&w, cfg)
	case opEdit:
		e = a.parseEdit(&w, cfg)
	case opReaction:
		a.emoji, e = checkEmoji(*w.Emoji)
	case opMute, opUnmute, opKick:
		a.target = *w.Target
		if !validIdentity(a.target) {
			e = badPacket("target is not an identity")
		}
		if w.Reason != nil {
			a.reason = strings.TrimSpace(*w.Reason)
			if utf8.RuneCountInString(a.reason) > maxReasonRunes {
				e = errorf(CodeTooLong, "reason is longer than %d characters", maxReasonRunes)
			}
		}
	case opTyping, opKeys:
		a.to, e = checkTo(w.To, cfg)
	case opRead:
		a.seq = *w.Seq
		if a.seq < 1 {
			e = badPacket("seq must be at least 1")
		}
	case opHistory:
		if w.Before != nil {
			a.before = *w.Before
			if a.before < 0 {
				e = badPacket("before must not be negative")
			}
		}
		a.limit = cfg.HistoryDefault
		if w.Limit != nil {
			a.limit = *w.Limit
			if a.limit < 1 {
				e = badPacket("limit must be at least 1")
			}
			// Clamped, not refused; the reply carries the limit used.
			a.limit = min(a.limit, cfg.HistoryMax)
		}
	}
	if e != nil {
		return fail(e)
	}
	return a, nil
}

func (a *action) parseChat(w *protocol.Request, cfg *Config) *Error {
	if w.E2EE != nil {
		return a.parseEncryptedChat(w, cfg)
	}
	a.kind = KindText
	if w.Kind != nil {
		switch k := Kind(*w.Kind); k {
		case KindText, KindImage, KindFile:
			a.kind = k
		default:
			return badPacket("kind must be text, image or file")
		}
	}
	if a.kind == KindText {
		if w.AttachmentID != nil {
			return badPacket("a text message has no attachmentId")
		}
		if w.Text == nil {
			return errorf(CodeEmpty, "text is empty")
		}
	} else {
		if w.AttachmentID == nil || *w.AttachmentID == "" || len(*w.AttachmentID) > maxAttachIDBytes || !printable(*w.AttachmentID) {
			return badPacket("an %s message needs an attachmentId", a.kind)
		}
		a.attachmentID = *w.AttachmentID
	}
	if w.Text != nil {
		var e *Error
		// Text is the caption of an attachment, so it may be empty there.
		if a.text, e = checkText(*w.Text, cfg, a.kind == KindText); e != nil {
			return e
		}
	}
	if w.ReplyTo != nil {
		if _, err := ulid.ParseStrict(*w.ReplyTo); err != nil {
			return badPacket("replyTo is not a message id")
		}
		a.replyTo = *w.ReplyTo
	}
	var e *Error
	a.to, e = checkTo(w.To, cfg)
	return e
}

// checkText trims and bounds a text; counting runes, not bytes, so that the
// limit means the same in every script.
func checkText(s string, cfg *Config, needed bool) (string, *Error) {
	if strings.IndexByte(s, 0) >= 0 {
		// PostgreSQL's text cannot hold NUL (SQLSTATE 22021): refused here,
		// before fan-out, rather than shown live and lost.
		return "", badPacket("text must not contain the NUL character")
	}
	s = strings.TrimSpace(s)
	if s == "" && needed {
		return "", errorf(CodeEmpty, "text is empty")
	}
	if len(s) > cfg.MaxTextRunes && utf8.RuneCountInString(s) > cfg.MaxTextRunes {
		return "", errorf(CodeTooLong, "text is longer than %d characters", cfg.MaxTextRunes)
	}
	return s, nil
}

func checkEmoji(s string) (string, *Error) {
	if s == "" || len(s) > maxEmojiBytes || utf8.RuneCountInString(s) > maxEmojiRunes {
		return "", badPacket("emoji must be 1 to %d characters", maxEmojiRunes)
	}
	for _, r := range s {
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			return "", badPacket("emoji must not contain spaces or control characters")
		}
	}
	return s, nil
}

// checkTo validates destination identities and removes duplicates. An
// absent list means a group message; an empty one is refused, so that a
// client building the list dynamically cannot broadcast by mistake.
func checkTo(to []string, cfg *Config) ([]string, *Error) {
	if to == nil {
		return nil, nil
	}
	if len(to) == 0 {
		return nil, badPacket("to must list at least one identity; leave it out for a group message")
	}
	if len(to) > cfg.MaxRecipients {
		return nil, errorf(CodeTooMany, "at most %d destinations", cfg.MaxRecipients)
	}
	out := make([]string, 0, len(to))
	for _, id := range to {
		if !validIdentity(id) {
			return nil, badPacket("to must list identities")
		}
		dup := false
		for _, o := range out {
			if o == id {
				dup = true
				break
			}
		}
		if !dup {
			out = append(out, id)
		}
	}
	return out, nil
}

func validIdentity(s string) bool {
	return s != "" && len(s) <= maxIdentityBytes && printable(s)
}

// storableName makes a display name from a token storable: control
// characters (NUL among them) are dropped and it is cut to maxNameBytes at
// a character boundary. The token is the application's word, so its name
// is kept as far as it can be stored rather than refused.
func storableName(s string) string {
	if len(s) <= maxNameBytes && printable(s) {
		return s
	}
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, s)
	return truncate(s, maxNameBytes)
}

func printable(s string) bool {
	for _, r := range s {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}

func fieldName(f field) string {
	for i, n := range fieldNames {
		if f&(1<<i) != 0 {
			return n
		}
	}
	return "?"
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// decodeError turns encoding/json's error into a bad_packet, naming a forged
// sender field explicitly.
func decodeError(err error) *Error {
	msg := err.Error()
	if f, ok := strings.CutPrefix(msg, `json: unknown field "`); ok {
		f = strings.TrimSuffix(f, `"`)
		for _, s := range serverOwned {
			if strings.EqualFold(f, s) {
				return badPacket("field %q is set by the server, never by a client", s)
			}
		}
		return badPacket("unknown field %q", truncate(f, 32))
	}
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return badPacket("not JSON: %s", se.Error())
	case errors.As(err, &te):
		if te.Field != "" {
			return badPacket("field %q has the wrong type", te.Field)
		}
		return badPacket("packet must be a JSON object")
	}
	return badPacket("not a JSON object")
}
