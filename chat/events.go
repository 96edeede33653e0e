package chat

import (
	"encoding/json"
	"log/slog"
	"time"

	"github.com/backchannel-rtc/backchannel/protocol"
)

// Server → client packets are protocol's; each is marshalled once and the
// same bytes go to every recipient. The short names below keep chat's
// handlers unchanged while concurrent work on them lands; like wire.go they
// are temporary, and new code names the protocol types.
type (
	evMessage  = protocol.MessageEvent
	evAck      = protocol.AckEvent
	evError    = protocol.ErrorEvent
	evReaction = protocol.ReactionEvent
	evEdited   = protocol.EditedEvent
	evDeleted  = protocol.DeletedEvent
	evPin      = protocol.PinEvent
	evTyping   = protocol.TypingEvent
	evRead     = protocol.ReadEvent
	evSelf     = protocol.Self
	evPresence = protocol.PresenceEvent
	evJoined   = protocol.JoinedEvent
	evLeft     = protocol.LeftEvent
	evMuted    = protocol.MutedEvent
	evKicked   = protocol.KickedEvent
	evHistory  = protocol.HistoryEvent
	evPins     = protocol.PinsEvent
	evResync   = protocol.ResyncEvent

	evChangeAck = protocol.ChangeAckEvent
	evWithdrawn = protocol.WithdrawnEvent
)

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
		Retryable: e.Code.Retryable()}
	if e.Code == CodeRateLimited {
		ev.RetryAfterMs = max(1, e.RetryAfter.Milliseconds())
	}
	return marshal(&ev)
}

func changeAckPacket(clientID, id string, seq int64) []byte {
	return marshal(&evChangeAck{Type: "ack", ClientID: clientID, ID: id, Seq: seq})
}

func ackPacket(clientID, id string, seq int64, at time.Time) []byte {
	return marshal(&evAck{Type: "ack", ClientID: clientID, ID: id, Seq: seq, CreatedAt: at})
}
