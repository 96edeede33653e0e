package chat

import (
	"encoding/json"
	"log/slog"
	"time"
)

// Server → client packets. Each is marshalled once and the same bytes go to
// every recipient, so none of them may carry anything recipient-specific
// (the sender's clientId travels only in ack and error packets).

type evMessage struct {
	Type    string   `json:"type"` // "message"
	Message *Message `json:"message"`
}

type evAck struct {
	Type      string   `json:"type"` // "ack"
	ClientID  string   `json:"clientId"`
	ID        string   `json:"id"`
	Seq       int64    `json:"seq"`
	CreatedAt wireTime `json:"createdAt"`
}

// evChangeAck confirms a reaction, edit, delete, pin, unpin, mute or unmute
// that carried a clientId, once it is stored (or was already in place).
type evChangeAck struct {
	Type     string `json:"type"` // "ack"
	ClientID string `json:"clientId"`
	ID       string `json:"id,omitempty"`  // the message changed
	Seq      int64  `json:"seq,omitempty"` // its seq
}

type evError struct {
	Type         string `json:"type"` // "error"
	Code         Code   `json:"code"`
	Message      string `json:"message"`
	ClientID     string `json:"clientId,omitempty"`
	RetryAfterMs int64  `json:"retryAfterMs,omitempty"`
	Retryable    bool   `json:"retryable,omitempty"`
}

type evReaction struct {
	Type     string `json:"type"` // "reaction"
	ID       string `json:"id"`
	Seq      int64  `json:"seq"`
	Emoji    string `json:"emoji"`
	Identity string `json:"identity"`
	On       bool   `json:"on"`
}

type evEdited struct {
	Type     string   `json:"type"` // "edited"
	ID       string   `json:"id"`
	Seq      int64    `json:"seq"`
	Text     string   `json:"text"`
	EditedAt wireTime `json:"editedAt"`
}

type evDeleted struct {
	Type string `json:"type"` // "deleted"
	ID   string `json:"id"`
	Seq  int64  `json:"seq"`
	By   string `json:"by"`
}

type evPin struct {
	Type    string   `json:"type"` // "pinned" or "unpinned"
	ID      string   `json:"id"`
	Seq     int64    `json:"seq"`
	By      string   `json:"by"`
	Message *Message `json:"message,omitempty"` // pinned only: the message, which may be older than the client's view
}

// evWithdrawn takes back something already shown that the store refused for
// good (see withdraw.go).
type evWithdrawn struct {
	Type    string   `json:"type"` // "withdrawn"
	ID      string   `json:"id"`
	Seq     int64    `json:"seq"`
	Message *Message `json:"message,omitempty"` // a change was withdrawn: the message as stored
}

type evTyping struct {
	Type     string   `json:"type"` // "typing"
	Identity string   `json:"identity"`
	Name     string   `json:"name"`
	On       bool     `json:"on"`
	To       []string `json:"to,omitempty"`
}

type evRead struct {
	Type     string `json:"type"` // "read"
	Identity string `json:"identity"`
	Seq      int64  `json:"seq"`
}

// Participant is one entry of the presence list.
type Participant struct {
	Identity string `json:"identity"`
	Name     string `json:"name"`
	Muted    bool   `json:"muted,omitempty"`
	Read     int64  `json:"read,omitempty"` // read horizon, when known
}

type evSelf struct {
	Participant
	Admin   bool `json:"admin,omitempty"`
	CanChat bool `json:"canChat"`
	CanPin  bool `json:"canPin"`
}

type evPresence struct {
	Type         string        `json:"type"` // "presence"
	Self         evSelf        `json:"self"`
	Participants []Participant `json:"participants"`
}

type evJoined struct {
	Type        string      `json:"type"` // "joined"
	Participant Participant `json:"participant"`
}

type evLeft struct {
	Type     string `json:"type"` // "left"
	Identity string `json:"identity"`
	Removed  bool   `json:"removed,omitempty"` // a moderator removed it
}

type evMuted struct {
	Type     string `json:"type"` // "muted" or "unmuted"
	Identity string `json:"identity"`
	By       string `json:"by"`
}

type evKicked struct {
	Type   string `json:"type"` // "kicked"
	By     string `json:"by"`
	Reason string `json:"reason"`
}

type evHistory struct {
	Type     string     `json:"type"` // "history"
	ClientID string     `json:"clientId,omitempty"`
	Before   int64      `json:"before"` // 0: the latest messages
	Limit    int        `json:"limit"`  // page size used (after clamping)
	Messages []*Message `json:"messages"`
	More     bool       `json:"more"` // false: no older message you may see exists
	LastSeq  int64      `json:"lastSeq"`
	Replay   bool       `json:"replay,omitempty"` // sent by the server on attach or resync
}

type evPins struct {
	Type     string     `json:"type"` // "pins"
	Messages []*Message `json:"messages"`
}

type evResync struct {
	Type    string `json:"type"` // "resync"
	Dropped int    `json:"dropped"`
	LastSeq int64  `json:"lastSeq"`
}

// marshal encodes an event. None of the types above can fail to encode; the
// log is for the impossible case, which then sends nothing.
func marshal(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		slog.Error("chat: marshal", "err", err)
		return nil
	}
	return b
}

func errorPacket(e *Error) []byte {
	ev := evError{Type: "error", Code: e.Code, Message: e.Message, ClientID: e.ClientID,
		Retryable: e.Code == CodeUnavailable || e.Code == CodeRateLimited}
	if e.Code == CodeRateLimited {
		ev.RetryAfterMs = max(1, e.RetryAfter.Milliseconds())
	}
	return marshal(&ev)
}

func changeAckPacket(clientID, id string, seq int64) []byte {
	return marshal(&evChangeAck{Type: "ack", ClientID: clientID, ID: id, Seq: seq})
}

func ackPacket(clientID, id string, seq int64, at time.Time) []byte {
	return marshal(&evAck{Type: "ack", ClientID: clientID, ID: id, Seq: seq, CreatedAt: wireTime(at)})
}

// clone deep-copies what chat mutates in place (reactions, edit time), so a
// copy handed to the store or marshalled outside the room lock stays still.
func (m *Message) clone() Message {
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
