package protocol

import (
	"time"

	"github.com/backchannel-rtc/backchannel/protocol/e2ee"
)

// Kind is what a chat message carries.
type Kind string

const (
	KindText  Kind = "text"
	KindImage Kind = "image"
	KindFile  Kind = "file"
)

// Attachment is an uploaded file that an image or file message references.
// The recorder stores the bytes; chat only checks that the sender uploaded it.
type Attachment struct {
	ID          string `json:"id"`
	Room        string `json:"-"`
	Uploader    string `json:"-"`
	Name        string `json:"name"`
	ContentType string `json:"contentType"`
	Size        int64  `json:"size"`
	Image       bool   `json:"image,omitempty"`
	Width       int    `json:"width,omitempty"`
	Height      int    `json:"height,omitempty"`
}

// Reaction is one emoji on a message and who put it there.
type Reaction struct {
	Emoji      string   `json:"emoji"`
	Identities []string `json:"identities"`
}

// Message is a chat message with its current state (edits, deletion,
// reactions and pin applied). A deleted message is a tombstone: Text and
// Attachment are empty, its id and seq are kept.
type Message struct {
	ID         string `json:"id"` // sortable unique id (ULID)
	Room       string `json:"-"`
	Seq        int64  `json:"seq"` // per-room total order, from 1
	Sender     string `json:"sender"`
	SenderName string `json:"senderName"`
	Kind       Kind   `json:"kind"`
	Text       string `json:"text"`
	// E2EE is an end-to-end encrypted private message's content, in
	// place of Text (then empty). The server never changes one: an edit
	// replaces it, so copies may share it.
	E2EE       *e2ee.Envelope `json:"e2ee,omitempty"`
	To         []string       `json:"to,omitempty"` // private: destination identities
	ReplyTo    string         `json:"replyTo,omitempty"`
	ClientID   string         `json:"-"` // the sender's idempotency key
	Attachment *Attachment    `json:"attachment,omitempty"`
	CreatedAt  time.Time      `json:"createdAt"`
	EditedAt   *time.Time     `json:"editedAt,omitempty"`
	Deleted    bool           `json:"deleted,omitempty"`
	Pinned     bool           `json:"pinned,omitempty"`
	Reactions  []Reaction     `json:"reactions,omitempty"`
}

// Encrypted reports whether the message's content is end-to-end encrypted.
func (m *Message) Encrypted() bool { return m.E2EE != nil }

// Private reports whether the message has destination identities.
func (m *Message) Private() bool { return len(m.To) > 0 }

// VisibleTo reports whether identity may see the message or anything about
// it: everyone for a group message, the sender and destinations otherwise.
func (m *Message) VisibleTo(identity string) bool {
	if !m.Private() || identity == m.Sender {
		return true
	}
	for _, t := range m.To {
		if t == identity {
			return true
		}
	}
	return false
}

// Clone deep-copies what the server mutates in place (reactions, edit
// time), so a copy handed to a store or marshalled outside a lock stays
// still.
func (m *Message) Clone() Message {
	c := *m
	if m.To != nil {
		c.To = append([]string(nil), m.To...)
	}
	if m.Attachment != nil {
		a := *m.Attachment
		c.Attachment = &a
	}
	if m.EditedAt != nil {
		t := *m.EditedAt
		c.EditedAt = &t
	}
	if m.Reactions != nil {
		c.Reactions = make([]Reaction, len(m.Reactions))
		for i, r := range m.Reactions {
			c.Reactions[i] = Reaction{Emoji: r.Emoji, Identities: append([]string(nil), r.Identities...)}
		}
	}
	return c
}
