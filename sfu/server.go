package sfu

import (
	"errors"
	"log/slog"
	"net"
	"sync"

	"github.com/pion/webrtc/v4"

	"github.com/backchannel-rtc/backchannel/auth"
	"github.com/backchannel-rtc/backchannel/chat"
	"github.com/backchannel-rtc/backchannel/protocol"
)

// Signaler carries what the SFU must tell one participant's client. The
// signaling layer implements it; calls must not block.
type Signaler interface {
	// SubscriberOffer is an offer for the subscriber connection, with every
	// candidate in it.
	SubscriberOffer(sdp webrtc.SessionDescription)
	ParticipantJoined(protocol.ParticipantInfo)
	ParticipantLeft(identity string)
	TrackPublished(protocol.TrackInfo)
	TrackUnpublished(protocol.TrackInfo)
	// TrackMuted: identity (un)muted one of its tracks.
	TrackMuted(identity, trackID string, muted bool)
	// ActiveSpeakers is the room's new list of speakers, loudest first
	// (empty: nobody speaks). The slice is shared: read it, never change it.
	ActiveSpeakers([]protocol.SpeakerInfo)
	// Closed says the server ended this participant (replaced by a newer
	// connection, removed by a moderator, ICE failure, shutdown).
	Closed(reason string)
}

// ErrClosed is returned by Join on a server that is shutting down.
var ErrClosed = errors.New("server is shutting down")

// Server is a set of rooms sharing one Pion API and one UDP port.
type Server struct {
	cfg  Config
	rtc  *rtcTransport
	chat chat.Service
	log  *slog.Logger

	mu     sync.Mutex
	rooms  map[string]*Room
	closed bool

	bg sync.WaitGroup // the rooms' speaker loops
}

// NewServer opens the media sockets. chatSvc receives every chat channel.
func NewServer(cfg Config, chatSvc chat.Service) (*Server, error) {
	cfg.defaults()
	t, err := newTransport(cfg)
	if err != nil {
		return nil, err
	}
	return &Server{cfg: cfg, rtc: t, chat: chatSvc, log: cfg.Logger, rooms: map[string]*Room{}}, nil
}

// UDPAddr is the address of the shared ICE UDP socket.
func (s *Server) UDPAddr() net.Addr { return s.rtc.udpConn.LocalAddr() }

// ICEServers are the STUN/TURN servers clients should use.
func (s *Server) ICEServers() []protocol.ICEServer { return s.cfg.ICEServers }

// JoinInfo is what a participant learns on joining.
type JoinInfo struct {
	Self   protocol.ParticipantInfo
	Others []protocol.ParticipantInfo
}

// Join adds a participant to a room, replacing an earlier connection with
// the same identity.
func (s *Server) Join(room string, who auth.Identity, sig Signaler) (*Participant, JoinInfo, error) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, JoinInfo{}, ErrClosed
	}
	r := s.rooms[room]
	if r == nil {
		r = newRoom(s, room)
		s.rooms[room] = r
		metricRooms.Inc()
	}
	// Registering under s.mu keeps an emptying room from being deleted
	// between lookup and join.
	p, err := newParticipant(s, r, who, sig)
	if err != nil {
		s.mu.Unlock()
		return nil, JoinInfo{}, err
	}
	old, info := r.add(p)
	s.mu.Unlock()

	if old != nil {
		// Lost for chat: the same identity is back, its chat continues.
		old.close(protocol.ReasonReplaced, true, true)
	}
	r.announce(p, old != nil)
	return p, info, nil
}

// roomEmptied drops a room once its last participant is gone.
func (s *Server) roomEmptied(r *Room) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rooms[r.name] == r && r.empty() {
		delete(s.rooms, r.name)
		metricRooms.Dec()
	}
}

// Close tells every participant the server is going away, closes their
// peers and the sockets.
func (s *Server) Close() {
	s.mu.Lock()
	s.closed = true
	var ps []*Participant
	for _, r := range s.rooms {
		ps = append(ps, r.list()...)
	}
	s.mu.Unlock()
	var wg sync.WaitGroup
	for _, p := range ps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.close(protocol.ReasonShutdown, true, false)
		}()
	}
	wg.Wait()
	s.bg.Wait()
	s.rtc.close()
}

// Counts returns rooms and participants, for tests and health.
func (s *Server) Counts() (rooms, participants int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range s.rooms {
		rooms++
		participants += len(r.list())
	}
	return
}

// Participant returns the participant with identity in room, or nil.
func (s *Server) Participant(room, identity string) *Participant {
	s.mu.Lock()
	r := s.rooms[room]
	s.mu.Unlock()
	if r == nil {
		return nil
	}
	return r.get(identity)
}

// CloseRoom disconnects every participant of room, telling each client
// why (a cluster node handing the room to another node: the clients
// reconnect and land there). It returns once they are closed.
func (s *Server) CloseRoom(room, reason string) {
	s.mu.Lock()
	r := s.rooms[room]
	s.mu.Unlock()
	if r == nil {
		return
	}
	var wg sync.WaitGroup
	for _, p := range r.list() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.close(reason, true, true)
		}()
	}
	wg.Wait()
}

// HasRoom reports whether room has participants here.
func (s *Server) HasRoom(room string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rooms[room] != nil
}
