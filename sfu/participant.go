package sfu

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"

	"github.com/backchannel-rtc/backchannel/auth"
	"github.com/backchannel-rtc/backchannel/protocol"
)

// ErrForbidden is returned when a participant's grants do not allow what it
// asked for (e.g. publishing media without canPublish).
var ErrForbidden = errors.New("forbidden")

// ErrUnsolicitedAnswer is returned for an answer when no subscriber offer
// is waiting for one: the client's mistake, answered with an error and
// nothing else (no renegotiation, no warning in the log).
var ErrUnsolicitedAnswer = errors.New("no subscriber offer is waiting for an answer")

// ErrUnknownTrack and ErrNotYourTrack refuse a mute: the track is not
// published in the room, or someone else publishes it. Both are the
// user's mistakes, not protocol violations.
var (
	ErrUnknownTrack = errors.New("unknown track")
	ErrNotYourTrack = errors.New("not your track")
)

// Participant is one connection of an identity to a room.
type Participant struct {
	id   string
	s    *Server
	room *Room
	who  auth.Identity
	sig  Signaler
	pub  *webrtc.PeerConnection // client offers: its media and the chat channel
	sub  *webrtc.PeerConnection // server offers: everyone else's media

	// subOps keeps a track's removal out of an answer being applied:
	// Pion's SetRemoteDescription starts the senders the answer negotiated,
	// and a sender whose track RemoveTrack has just set to nil (but not yet
	// detached) fails it with "Sender Track has been removed", leaving the
	// senders after it unstarted.
	subOps sync.Mutex

	mu          sync.Mutex
	closed      bool
	lost        bool // closed without the participant leaving (chat.Departure)
	negotiating bool // a subscriber offer awaits its answer
	again       bool // something changed while negotiating
	senders     map[string]*webrtc.RTPSender
	subscribed  map[string]*publishedTrack
	needPLI     []*publishedTrack // keyframes to ask for once the answer lands
	published   []*publishedTrack
	data        *dataConn

	wg   sync.WaitGroup // goroutines this participant owns
	done chan struct{}
}

func newID(prefix string) string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

func newParticipant(s *Server, r *Room, who auth.Identity, sig Signaler) (*Participant, error) {
	p := &Participant{
		id: newID("PA_"), s: s, room: r, who: who, sig: sig,
		senders: map[string]*webrtc.RTPSender{}, subscribed: map[string]*publishedTrack{}, done: make(chan struct{}),
	}
	var err error
	if p.pub, err = s.rtc.api.NewPeerConnection(webrtc.Configuration{}); err != nil {
		return nil, err
	}
	if p.sub, err = s.rtc.api.NewPeerConnection(webrtc.Configuration{}); err != nil {
		p.pub.Close()
		return nil, err
	}
	p.pub.OnTrack(p.onTrack)
	p.pub.OnDataChannel(p.onDataChannel)
	onState := func(st webrtc.PeerConnectionState) {
		if st == webrtc.PeerConnectionStateFailed {
			go p.close(protocol.ReasonFailed, true, true)
		}
	}
	p.pub.OnConnectionStateChange(onState)
	p.sub.OnConnectionStateChange(func(st webrtc.PeerConnectionState) {
		onState(st)
		if st == webrtc.PeerConnectionStateConnected {
			// Media can flow now: start every video with a keyframe.
			p.mu.Lock()
			var ts []*publishedTrack
			for _, t := range p.subscribed {
				ts = append(ts, t)
			}
			p.mu.Unlock()
			for _, t := range ts {
				t.requestKeyframe()
			}
		}
	})
	return p, nil
}

// ID is unique per connection.
func (p *Participant) ID() string { return p.id }

// Who is the participant's verified identity.
func (p *Participant) Who() auth.Identity { return p.who }

// Room is the room's name.
func (p *Participant) Room() string { return p.room.name }

func (p *Participant) infoLocked() protocol.ParticipantInfo {
	return protocol.ParticipantInfo{Identity: p.who.Identity, Name: p.who.DisplayName(),
		Host: p.who.Grant.RoomAdmin, Tracks: p.room.tracksOfLocked(p)}
}

// MuteTrack records that one of p's tracks is muted or unmuted (trackID
// is the server's id or the id in p's own SDP) and tells the others.
func (p *Participant) MuteTrack(trackID string, muted bool) error {
	return p.room.mute(p, trackID, muted)
}

// HandleOffer answers the client's offer for its publisher connection. The
// answer carries every server candidate: with one shared UDP port gathering
// is immediate, so the server does not trickle.
func (p *Participant) HandleOffer(offer webrtc.SessionDescription) (webrtc.SessionDescription, error) {
	if !p.who.Grant.Publish() && sendsMedia(offer.SDP) {
		return webrtc.SessionDescription{}, fmt.Errorf("%w: the token does not allow publishing media", ErrForbidden)
	}
	if err := p.pub.SetRemoteDescription(offer); err != nil {
		return webrtc.SessionDescription{}, err
	}
	answer, err := p.pub.CreateAnswer(nil)
	if err != nil {
		return webrtc.SessionDescription{}, err
	}
	if err := p.setLocal(p.pub, answer); err != nil {
		return webrtc.SessionDescription{}, err
	}
	return *p.pub.LocalDescription(), nil
}

// sendsMedia reports whether an offer wants to send audio or video.
func sendsMedia(raw string) bool {
	var d sdp.SessionDescription
	if err := d.UnmarshalString(raw); err != nil {
		return true
	}
	for _, m := range d.MediaDescriptions {
		if m.MediaName.Media != "audio" && m.MediaName.Media != "video" {
			continue
		}
		dir := "sendrecv"
		for _, a := range m.Attributes {
			switch a.Key {
			case "sendrecv", "sendonly", "recvonly", "inactive":
				dir = a.Key
			}
		}
		if dir == "sendrecv" || dir == "sendonly" {
			return true
		}
	}
	return false
}

func (p *Participant) setLocal(pc *webrtc.PeerConnection, d webrtc.SessionDescription) error {
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(d); err != nil {
		return err
	}
	select {
	case <-gathered:
	case <-time.After(3 * time.Second):
	}
	return nil
}

// HandleAnswer applies the client's answer to a subscriber offer.
func (p *Participant) HandleAnswer(answer webrtc.SessionDescription) error {
	p.subOps.Lock()
	if p.sub.SignalingState() != webrtc.SignalingStateHaveLocalOffer {
		p.subOps.Unlock()
		return ErrUnsolicitedAnswer
	}
	err := p.sub.SetRemoteDescription(answer)
	applied := err == nil || p.sub.SignalingState() == webrtc.SignalingStateStable
	p.subOps.Unlock()
	if !applied {
		return err
	}
	p.mu.Lock()
	p.negotiating = false
	again := p.again || err != nil
	p.again = false
	plis := p.needPLI
	p.needPLI = nil
	p.mu.Unlock()
	// A new subscriber needs a keyframe to start decoding.
	for _, t := range plis {
		t.requestKeyframe()
	}
	if err != nil {
		// The answer was applied but a sender failed to start: offer
		// again rather than leave the subscriber waiting for ever, and
		// tell the client.
		p.s.log.Warn("subscriber answer applied with an error; renegotiating", "identity", p.who.Identity, "err", err)
	}
	if again {
		p.negotiate()
	}
	return err
}

// AddCandidate adds a client's trickled ICE candidate.
func (p *Participant) AddCandidate(target protocol.Target, cand protocol.ICECandidate) error {
	c := webrtc.ICECandidateInit{Candidate: cand.Candidate, SDPMid: cand.SDPMid,
		SDPMLineIndex: cand.SDPMLineIndex, UsernameFragment: cand.UsernameFragment}
	switch target {
	case protocol.Publisher:
		return p.pub.AddICECandidate(c)
	case protocol.Subscriber:
		return p.sub.AddICECandidate(c)
	}
	return fmt.Errorf("unknown target %q", target)
}

// negotiate sends a subscriber offer, or marks that one is needed once the
// pending one is answered.
func (p *Participant) negotiate() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	if p.negotiating {
		p.again = true
		p.mu.Unlock()
		return
	}
	p.negotiating = true
	p.mu.Unlock()

	offer, err := p.sub.CreateOffer(nil)
	if err == nil {
		err = p.setLocal(p.sub, offer)
	}
	if err != nil {
		p.s.log.Warn("subscriber offer", "identity", p.who.Identity, "err", err)
		p.mu.Lock()
		p.negotiating = false
		p.mu.Unlock()
		return
	}
	p.sig.SubscriberOffer(*p.sub.LocalDescription())
}

// subscribe adds t to p's subscriber connection; with renegotiate it also
// sends the new offer.
func (p *Participant) subscribe(t *publishedTrack, renegotiate bool) {
	p.mu.Lock()
	if p.closed || p.senders[t.info.ID] != nil {
		p.mu.Unlock()
		return
	}
	p.mu.Unlock()
	sender, err := p.sub.AddTrack(t.local)
	if err != nil {
		p.s.log.Warn("subscribe", "identity", p.who.Identity, "track", t.info.ID, "err", err)
		return
	}
	p.mu.Lock()
	p.senders[t.info.ID] = sender
	p.subscribed[t.info.ID] = t
	p.needPLI = append(p.needPLI, t)
	p.mu.Unlock()
	// Read RTCP so the interceptors (NACK responder, reports) run, and pass
	// the subscriber's keyframe requests to the publisher.
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			pkts, _, err := sender.ReadRTCP()
			if err != nil {
				return
			}
			for _, pkt := range pkts {
				switch pkt.(type) {
				case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
					t.requestKeyframe()
				}
			}
		}
	}()
	if renegotiate {
		p.negotiate()
	}
}

func (p *Participant) unsubscribe(t *publishedTrack) {
	p.mu.Lock()
	sender := p.senders[t.info.ID]
	delete(p.senders, t.info.ID)
	delete(p.subscribed, t.info.ID)
	closed := p.closed
	p.mu.Unlock()
	if sender == nil || closed {
		return
	}
	p.subOps.Lock()
	err := p.sub.RemoveTrack(sender)
	p.subOps.Unlock()
	if err == nil {
		p.negotiate()
	}
}

// Leave ends the participant at its own request: nothing is sent to it,
// and chat announces its departure at once.
func (p *Participant) Leave() { p.close("left", false, false) }

// Disconnected ends the participant whose signaling socket went away
// without a leave: chat keeps its identity present for its leave grace, so
// that a reconnect is invisible to the others.
func (p *Participant) Disconnected() { p.close("connection lost", false, true) }

// Remove ends the participant from the server side (moderation) and tells
// its client why.
func (p *Participant) Remove(reason string) { go p.close(reason, true, false) }

// drop ends the participant whose connection failed, telling its client
// why; as Disconnected, chat gives it a grace to come back. A client that
// leaves sends leave on its signaling socket and then closes its peer
// connections, and the two travel separately: the close may be read
// first. dropSettle gives a leave already on its way the time to arrive
// and make the departure a meant one, announced at once.
func (p *Participant) drop(reason string) {
	go func() {
		t := time.NewTimer(dropSettle)
		defer t.Stop()
		select {
		case <-p.done:
			return
		case <-t.C:
		}
		p.close(reason, true, true)
	}()
}

// dropSettle is how long a failed connection waits for a leave that may
// be on its way; a real failure is noticed this much later.
const dropSettle = 250 * time.Millisecond

// closedByPeer ends the participant whose client closed its connection
// itself: a departure it meant, announced at once.
func (p *Participant) closedByPeer(reason string) { go p.close(reason, true, false) }

// close releases everything the participant holds, once. lost says the
// participant did not mean to leave (chat.Departure).
func (p *Participant) close(reason string, tell, lost bool) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed, p.lost = true, lost
	published := p.published
	p.published = nil
	data := p.data
	p.mu.Unlock()
	close(p.done)

	p.room.remove(p)
	for _, t := range published {
		p.room.unpublish(t)
	}
	if tell {
		p.sig.Closed(reason)
		if data != nil {
			data.flush(time.Second)
		}
	}
	// The publisher connection (which carries the chat channel) closes
	// before the channel's loops are waited for: a channel's read returns
	// only once the peer resets its stream or the association ends, and a
	// peer whose network vanished does neither, so waiting first would
	// hang this close, and the participant with it, until ICE failed.
	_ = p.pub.Close()
	if data != nil {
		data.close()
	}
	_ = p.sub.Close()
	p.wg.Wait()
}

// Done is closed once the participant is closed.
func (p *Participant) Done() <-chan struct{} { return p.done }
