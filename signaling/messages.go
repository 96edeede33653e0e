package signaling

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/backchannel-rtc/backchannel/protocol"
	"github.com/backchannel-rtc/backchannel/protocol/e2ee"
)

// ErrBadMessage is a message that cannot be decoded.
var ErrBadMessage = errors.New("bad message")

// clientFields are the fields each message a client may send can carry.
// protocol.Signal is one flat struct for both directions, so
// DisallowUnknownFields alone would let a join carry "identity" (a
// server's field) silently.
var clientFields = map[string][]string{
	protocol.SignalJoin:      {"type", "e2eeKey"},
	protocol.SignalLeave:     {"type"},
	protocol.SignalPing:      {"type", "timestamp"},
	protocol.SignalOffer:     {"type", "target", "sdp"},
	protocol.SignalAnswer:    {"type", "target", "sdp"},
	protocol.SignalCandidate: {"type", "target", "candidate"},
	protocol.SignalMuteTrack: {"type", "trackId", "muted"},
}

// maxTrackID bounds a muteTrack's trackId (browsers' track ids are
// 36-character UUIDs).
const maxTrackID = 256

// Decode parses one message strictly: unknown fields and trailing data are
// refused, and the type must be one a client may send.
func Decode(b []byte) (protocol.Signal, error) {
	var m protocol.Signal
	if len(b) > protocol.MaxSignalBytes {
		return m, fmt.Errorf("%w: larger than %d bytes", ErrBadMessage, protocol.MaxSignalBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return protocol.Signal{}, fmt.Errorf("%w: %v", ErrBadMessage, err)
	}
	if dec.More() {
		return protocol.Signal{}, fmt.Errorf("%w: trailing data", ErrBadMessage)
	}
	switch m.Type {
	case protocol.SignalJoin:
		if m.E2EEKey != "" {
			if _, err := e2ee.ParsePublicKey(m.E2EEKey); err != nil {
				return protocol.Signal{}, fmt.Errorf("%w: e2eeKey: %v", ErrBadMessage, err)
			}
		}
	case protocol.SignalLeave, protocol.SignalPing:
	case protocol.SignalOffer, protocol.SignalAnswer:
		if m.SDP == "" {
			return protocol.Signal{}, fmt.Errorf("%w: %s without sdp", ErrBadMessage, m.Type)
		}
	case protocol.SignalCandidate:
		if m.Candidate == nil {
			return protocol.Signal{}, fmt.Errorf("%w: candidate without candidate", ErrBadMessage)
		}
	case protocol.SignalMuteTrack:
		if m.TrackID == "" || m.Muted == nil {
			return protocol.Signal{}, fmt.Errorf("%w: muteTrack needs trackId and muted", ErrBadMessage)
		}
		if len(m.TrackID) > maxTrackID {
			return protocol.Signal{}, fmt.Errorf("%w: trackId longer than %d bytes", ErrBadMessage, maxTrackID)
		}
	case "":
		return protocol.Signal{}, fmt.Errorf("%w: no type", ErrBadMessage)
	default:
		return protocol.Signal{}, fmt.Errorf("%w: unknown type %q", ErrBadMessage, m.Type)
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(b, &fields); err != nil {
		return protocol.Signal{}, fmt.Errorf("%w: %v", ErrBadMessage, err)
	}
	for f := range fields {
		if !slices.Contains(clientFields[m.Type], f) {
			return protocol.Signal{}, fmt.Errorf("%w: field %q is not allowed in a %s message", ErrBadMessage, f, m.Type)
		}
	}
	return m, nil
}
