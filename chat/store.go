package chat

import (
	"context"
	"errors"
	"time"

	"github.com/backchannel-rtc/backchannel/protocol/e2ee"
)

// ChangeKind says what a Change records.
type ChangeKind int

const (
	ChangeMessage  ChangeKind = iota + 1 // a new message: Message
	ChangeEdit                           // MessageID, Text or E2EE, Identity (author)
	ChangeDelete                         // MessageID, Identity (who deleted)
	ChangeReaction                       // MessageID, Identity, Emoji, On (add/remove)
	ChangePin                            // MessageID, Identity, On (pin/unpin)
	ChangeRead                           // Identity, Seq (read horizon)
	ChangeJoin                           // Identity, Name: a participant's chat opened
	ChangeLeave                          // Identity: its chat closed
	ChangeMute                           // Identity (the target), On (mute/unmute), By (the moderator)
	// ChangeEnd: the room stayed empty for Config.DepartureTimeout (or the
	// server is shutting down with it empty): its meeting session ends. At
	// is when the room became empty.
	ChangeEnd
)

// Change is one state change of a room, in the order chat decided it. The
// recorder persists changes of one room in the order they were written.
type Change struct {
	Kind      ChangeKind
	Room      string
	At        time.Time
	Message   *Message
	MessageID string
	Identity  string
	Name      string
	Text      string
	Emoji     string
	On        bool
	Seq       int64
	By        string // ChangeMute: the moderator
	// E2EE is an edit's new envelope when the message is end-to-end
	// encrypted (Text is then empty).
	E2EE *e2ee.Envelope
}

// ErrNotFound is returned by a Store for an unknown message or attachment.
var ErrNotFound = errors.New("not found")

// ErrRejected is what a Store's done reports (wrapped) for a change the
// database refused for good (a value it cannot hold, a constraint): retrying
// the same change can never succeed. Any other error is temporary.
var ErrRejected = errors.New("the store refused the change for good")

// Store is where chat keeps what it decided; the recorder implements it on a
// database, MemoryStore in memory. Writes are asynchronous so the real-time
// path never waits on a database; reads see every change whose done
// callback has run.
type Store interface {
	// LastSeq is the highest seq assigned in room (0 if none), so that a
	// restarted server continues the order.
	LastSeq(ctx context.Context, room string) (int64, error)
	// Write queues a change and never blocks: when the store cannot take
	// it now (its queue is full) done runs at once with an error. done, if
	// not nil, runs once the change is durable, or with the error that
	// stopped it (wrapping ErrRejected when retrying cannot help); it must
	// not block.
	Write(c Change, done func(error))
	// History returns up to limit messages of room with seq < before
	// (before <= 0: the latest), that viewer may see (viewer "": all),
	// oldest first, current state applied.
	History(ctx context.Context, room, viewer string, before int64, limit int) ([]Message, error)
	// Pinned returns the pinned messages of room that viewer may see, oldest
	// first.
	Pinned(ctx context.Context, room, viewer string) ([]Message, error)
	// Message returns one message of room by id, or ErrNotFound.
	Message(ctx context.Context, room, id string) (*Message, error)
	// ByClientID returns the message sender created with clientID in room,
	// or ErrNotFound: a retry after a reconnect or restart must not create a
	// second one.
	ByClientID(ctx context.Context, room, sender, clientID string) (*Message, error)
	// Attachment returns an uploaded attachment of room by id, or
	// ErrNotFound.
	Attachment(ctx context.Context, room, id string) (*Attachment, error)
	// Muted returns the identities a moderator has muted in room, so that
	// a mute outlives a restart.
	Muted(ctx context.Context, room string) ([]string, error)
}
