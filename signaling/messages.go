package signaling

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/pion/webrtc/v4"

	"github.com/backchannel-rtc/backchannel/sfu"
)

// ProtocolVersion is the version of the signaling protocol; the endpoint
// path carries it too (/v1/rtc).
const ProtocolVersion = 1

// Message types.
const (
	TypeJoin              = "join"
	TypeJoined            = "joined"
	TypeOffer             = "offer"
	TypeAnswer            = "answer"
	TypeCandidate         = "candidate"
	TypeParticipantJoined = "participantJoined"
	TypeParticipantLeft   = "participantLeft"
	TypeTrackPublished    = "trackPublished"
	TypeTrackUnpublished  = "trackUnpublished"
	TypeLeave             = "leave"
	TypePing              = "ping"
	TypePong              = "pong"
	TypeError             = "error"
)

// Message is every signaling message, in both directions; Type says which
// fields are set. One flat struct keeps decoding strict and simple.
type Message struct {
	Type string `json:"type"`

	// joined
	Protocol     int                   `json:"protocol,omitempty"`
	Room         string                `json:"room,omitempty"`
	Participant  *sfu.ParticipantInfo  `json:"participant,omitempty"`
	Participants []sfu.ParticipantInfo `json:"participants,omitempty"`
	ICEServers   []webrtc.ICEServer    `json:"iceServers,omitempty"`

	// offer, answer, candidate
	Target    sfu.Target               `json:"target,omitempty"`
	SDP       string                   `json:"sdp,omitempty"`
	Candidate *webrtc.ICECandidateInit `json:"candidate,omitempty"`

	// events
	Identity string         `json:"identity,omitempty"`
	Track    *sfu.TrackInfo `json:"track,omitempty"`

	// leave, error
	Reason  string `json:"reason,omitempty"`
	Code    string `json:"code,omitempty"`
	Message string `json:"message,omitempty"`

	// ping, pong: the sender's clock in milliseconds, echoed back.
	Timestamp int64 `json:"timestamp,omitempty"`
}

// MaxMessageSize bounds one signaling message (an SDP with many
// candidates fits easily).
const MaxMessageSize = 256 << 10

// ErrBadMessage is a message that cannot be decoded.
var ErrBadMessage = errors.New("bad message")

// clientFields are the fields each message a client may send can carry.
// Message is one flat struct for both directions, so DisallowUnknownFields
// alone would let a join carry "identity" (a server's field) silently.
var clientFields = map[string][]string{
	TypeJoin:      {"type"},
	TypeLeave:     {"type"},
	TypePing:      {"type", "timestamp"},
	TypeOffer:     {"type", "target", "sdp"},
	TypeAnswer:    {"type", "target", "sdp"},
	TypeCandidate: {"type", "target", "candidate"},
}

// Decode parses one message strictly: unknown fields and trailing data are
// refused, and the type must be one a client may send.
func Decode(b []byte) (Message, error) {
	var m Message
	if len(b) > MaxMessageSize {
		return m, fmt.Errorf("%w: larger than %d bytes", ErrBadMessage, MaxMessageSize)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return Message{}, fmt.Errorf("%w: %v", ErrBadMessage, err)
	}
	if dec.More() {
		return Message{}, fmt.Errorf("%w: trailing data", ErrBadMessage)
	}
	switch m.Type {
	case TypeJoin, TypeLeave, TypePing:
	case TypeOffer, TypeAnswer:
		if m.SDP == "" {
			return Message{}, fmt.Errorf("%w: %s without sdp", ErrBadMessage, m.Type)
		}
	case TypeCandidate:
		if m.Candidate == nil {
			return Message{}, fmt.Errorf("%w: candidate without candidate", ErrBadMessage)
		}
	case "":
		return Message{}, fmt.Errorf("%w: no type", ErrBadMessage)
	default:
		return Message{}, fmt.Errorf("%w: unknown type %q", ErrBadMessage, m.Type)
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(b, &fields); err != nil {
		return Message{}, fmt.Errorf("%w: %v", ErrBadMessage, err)
	}
	for f := range fields {
		if !slices.Contains(clientFields[m.Type], f) {
			return Message{}, fmt.Errorf("%w: field %q is not allowed in a %s message", ErrBadMessage, f, m.Type)
		}
	}
	return m, nil
}
