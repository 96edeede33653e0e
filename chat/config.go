package chat

import (
	"time"

	"github.com/backchannel-rtc/backchannel/protocol"
)

// Config holds the chat limits. Start from DefaultConfig and change what you
// need: a zero rate means "no limit", so the zero Config is not the default.
type Config struct {
	// MaxTextRunes bounds a message's text after trimming (default 2000).
	MaxTextRunes int
	// MaxPacketBytes bounds one incoming data-channel message (default 64 KiB).
	MaxPacketBytes int
	// Rate and Burst are the per-connection token bucket for everything
	// that changes state or reads the store (chat, reaction, edit, delete,
	// pin, unpin, mute, unmute, kick, history). Rate 0 turns it off.
	Rate  float64
	Burst int
	// RoomRate and RoomBurst bound the same packets for a whole room, so
	// that many connections (or one identity reconnecting over and over)
	// cannot flood everyone else. Rate 0 turns it off.
	RoomRate  float64
	RoomBurst int
	// TypingRate/TypingBurst and ReadRate/ReadBurst throttle typing and read
	// packets separately, so a chatty typing indicator cannot eat the
	// message budget. Rate 0 turns them off.
	TypingRate  float64
	TypingBurst int
	ReadRate    float64
	ReadBurst   int
	// TypingTimeout ends a typing indicator the client never stopped
	// (default 5 s).
	TypingTimeout time.Duration
	// ReplayMessages is how many of the latest messages a participant gets
	// on attach (default 50).
	ReplayMessages int
	// HistoryMax is the largest history page; larger requests are clamped
	// and the reply says the limit used (default 100). HistoryDefault is
	// the page size when the request names none (default 50).
	HistoryMax     int
	HistoryDefault int
	// Window is how many recent messages each room keeps in memory, so that
	// join replay, history and edit/delete/reaction checks do not touch the
	// store (default 1000). Messages leave the window only once durable.
	Window int
	// AnyonePins lets every participant with the chat grant pin and unpin;
	// otherwise only the roomAdmin grant may.
	AnyonePins bool
	// RequireE2EE lists the rooms (path.Match patterns, e.g. "*" or
	// "legal-*") whose private messages must be end-to-end encrypted: a
	// private chat packet with text instead of e2ee is refused
	// (bad_packet). Group messages stay plaintext everywhere.
	RequireE2EE []string
	// MaxRecipients bounds the destinations of a private message or typing
	// indicator (default 100).
	MaxRecipients int
	// MaxPinned bounds pinned messages per room (default 100).
	MaxPinned int
	// MaxReactions bounds distinct emoji per message (default 64).
	MaxReactions int
	// MaxViolations closes a connection after this many consecutive protocol
	// violations (bad_packet, packet_too_large) with no valid packet between
	// them (default 20). Negative: never close.
	MaxViolations int
	// StoreTimeout bounds each store read (default 5 s).
	StoreTimeout time.Duration
	// LeaveGrace is how long an identity whose last connection dropped
	// without leaving (network loss, replaced by a newer connection; see
	// Departure) stays present, silently: if it attaches again within it,
	// nobody sees it leave or join and nothing is recorded (default 5 s;
	// negative: announce every departure at once).
	LeaveGrace time.Duration
	// DepartureTimeout is how long a room must stay empty before chat
	// records ChangeEnd, which ends the recorder's session; a join within
	// it continues the session (default 20 s, as LiveKit's
	// departure_timeout; negative: end as soon as the room empties).
	DepartureTimeout time.Duration
}

// DefaultConfig returns the documented defaults.
func DefaultConfig() Config {
	return Config{
		MaxTextRunes:   protocol.DefaultMaxTextRunes,
		MaxPacketBytes: protocol.DefaultMaxPacketBytes,
		Rate:           10,
		Burst:          20,
		RoomRate:       200,
		RoomBurst:      400,
		TypingRate:     2,
		TypingBurst:    6,
		ReadRate:       4,
		ReadBurst:      10,
		TypingTimeout:  5 * time.Second,
		ReplayMessages: 50,
		HistoryMax:     100,
		HistoryDefault: 50,
		Window:         1000,
		MaxRecipients:  100,
		MaxPinned:      100,
		MaxReactions:   64,
		MaxViolations:  20,
		StoreTimeout:   5 * time.Second,

		LeaveGrace:       5 * time.Second,
		DepartureTimeout: 20 * time.Second,
	}
}

// normalized fills sizes left at zero with defaults; rates stay as given
// (0 = off).
func (c Config) normalized() Config {
	d := DefaultConfig()
	pos := func(v *int, def int) {
		if *v <= 0 {
			*v = def
		}
	}
	pos(&c.MaxTextRunes, d.MaxTextRunes)
	pos(&c.MaxPacketBytes, d.MaxPacketBytes)
	pos(&c.ReplayMessages, d.ReplayMessages)
	pos(&c.HistoryMax, d.HistoryMax)
	pos(&c.HistoryDefault, d.HistoryDefault)
	pos(&c.Window, d.Window)
	pos(&c.MaxRecipients, d.MaxRecipients)
	pos(&c.MaxPinned, d.MaxPinned)
	pos(&c.MaxReactions, d.MaxReactions)
	if c.MaxViolations == 0 {
		c.MaxViolations = d.MaxViolations
	}
	if c.HistoryDefault > c.HistoryMax {
		c.HistoryDefault = c.HistoryMax
	}
	if c.ReplayMessages > c.Window {
		c.ReplayMessages = c.Window
	}
	if c.TypingTimeout <= 0 {
		c.TypingTimeout = d.TypingTimeout
	}
	if c.StoreTimeout <= 0 {
		c.StoreTimeout = d.StoreTimeout
	}
	dur := func(v *time.Duration, def time.Duration) {
		switch {
		case *v == 0:
			*v = def
		case *v < 0:
			*v = 0 // off
		}
	}
	dur(&c.LeaveGrace, d.LeaveGrace)
	dur(&c.DepartureTimeout, d.DepartureTimeout)
	if c.Burst <= 0 {
		c.Burst = 1
	}
	if c.RoomBurst <= 0 {
		c.RoomBurst = 1
	}
	if c.TypingBurst <= 0 {
		c.TypingBurst = 1
	}
	if c.ReadBurst <= 0 {
		c.ReadBurst = 1
	}
	return c
}
