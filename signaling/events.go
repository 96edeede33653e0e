package signaling

import (
	"errors"

	"github.com/pion/webrtc/v4"

	"github.com/backchannel-rtc/backchannel/protocol"
	"github.com/backchannel-rtc/backchannel/sfu"
)

// What the SFU tells a participant (conn implements sfu.Signaler): each
// call only queues, as the SFU may hold no lock but its own.

func (c *conn) SubscriberOffer(d webrtc.SessionDescription) {
	c.send(protocol.Signal{Type: protocol.SignalOffer, Target: protocol.Subscriber, SDP: d.SDP})
}
func (c *conn) ParticipantJoined(p protocol.ParticipantInfo) {
	c.send(protocol.Signal{Type: protocol.SignalParticipantJoined, Participant: &p})
}
func (c *conn) ParticipantLeft(identity string) {
	c.send(protocol.Signal{Type: protocol.SignalParticipantLeft, Identity: identity})
}
func (c *conn) TrackPublished(t protocol.TrackInfo) {
	c.send(protocol.Signal{Type: protocol.SignalTrackPublished, Track: &t})
}
func (c *conn) TrackUnpublished(t protocol.TrackInfo) {
	c.send(protocol.Signal{Type: protocol.SignalTrackUnpublished, Track: &t})
}
func (c *conn) TrackMuted(identity, trackID string, muted bool) {
	c.send(protocol.Signal{Type: protocol.SignalTrackMuted, Identity: identity, TrackID: trackID, Muted: &muted})
}
func (c *conn) ActiveSpeakers(s []protocol.SpeakerInfo) {
	c.send(protocol.Signal{Type: protocol.SignalActiveSpeakers, Speakers: s})
}

// muteTrack applies a client's muteTrack; a mistake (an unknown track,
// another's track) is answered with an error and the socket stays up.
func (c *conn) muteTrack(p *sfu.Participant, m protocol.Signal) {
	err := p.MuteTrack(m.TrackID, *m.Muted)
	switch {
	case err == nil:
	case errors.Is(err, sfu.ErrNotYourTrack):
		c.send(protocol.Signal{Type: protocol.SignalError, Code: protocol.CodeNotYourTrack, Message: err.Error(), TrackID: m.TrackID})
	default:
		c.send(protocol.Signal{Type: protocol.SignalError, Code: protocol.CodeUnknownTrack, Message: err.Error(), TrackID: m.TrackID})
	}
}
