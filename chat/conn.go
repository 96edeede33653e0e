package chat

import "github.com/backchannel-rtc/backchannel/auth"

// Conn is one participant's chat data channel as the transport (the SFU)
// hands it to this package. Implementations are safe for concurrent use.
type Conn interface {
	// ID is unique per connection (a reconnect gets a new one).
	ID() string
	// Who is the participant, from its verified token: identity, display
	// name and grants. Nothing in a packet can change it.
	Who() auth.Identity
	// Send queues bytes for this participant and never blocks, nor does
	// any network I/O: chat calls it with a room's lock held, so the
	// transport writes from a goroutine of the connection's own. The same
	// slice may be handed to many connections: implementations must not
	// modify it. It returns false when the connection's bounded send queue
	// is full and the bytes were dropped; the transport then calls
	// Session.Overflowed once the queue has drained, so the client can be
	// told to catch up from history.
	Send(b []byte) bool
	// Close ends the participant's whole connection (moderation: removed
	// from the room). reason is shown to the client.
	Close(reason string)
}

// Departure is implemented by a Conn that knows why it went away; chat asks
// it when the connection's Session detaches. Lost reports true when the
// connection dropped without the participant leaving: a network loss, or
// a newer connection of the same identity replacing it. chat then keeps
// the identity present, silently, for Config.LeaveGrace, so that a
// reconnect is invisible to the others. An explicit leave or a removal
// reports false and is announced at once, as is the departure of a Conn
// that does not implement Departure.
type Departure interface {
	Lost() bool
}

// Service is what the SFU calls: one per server.
type Service interface {
	// Attach is called when a participant's chat channel opens in room.
	Attach(room string, c Conn) Session
}

// Session is one attached connection.
type Session interface {
	// Receive handles one data-channel message from the participant. It is
	// called from a single goroutine per connection, in arrival order.
	Receive(b []byte)
	// Overflowed is called after the connection's send queue filled up and
	// dropped messages, once it has room again: dropped is how many.
	Overflowed(dropped int)
	// Detach is called once, when the channel or the connection closes.
	Detach()
}
