package app_test

import (
	"context"
	"encoding/json"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"

	"github.com/backchannel-rtc/backchannel/client"
	"github.com/backchannel-rtc/backchannel/internal/app"
	"github.com/backchannel-rtc/backchannel/protocol"
)

// Levels a test microphone sends, in -dBov as RFC 6464 carries them.
const (
	levelLoud   = 10  // clear speech
	levelSilent = 127 // silence
	levelOff    = -1  // no packets at all (stopped)
)

// mic is an Opus track whose packets carry the audio level extension, as
// a browser's do; the payload is arbitrary (the SFU does not decode it).
type mic struct {
	level atomic.Int32
}

// publishMic publishes a microphone track with local id "mic" from c and
// sends a 20 ms packet at the mic's current level until the test ends.
func publishMic(t *testing.T, c *client.Client) *mic {
	t.Helper()
	track, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus}, "mic", c.Identity())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := c.Publish(ctx, track, nil); err != nil {
		t.Fatal(err)
	}
	extID, ok := c.PublisherExtensionID(sdp.AudioLevelURI)
	if !ok {
		t.Fatal("the audio level extension was not negotiated")
	}
	m := &mic{}
	m.level.Store(levelSilent)
	stop := make(chan struct{})
	done := make(chan struct{})
	t.Cleanup(func() { close(stop); <-done })
	go func() {
		defer close(done)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		payload := make([]byte, 60)
		var seq uint16
		var ts uint32
		for {
			select {
			case <-stop:
				return
			case <-c.Done():
				return
			case <-tick.C:
			}
			seq++
			ts += 960
			lvl := m.level.Load()
			if lvl == levelOff {
				continue
			}
			pkt := &rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: seq, Timestamp: ts}, Payload: payload}
			ext, _ := rtp.AudioLevelExtension{Level: uint8(lvl), Voice: lvl != levelSilent}.Marshal()
			if err := pkt.SetExtension(extID, ext); err != nil {
				t.Error(err)
				return
			}
			_ = track.WriteRTP(pkt)
		}
	}()
	return m
}

// signals records the signaling events a client receives, with when.
type signals struct {
	mu  sync.Mutex
	got []stamped
}

type stamped struct {
	at time.Time
	m  protocol.Signal
}

func (s *signals) add(m protocol.Signal) {
	s.mu.Lock()
	s.got = append(s.got, stamped{time.Now(), m})
	s.mu.Unlock()
}

// find returns the first event of type typ received at or after since that
// match accepts.
func (s *signals) find(typ string, since time.Time, match func(protocol.Signal) bool) (stamped, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range s.got {
		if e.m.Type == typ && !e.at.Before(since) && (match == nil || match(e.m)) {
			return e, true
		}
	}
	return stamped{}, false
}

func (s *signals) all(typ string) []stamped {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []stamped
	for _, e := range s.got {
		if e.m.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

// waitFor waits up to d for an event of type typ from since on.
func (s *signals) waitFor(t *testing.T, d time.Duration, what, typ string, since time.Time, match func(protocol.Signal) bool) stamped {
	t.Helper()
	var e stamped
	eventually(t, d, what, func() bool {
		var ok bool
		e, ok = s.find(typ, since, match)
		return ok
	})
	return e
}

func speaking(identity string) func(protocol.Signal) bool {
	return func(m protocol.Signal) bool { return len(m.Speakers) > 0 && m.Speakers[0].Identity == identity }
}

func nobodySpeaks(m protocol.Signal) bool { return m.Speakers != nil && len(m.Speakers) == 0 }

func publishedBy(identity string) func(protocol.Signal) bool {
	return func(m protocol.Signal) bool { return m.Track != nil && m.Track.Publisher == identity }
}

// TestActiveSpeakers: a publisher whose audio packets say it is loud is
// named in activeSpeakers to the others within a second, with a level in
// (0, 1]; silence, and stopping altogether, empty the list within a second;
// events come at most every 300 ms or so.
func TestActiveSpeakers(t *testing.T) {
	a := startServer(t, nil, nil)
	var bobSeen signals
	var carolSpeakers atomic.Int32
	alice := join(t, a, "talk", "alice", client.Options{})
	bob := join(t, a, "talk", "bob", client.Options{OnEvent: bobSeen.add})
	join(t, a, "talk", "carol", client.Options{OnActiveSpeakers: func(s []protocol.SpeakerInfo) {
		if len(s) > 0 && s[0].Identity == "alice" {
			carolSpeakers.Add(1)
		}
	}})
	_ = bob
	m := publishMic(t, alice)
	bobSeen.waitFor(t, 5*time.Second, "alice's track", protocol.SignalTrackPublished, time.Time{}, publishedBy("alice"))
	time.Sleep(700 * time.Millisecond) // silence for a while: nobody is named
	if e, ok := bobSeen.find(protocol.SignalActiveSpeakers, time.Time{}, nil); ok {
		t.Fatalf("activeSpeakers while everyone is silent: %+v", e.m)
	}

	loud := time.Now()
	m.level.Store(levelLoud)
	e := bobSeen.waitFor(t, time.Second, "alice named as speaker", protocol.SignalActiveSpeakers, loud, speaking("alice"))
	if lvl := e.m.Speakers[0].Level; lvl <= 0 || lvl > 1 || len(e.m.Speakers) != 1 {
		t.Fatalf("speakers %+v: want alice alone, level in (0,1]", e.m.Speakers)
	}
	t.Logf("alice named %v after she got loud (level %.3f)", e.at.Sub(loud), e.m.Speakers[0].Level)
	eventually(t, time.Second, "carol's OnActiveSpeakers", func() bool { return carolSpeakers.Load() > 0 })

	quiet := time.Now()
	m.level.Store(levelSilent)
	e = bobSeen.waitFor(t, time.Second, "no speakers after silence", protocol.SignalActiveSpeakers, quiet, nobodySpeaks)
	t.Logf("list emptied %v after silence", e.at.Sub(quiet))

	loud = time.Now()
	m.level.Store(levelLoud)
	bobSeen.waitFor(t, time.Second, "alice named again", protocol.SignalActiveSpeakers, loud, speaking("alice"))
	stopped := time.Now()
	m.level.Store(levelOff)
	e = bobSeen.waitFor(t, time.Second, "no speakers after alice stopped sending", protocol.SignalActiveSpeakers, stopped, nobodySpeaks)
	t.Logf("list emptied %v after alice stopped sending", e.at.Sub(stopped))

	evs := bobSeen.all(protocol.SignalActiveSpeakers)
	for i := 1; i < len(evs); i++ {
		if gap := evs[i].at.Sub(evs[i-1].at); gap < 200*time.Millisecond {
			t.Errorf("activeSpeakers events %v apart: more than a few a second", gap)
		}
	}
}

// TestTrackMute: the publisher mutes its track by its local id; the others
// get trackMuted with the server's track id within a second, the publisher
// gets none, a late joiner sees muted in the track list, and a muted
// microphone is no longer an active speaker. Muting someone else's track,
// or a track that does not exist, gets an error and the socket stays up.
func TestTrackMute(t *testing.T) {
	a := startServer(t, nil, nil)
	var aliceSeen, bobSeen signals
	var bobMuted atomic.Value
	alice := join(t, a, "mute", "alice", client.Options{OnEvent: aliceSeen.add})
	bob := join(t, a, "mute", "bob", client.Options{OnEvent: bobSeen.add, OnTrackMuted: func(id, track string, muted bool) {
		bobMuted.Store([3]any{id, track, muted})
	}})
	m := publishMic(t, alice)
	pub := bobSeen.waitFor(t, 5*time.Second, "alice's track", protocol.SignalTrackPublished, time.Time{}, publishedBy("alice"))
	trackID := pub.m.Track.ID
	if pub.m.Track.Muted {
		t.Fatal("a new track is muted")
	}
	m.level.Store(levelLoud)
	bobSeen.waitFor(t, time.Second, "alice speaking", protocol.SignalActiveSpeakers, time.Time{}, speaking("alice"))

	muted := time.Now()
	if err := alice.MuteTrack("mic", true); err != nil {
		t.Fatal(err)
	}
	e := bobSeen.waitFor(t, time.Second, "trackMuted", protocol.SignalTrackMuted, muted, nil)
	if e.m.Identity != "alice" || e.m.TrackID != trackID || e.m.Muted == nil || !*e.m.Muted {
		t.Fatalf("trackMuted %+v: want alice's %s muted", e.m, trackID)
	}
	t.Logf("bob saw the mute after %v", e.at.Sub(muted))
	if got, _ := bobMuted.Load().([3]any); got != [3]any{"alice", trackID, true} {
		t.Fatalf("OnTrackMuted got %v", got)
	}
	// Still loud packets, but muted: the highlight ends.
	bobSeen.waitFor(t, time.Second, "no speakers once muted", protocol.SignalActiveSpeakers, muted, nobodySpeaks)

	carol := join(t, a, "mute", "carol", client.Options{})
	var found bool
	for _, p := range carol.Joined.Participants {
		for _, tr := range p.Tracks {
			if tr.ID == trackID {
				found = true
				if !tr.Muted {
					t.Fatalf("late joiner sees %+v: want muted", tr)
				}
			}
		}
	}
	if !found {
		t.Fatalf("late joiner's participants %+v lack alice's track", carol.Joined.Participants)
	}

	// Mistakes: an error each, and bob's socket stays up.
	if err := bob.MuteTrack(trackID, false); err != nil {
		t.Fatal(err)
	}
	bobSeen.waitFor(t, 2*time.Second, "not_your_track", protocol.SignalError, muted, func(m protocol.Signal) bool {
		return m.Code == protocol.CodeNotYourTrack && m.TrackID == trackID
	})
	if err := bob.MuteTrack("AT_nope", true); err != nil {
		t.Fatal(err)
	}
	bobSeen.waitFor(t, 2*time.Second, "unknown_track", protocol.SignalError, muted, func(m protocol.Signal) bool {
		return m.Code == protocol.CodeUnknownTrack
	})
	if _, ok := bobSeen.find(protocol.SignalTrackMuted, muted, func(m protocol.Signal) bool { return !*m.Muted }); ok {
		t.Fatal("bob unmuted alice's track")
	}

	unmuted := time.Now()
	if err := alice.MuteTrack(trackID, false); err != nil { // the server's id works too
		t.Fatal(err)
	}
	e = bobSeen.waitFor(t, time.Second, "trackMuted false", protocol.SignalTrackMuted, unmuted, nil)
	if *e.m.Muted {
		t.Fatalf("got %+v, want unmuted", e.m)
	}
	bobSeen.waitFor(t, time.Second, "alice speaking after unmute", protocol.SignalActiveSpeakers, unmuted, speaking("alice"))
	if _, ok := aliceSeen.find(protocol.SignalTrackMuted, time.Time{}, nil); ok {
		t.Fatal("the publisher was sent its own trackMuted")
	}
}

// TestHostInPresence: a roomAdmin participant is host:true to the others,
// in signaling (joined, participantJoined) and in chat presence; others
// are not.
func TestHostInPresence(t *testing.T) {
	a := startServer(t, nil, nil)
	var bobSeen signals
	host := joinAs(t, a, "hosted", "alice", true, client.Options{})
	presence := make(chan []byte, 16)
	bob := joinAs(t, a, "hosted", "bob", false, client.Options{OnEvent: bobSeen.add, OnChat: func(b []byte) {
		var h protocol.Head
		if json.Unmarshal(b, &h) == nil && h.Type == protocol.EventPresence {
			presence <- b
		}
	}})
	if host.Joined.Participant == nil || !host.Joined.Participant.Host {
		t.Fatalf("the host's own info %+v lacks host", host.Joined.Participant)
	}
	if len(bob.Joined.Participants) != 1 || !bob.Joined.Participants[0].Host || bob.Joined.Participant.Host {
		t.Fatalf("bob's joined: self %+v, others %+v: want alice host, bob not", bob.Joined.Participant, bob.Joined.Participants)
	}
	var pres protocol.PresenceEvent
	select {
	case b := <-presence:
		if err := json.Unmarshal(b, &pres); err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no chat presence")
	}
	for _, p := range pres.Participants {
		if p.Host != (p.Identity == "alice") {
			t.Fatalf("chat presence %+v: only alice is host", pres.Participants)
		}
	}
	if pres.Self.Host {
		t.Fatal("bob is host in his own presence")
	}

	carolJoined := time.Now()
	joinAs(t, a, "hosted", "carol", true, client.Options{})
	e := bobSeen.waitFor(t, 2*time.Second, "carol joined", protocol.SignalParticipantJoined, carolJoined, nil)
	if e.m.Participant == nil || e.m.Participant.Identity != "carol" || !e.m.Participant.Host {
		t.Fatalf("participantJoined %+v: want carol as host", e.m.Participant)
	}
}

// joinAs joins with an admin (roomAdmin) token or not.
func joinAs(t *testing.T, a *app.App, room, identity string, admin bool, opts client.Options) *client.Client {
	t.Helper()
	tok, err := a.Token(room, identity, "Name of "+identity, admin)
	if err != nil {
		t.Fatal(err)
	}
	opts.LoopbackOnly = true
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	c, err := client.Join(ctx, a.URL(), tok, opts)
	if err != nil {
		t.Fatalf("join %s: %v", identity, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}
