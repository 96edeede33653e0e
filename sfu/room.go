package sfu

import (
	"fmt"
	"sort"
	"sync"

	"github.com/backchannel-rtc/backchannel/protocol"
)

// Room is the participants of one room and the tracks they publish.
type Room struct {
	name string
	s    *Server

	mu           sync.Mutex
	participants map[string]*Participant // by identity
	tracks       map[string]*publishedTrack
	speakerStop  chan struct{} // closes the speaker loop; nil when none runs
}

func newRoom(s *Server, name string) *Room {
	return &Room{name: name, s: s, participants: map[string]*Participant{}, tracks: map[string]*publishedTrack{}}
}

// add registers p, returning the participant it replaces (same identity)
// and what p should be told about the room.
func (r *Room) add(p *Participant) (*Participant, JoinInfo) {
	r.mu.Lock()
	defer r.mu.Unlock()
	old := r.participants[p.who.Identity]
	if old != nil {
		// The old connection leaves without a "left" event: the same
		// identity is still present.
		r.removeLocked(old)
	}
	r.participants[p.who.Identity] = p
	metricParticipants.Inc()
	info := JoinInfo{Self: p.infoLocked()}
	for _, o := range r.sortedLocked() {
		if o != p && !o.who.Grant.Hidden {
			info.Others = append(info.Others, o.infoLocked())
		}
	}
	return old, info
}

// announce tells the others p arrived, unless it replaced a connection of
// the same identity (nobody was told that one left), and subscribes p to
// what is published.
func (r *Room) announce(p *Participant, replaced bool) {
	r.mu.Lock()
	var others []*Participant
	for _, o := range r.participants {
		if o != p {
			others = append(others, o)
		}
	}
	var tracks []*publishedTrack
	for _, t := range r.tracks {
		if t.publisher != p {
			tracks = append(tracks, t)
		}
	}
	info := p.infoLocked()
	r.mu.Unlock()
	if !p.who.Grant.Hidden && !replaced {
		for _, o := range others {
			o.sig.ParticipantJoined(info)
		}
	}
	if p.who.Grant.Subscribe() && len(tracks) > 0 {
		for _, t := range tracks {
			p.subscribe(t, false)
		}
		p.negotiate()
	}
}

// remove takes p out of the room if it is still the current connection of
// its identity; it reports whether it was.
func (r *Room) remove(p *Participant) bool {
	r.mu.Lock()
	if r.participants[p.who.Identity] != p {
		r.mu.Unlock()
		return false
	}
	r.removeLocked(p)
	var others []*Participant
	for _, o := range r.participants {
		others = append(others, o)
	}
	r.mu.Unlock()
	if !p.who.Grant.Hidden {
		for _, o := range others {
			o.sig.ParticipantLeft(p.who.Identity)
		}
	}
	r.s.roomEmptied(r)
	return true
}

func (r *Room) removeLocked(p *Participant) {
	delete(r.participants, p.who.Identity)
	metricParticipants.Dec()
}

// publish makes t available to everyone else allowed to subscribe.
func (r *Room) publish(t *publishedTrack) {
	r.mu.Lock()
	r.tracks[t.info.ID] = t
	if t.meter != nil {
		r.startSpeakersLocked()
	}
	info := t.infoLocked()
	var subs []*Participant
	for _, o := range r.participants {
		if o != t.publisher {
			subs = append(subs, o)
		}
	}
	r.mu.Unlock()
	metricTracks.Inc()
	for _, o := range subs {
		if o.who.Grant.Subscribe() {
			o.subscribe(t, true)
		}
		o.sig.TrackPublished(info)
	}
}

// unpublish removes t from every subscriber.
func (r *Room) unpublish(t *publishedTrack) {
	r.mu.Lock()
	if r.tracks[t.info.ID] != t {
		r.mu.Unlock()
		return
	}
	delete(r.tracks, t.info.ID)
	r.stopSpeakersLocked()
	info := t.infoLocked()
	var subs []*Participant
	for _, o := range r.participants {
		if o != t.publisher {
			subs = append(subs, o)
		}
	}
	r.mu.Unlock()
	metricTracks.Dec()
	for _, o := range subs {
		o.unsubscribe(t)
		o.sig.TrackUnpublished(info)
	}
}

func (r *Room) get(identity string) *Participant {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.participants[identity]
}

func (r *Room) list() []*Participant {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.sortedLocked()
}

func (r *Room) empty() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.participants) == 0
}

func (r *Room) sortedLocked() []*Participant {
	ps := make([]*Participant, 0, len(r.participants))
	for _, p := range r.participants {
		ps = append(ps, p)
	}
	sort.Slice(ps, func(i, j int) bool { return ps[i].who.Identity < ps[j].who.Identity })
	return ps
}

// tracksOfLocked lists what p publishes.
func (r *Room) tracksOfLocked(p *Participant) []protocol.TrackInfo {
	var out []protocol.TrackInfo
	for _, t := range r.tracks {
		if t.publisher == p {
			out = append(out, t.infoLocked())
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// mute records that p's track (by the server's id, or by the id in p's own
// SDP) is muted or not, and tells the others if that changed.
func (r *Room) mute(p *Participant, trackID string, muted bool) error {
	r.mu.Lock()
	t := r.tracks[trackID]
	if t == nil {
		for _, x := range r.tracks {
			if x.publisher == p && x.clientID == trackID {
				t = x
				break
			}
		}
	}
	if t == nil {
		r.mu.Unlock()
		return fmt.Errorf("%w: no track %q is published in the room", ErrUnknownTrack, trackID)
	}
	if t.publisher != p {
		r.mu.Unlock()
		return fmt.Errorf("%w: track %q is %s's", ErrNotYourTrack, trackID, t.publisher.who.Identity)
	}
	changed := t.muted != muted
	t.muted = muted
	var others []*Participant
	if changed {
		for _, o := range r.participants {
			if o != p {
				others = append(others, o)
			}
		}
	}
	r.mu.Unlock()
	for _, o := range others {
		o.sig.TrackMuted(p.who.Identity, t.info.ID, muted)
	}
	return nil
}
