package sfu

import (
	"math"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"

	"github.com/backchannel-rtc/backchannel/protocol"
)

// Active speakers, as LiveKit's audio level observer finds them: each
// audio packet carries its level in the ssrc-audio-level header extension
// (RFC 6464: 0 is the loudest, 127 silence, in -dBov). A publisher speaks
// in a window when enough of the window was loud, and its level is the
// loudest packet of the window, weighed down by how much of the window was
// quiet, then smoothed over windows.
const (
	// speakerInterval is the window and the tick of the room's speaker
	// loop: one activeSpeakers event per tick at most, about 3 a second.
	speakerInterval = 300 * time.Millisecond
	// activeLevel: a packet at this level or louder (-35 dBov) is voice.
	activeLevel = 35
	// minActiveFraction of a window must be voice for the publisher to
	// be speaking in it (the minimum active duration: 120 ms of 300).
	minActiveFraction = 0.4
	// packetDuration is what one audio packet is assumed to carry: the
	// 20 ms browsers send Opus in.
	packetDuration = 20 * time.Millisecond
	// smoothing is the weight of the newest window in the smoothed level.
	smoothing   = 0.5
	silentLevel = 127
)

// levelMeter collects the audio levels of one published audio track. The
// forwarding goroutine writes to it for each packet (a few atomic
// operations, no allocation); the room's speaker loop reads and resets it
// once a window.
type levelMeter struct {
	extID   uint8         // the negotiated extension id; 0: none
	active  atomic.Uint32 // voice packets this window
	loudest atomic.Uint32 // loudest voice level this window

	smoothed float64 // guarded by the room's mu
}

// newLevelMeter returns a meter for a track whose receiver negotiated the
// audio level extension, or nil.
func newLevelMeter(recv *webrtc.RTPReceiver) *levelMeter {
	if recv == nil {
		return nil
	}
	for _, h := range recv.GetParameters().HeaderExtensions {
		if h.URI == sdp.AudioLevelURI && h.ID > 0 && h.ID < 256 {
			m := &levelMeter{extID: uint8(h.ID)}
			m.loudest.Store(silentLevel)
			return m
		}
	}
	return nil
}

// observe records one packet's level.
func (m *levelMeter) observe(h *rtp.Header) {
	b := h.GetExtension(m.extID)
	if b == nil {
		return
	}
	var a rtp.AudioLevelExtension
	if a.Unmarshal(b) != nil || a.Level > activeLevel {
		return
	}
	m.active.Add(1)
	lvl := uint32(a.Level)
	for {
		cur := m.loudest.Load()
		if lvl >= cur || m.loudest.CompareAndSwap(cur, lvl) {
			return
		}
	}
}

// tick closes a window of length elapsed and returns the smoothed level,
// 0 to 1; 0 means not speaking.
func (m *levelMeter) tick(elapsed time.Duration, muted bool) float64 {
	active := m.active.Swap(0)
	loudest := m.loudest.Swap(silentLevel)
	if muted || elapsed <= 0 {
		m.smoothed = 0
		return 0
	}
	voice := time.Duration(active) * packetDuration
	fraction := min(float64(voice)/float64(elapsed), 1)
	if fraction < minActiveFraction {
		m.smoothed = 0
		return 0
	}
	// A window that was voice throughout keeps its loudest level; one
	// that was half voice counts 6 dB quieter.
	adjusted := float64(loudest) - 20*math.Log10(fraction)
	linear := math.Pow(10, -adjusted/20)
	m.smoothed += (linear - m.smoothed) * smoothing
	return m.smoothed
}

// startSpeakersLocked runs the room's speaker loop while it has audio
// tracks to meter. The caller holds r.mu.
func (r *Room) startSpeakersLocked() {
	if r.speakerStop != nil {
		return
	}
	stop := make(chan struct{})
	r.speakerStop = stop
	r.s.bg.Add(1)
	go r.speakerLoop(stop)
}

// stopSpeakersLocked ends the loop once no metered track is left. The
// caller holds r.mu.
func (r *Room) stopSpeakersLocked() {
	for _, t := range r.tracks {
		if t.meter != nil {
			return
		}
	}
	if r.speakerStop != nil {
		close(r.speakerStop)
		r.speakerStop = nil
	}
}

// speakerLoop ticks every speakerInterval, and tells everyone in the room
// when the list of active speakers changes (its members or their order).
func (r *Room) speakerLoop(stop chan struct{}) {
	defer r.s.bg.Done()
	tick := time.NewTicker(speakerInterval)
	defer tick.Stop()
	last := time.Now()
	var sent []protocol.SpeakerInfo
	defer func() {
		// The last audio track is gone: nobody speaks.
		if len(sent) > 0 {
			r.sendSpeakers([]protocol.SpeakerInfo{})
		}
	}()
	for {
		select {
		case <-stop:
			return
		case now := <-tick.C:
			speakers, current := r.measure(stop, now.Sub(last))
			if !current {
				return // stopped (and maybe replaced) meanwhile
			}
			last = now
			if !sameSpeakers(sent, speakers) {
				sent = speakers
				r.sendSpeakers(speakers)
			}
		}
	}
}

// measure closes the window of every metered track and returns the
// speakers, loudest first (never nil); current is false if the loop of
// stop is no longer the room's. It is a few float operations per audio
// track, done under r.mu, which guards the meters' smoothed levels.
func (r *Room) measure(stop chan struct{}, elapsed time.Duration) (speakers []protocol.SpeakerInfo, current bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.speakerStop != stop {
		return nil, false
	}
	speakers = []protocol.SpeakerInfo{}
	for _, t := range r.tracks {
		if t.meter == nil {
			continue
		}
		lvl := t.meter.tick(elapsed, t.muted)
		if lvl <= 0 || t.publisher.who.Grant.Hidden {
			continue
		}
		// One entry per identity: the loudest of its audio tracks.
		id := t.publisher.who.Identity
		i := slices.IndexFunc(speakers, func(s protocol.SpeakerInfo) bool { return s.Identity == id })
		if i < 0 {
			speakers = append(speakers, protocol.SpeakerInfo{Identity: id})
			i = len(speakers) - 1
		}
		speakers[i].Level = max(speakers[i].Level, math.Round(lvl*1000)/1000)
	}
	slices.SortFunc(speakers, func(a, b protocol.SpeakerInfo) int {
		if a.Level != b.Level {
			if a.Level > b.Level {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Identity, b.Identity)
	})
	return speakers, true
}

func sameSpeakers(a, b []protocol.SpeakerInfo) bool {
	return slices.EqualFunc(a, b, func(x, y protocol.SpeakerInfo) bool { return x.Identity == y.Identity })
}

// sendSpeakers tells everyone in the room; the Signaler only queues.
func (r *Room) sendSpeakers(speakers []protocol.SpeakerInfo) {
	for _, p := range r.list() {
		p.sig.ActiveSpeakers(speakers)
	}
}
