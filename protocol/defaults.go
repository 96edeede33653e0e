package protocol

import (
	"encoding/json"

	"github.com/backchannel-rtc/backchannel/protocol/e2ee"
)

// A server chat packet leaves out every field at its default value, so
// that a plain text message costs its text and little else on the wire
// (issue 23: 383 bytes for a 200-byte text, two messages to an SCTP
// packet). docs/protocol.md ("Absent fields") lists the defaults; a client
// reads an absent field as its default. Fields that identify or order
// (id, seq, createdAt, lastSeq, limit) and lists a packet exists to carry
// (messages, keys) are always written, whatever their value.
//
// Message is the one type whose defaults are not Go's zero values (kind
// is "text"), so it marshals and unmarshals itself; the other packets say
// it with omitempty.

// messageJSON is Message as JSON, its fields in Message's order. Kind and
// Text are pointers so that one layout serves both the chat packets (nil
// at their default: left out) and the admin API (always written).
type messageJSON struct {
	ID         string         `json:"id"`
	Seq        int64          `json:"seq"`
	Sender     string         `json:"sender"`
	SenderName string         `json:"senderName"`
	Kind       *Kind          `json:"kind,omitempty"`
	Text       *string        `json:"text,omitempty"`
	E2EE       *e2ee.Envelope `json:"e2ee,omitempty"`
	To         []string       `json:"to,omitempty"`
	ReplyTo    string         `json:"replyTo,omitempty"`
	Attachment *Attachment    `json:"attachment,omitempty"`
	CreatedAt  wireTime       `json:"createdAt"`
	EditedAt   *wireTime      `json:"editedAt,omitempty"`
	Deleted    bool           `json:"deleted,omitempty"`
	Pinned     bool           `json:"pinned,omitempty"`
	Reactions  []Reaction     `json:"reactions,omitempty"`
}

// MarshalJSON writes the message as chat packets carry it: times in
// TimeFormat, fields in Message's order (a field added to Message must be
// added to messageJSON too; TestMessageEncoding pins the layout), and
// kind and text left out at their defaults ("text" and "").
func (m Message) MarshalJSON() ([]byte, error) { return m.marshal(false) }

// MarshalJSONWithDefaults writes kind and text even at their defaults.
// The admin API's message object (docs/api.md) is a contract of its own,
// older than the chat packets' omissions, and keeps them.
func (m Message) MarshalJSONWithDefaults() ([]byte, error) { return m.marshal(true) }

func (m *Message) marshal(defaults bool) ([]byte, error) {
	j := messageJSON{ID: m.ID, Seq: m.Seq, Sender: m.Sender, SenderName: m.SenderName,
		E2EE: m.E2EE, To: m.To, ReplyTo: m.ReplyTo, Attachment: m.Attachment,
		CreatedAt: wireTime(m.CreatedAt), Deleted: m.Deleted, Pinned: m.Pinned, Reactions: m.Reactions}
	if defaults || m.Kind != KindText {
		j.Kind = &m.Kind
	}
	if defaults || m.Text != "" {
		j.Text = &m.Text
	}
	if m.EditedAt != nil {
		e := wireTime(*m.EditedAt)
		j.EditedAt = &e
	}
	return json.Marshal(&j)
}

// UnmarshalJSON reads a message, an absent kind as "text": every Go
// decoder of a chat packet (the Go client, bots, tests) then sees the
// message's kind without knowing the rule.
func (m *Message) UnmarshalJSON(b []byte) error {
	type plain Message // without the methods: no recursion
	if err := json.Unmarshal(b, (*plain)(m)); err != nil {
		return err
	}
	if m.Kind == "" {
		m.Kind = KindText
	}
	return nil
}
