package protocol

import (
	"time"

	"github.com/backchannel-rtc/backchannel/protocol/e2ee"
)

// ChatLabel is the label of the reliable, ordered data channel that
// carries chat; the client creates it on its publisher connection. The
// server closes any other channel.
const ChatLabel = "chat"

// MaxDataMessage is the largest data-channel message the server accepts
// and advertises; chat's own packet limit is smaller and answered with an
// error packet.
const MaxDataMessage = 256 << 10

// The chat limits a server applies unless configured otherwise.
const (
	DefaultMaxPacketBytes = 64 << 10 // one chat packet
	DefaultMaxTextRunes   = 2000     // a message's text after trimming, in code points
)

// Client → server chat packet types.
const (
	PacketChat     = "chat"
	PacketReaction = "reaction"
	PacketEdit     = "edit"
	PacketDelete   = "delete"
	PacketPin      = "pin"
	PacketUnpin    = "unpin"
	PacketMute     = "mute"
	PacketUnmute   = "unmute"
	PacketKick     = "kick"
	PacketTyping   = "typing"
	PacketRead     = "read"
	PacketHistory  = "history"
	PacketKeys     = "keys" // the last e2ee public keys of identities (to)
)

// Request is the union of every client packet's fields; Type says which
// may be set (docs/protocol.md lists them). Pointers tell an absent field
// from a zero one where the difference matters: the server refuses a
// field that does not belong to the packet's type.
type Request struct {
	Type         string   `json:"type"`
	ClientID     *string  `json:"clientId,omitempty"`
	Kind         *string  `json:"kind,omitempty"`
	Text         *string  `json:"text,omitempty"`
	AttachmentID *string  `json:"attachmentId,omitempty"`
	ReplyTo      *string  `json:"replyTo,omitempty"`
	To           []string `json:"to,omitempty"`
	ID           *string  `json:"id,omitempty"`
	Emoji        *string  `json:"emoji,omitempty"`
	On           *bool    `json:"on,omitempty"`
	Seq          *int64   `json:"seq,omitempty"`
	Before       *int64   `json:"before,omitempty"`
	Limit        *int     `json:"limit,omitempty"`
	Target       *string  `json:"target,omitempty"`
	Reason       *string  `json:"reason,omitempty"`
	// E2EE is a private message's content end-to-end encrypted, in place
	// of text (chat and edit packets; docs/e2ee.md).
	E2EE *e2ee.Envelope `json:"e2ee,omitempty"`
}

// ChatRequest is a `chat` packet carrying text, to everyone (to empty) or
// privately to the identities in to.
func ChatRequest(clientID, text string, to ...string) Request {
	return Request{Type: PacketChat, ClientID: &clientID, Text: &text, To: to}
}

// EncryptedChatRequest is a private `chat` packet whose content is env,
// sealed for to and the sender.
func EncryptedChatRequest(clientID string, env *e2ee.Envelope, to ...string) Request {
	return Request{Type: PacketChat, ClientID: &clientID, E2EE: env, To: to}
}

// Server → client chat packet types.
const (
	EventMessage    = "message"
	EventAck        = "ack"
	EventError      = "error"
	EventReaction   = "reaction"
	EventEdited     = "edited"
	EventDeleted    = "deleted"
	EventPinned     = "pinned"
	EventUnpinned   = "unpinned"
	EventTyping     = "typing"
	EventRead       = "read"
	EventPresence   = "presence"
	EventJoined     = "joined"
	EventLeft       = "left"
	EventMuted      = "muted"
	EventUnmuted    = "unmuted"
	EventKicked     = "kicked"
	EventHistory    = "history"
	EventPins       = "pins"
	EventResync     = "resync"
	EventKeys       = "keys"       // the answer to a keys packet
	EventKeyChanged = "keyChanged" // a participant announced a new e2ee key
)

// Server → client packets. The server marshals each once and the same bytes
// go to every recipient, so none of them may carry anything
// recipient-specific (the sender's clientId travels only in ack and error
// packets, and in the history page a client asked for). A field at its
// default is left out (omitempty; defaults.go says which stay).

// Head is what every server packet starts with: enough to route it.
type Head struct {
	Type     string `json:"type"`
	ClientID string `json:"clientId,omitempty"`
	Code     Code   `json:"code,omitempty"`
}

type MessageEvent struct {
	Type    string   `json:"type"` // "message"
	Message *Message `json:"message"`
}

type AckEvent struct {
	Type      string    `json:"type"` // "ack"
	ClientID  string    `json:"clientId"`
	ID        string    `json:"id"`
	Seq       int64     `json:"seq"`
	CreatedAt time.Time `json:"createdAt"`
}

type ErrorEvent struct {
	Type         string `json:"type"` // "error"
	Code         Code   `json:"code"`
	Message      string `json:"message"`
	ClientID     string `json:"clientId,omitempty"`
	RetryAfterMs int64  `json:"retryAfterMs,omitempty"`
	Retryable    bool   `json:"retryable,omitempty"`
}

type ReactionEvent struct {
	Type     string `json:"type"` // "reaction"
	ID       string `json:"id"`
	Seq      int64  `json:"seq"`
	Emoji    string `json:"emoji"`
	Identity string `json:"identity"`
	On       bool   `json:"on,omitempty"` // absent: removed
}

type EditedEvent struct {
	Type     string         `json:"type"` // "edited"
	ID       string         `json:"id"`
	Seq      int64          `json:"seq"`
	Text     string         `json:"text,omitempty"` // absent: "" (an encrypted message's edit)
	E2EE     *e2ee.Envelope `json:"e2ee,omitempty"` // an encrypted message's re-encrypted content
	EditedAt time.Time      `json:"editedAt"`
}

type DeletedEvent struct {
	Type string `json:"type"` // "deleted"
	ID   string `json:"id"`
	Seq  int64  `json:"seq"`
	By   string `json:"by"`
}

type PinEvent struct {
	Type    string   `json:"type"` // "pinned" or "unpinned"
	ID      string   `json:"id"`
	Seq     int64    `json:"seq"`
	By      string   `json:"by"`
	Message *Message `json:"message,omitempty"` // pinned only: the message, which may be older than the client's view
}

type TypingEvent struct {
	Type     string   `json:"type"` // "typing"
	Identity string   `json:"identity"`
	Name     string   `json:"name"`
	On       bool     `json:"on,omitempty"` // absent: stopped typing
	To       []string `json:"to,omitempty"`
}

type ReadEvent struct {
	Type     string `json:"type"` // "read"
	Identity string `json:"identity"`
	Seq      int64  `json:"seq"`
}

// Participant is one entry of the presence list.
type Participant struct {
	Identity string `json:"identity"`
	Name     string `json:"name"`
	Muted    bool   `json:"muted,omitempty"`
	Host     bool   `json:"host,omitempty"` // the token grants roomAdmin
	Read     int64  `json:"read,omitempty"` // read horizon, when known
	// E2EEKey is the public key (docs/e2ee.md) the participant announced
	// at join, the last one of its identity in this meeting.
	E2EEKey string `json:"e2eeKey,omitempty"`
}

// Self is the receiving participant in a presence packet, with what its
// token allows.
type Self struct {
	Participant
	Admin bool `json:"admin,omitempty"`
	// CanChat and CanPin are always written: a grant is stated, never
	// implied (clients have long read an absent canChat as allowed).
	CanChat bool `json:"canChat"`
	CanPin  bool `json:"canPin"`
}

type PresenceEvent struct {
	Type         string        `json:"type"` // "presence"
	Self         Self          `json:"self"`
	Participants []Participant `json:"participants"`
}

type JoinedEvent struct {
	Type        string      `json:"type"` // "joined"
	Participant Participant `json:"participant"`
}

type LeftEvent struct {
	Type     string `json:"type"` // "left"
	Identity string `json:"identity"`
	Removed  bool   `json:"removed,omitempty"` // a moderator removed it
}

type MutedEvent struct {
	Type     string `json:"type"` // "muted" or "unmuted"
	Identity string `json:"identity"`
	By       string `json:"by"`
}

type KickedEvent struct {
	Type   string `json:"type"` // "kicked"
	By     string `json:"by"`
	Reason string `json:"reason,omitempty"`
}

type HistoryEvent struct {
	Type     string     `json:"type"` // "history"
	ClientID string     `json:"clientId,omitempty"`
	Before   int64      `json:"before,omitempty"` // absent (0): the latest messages
	Limit    int        `json:"limit"`            // page size used (after clamping)
	Messages []*Message `json:"messages"`
	More     bool       `json:"more,omitempty"` // absent (false): no older message you may see exists
	// LastSeq is always written, 0 included (a room without messages):
	// it is what a client compares seqs with, so it is never implied.
	LastSeq int64 `json:"lastSeq"`
	Replay  bool  `json:"replay,omitempty"` // sent by the server on attach or resync
}

type PinsEvent struct {
	Type     string     `json:"type"` // "pins"
	Messages []*Message `json:"messages"`
}

type ResyncEvent struct {
	Type    string `json:"type"` // "resync"
	Dropped int    `json:"dropped"`
	LastSeq int64  `json:"lastSeq"`
}

// ChangeAckEvent confirms a reaction, edit, delete, pin, unpin, mute or
// unmute that carried a clientId, once it is stored (or was already in
// place), so a client can confirm it and retry it idempotently.
type ChangeAckEvent struct {
	Type     string `json:"type"` // "ack"
	ClientID string `json:"clientId"`
	ID       string `json:"id,omitempty"`  // the message changed (none for mute/unmute)
	Seq      int64  `json:"seq,omitempty"` // its seq
}

// WithdrawnEvent takes back something already shown that the store refused
// for good: without Message the message itself is gone; with it, a change
// to it was undone and Message is what the store holds.
type WithdrawnEvent struct {
	Type    string   `json:"type"` // "withdrawn"
	ID      string   `json:"id"`
	Seq     int64    `json:"seq"`
	Message *Message `json:"message,omitempty"`
}

// IdentityKey is the last e2ee public key an identity announced in the
// meeting.
type IdentityKey struct {
	Identity string `json:"identity"`
	E2EEKey  string `json:"e2eeKey"`
}

// KeysEvent answers a keys packet: the last key of each identity asked
// for that announced one in this meeting (present or not); identities
// without one are left out.
type KeysEvent struct {
	Type     string        `json:"type"` // "keys"
	ClientID string        `json:"clientId,omitempty"`
	Keys     []IdentityKey `json:"keys"`
}

// KeyChangedEvent says that Identity announced a key other than the one
// it had in this meeting: a new device, cleared storage, or a substituted
// key. Clients warn and ask to compare fingerprints.
type KeyChangedEvent struct {
	Type     string `json:"type"` // "keyChanged"
	Identity string `json:"identity"`
	E2EEKey  string `json:"e2eeKey"`
	Previous string `json:"previous"`
}
