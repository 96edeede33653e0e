package sfu

import (
	"errors"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"

	"github.com/backchannel-rtc/backchannel/protocol"
)

// publishedTrack is one incoming track and the local track every
// subscriber's connection shares. TrackLocalStaticRTP writes each packet to
// all its bindings, so a packet is read once and sent to many.
type publishedTrack struct {
	info      protocol.TrackInfo // immutable; Muted is in muted
	clientID  string             // the track's id in the publisher's SDP
	publisher *Participant
	remote    *webrtc.TrackRemote
	local     *webrtc.TrackLocalStaticRTP
	meter     *levelMeter // audio with the level extension negotiated; else nil

	muted bool // guarded by the room's mu

	mu      sync.Mutex
	lastPLI time.Time
}

func (p *Participant) onTrack(remote *webrtc.TrackRemote, recv *webrtc.RTPReceiver) {
	if !p.who.Grant.Publish() {
		return
	}
	kind := remote.Kind().String()
	id := newID(strings.ToUpper(kind[:1]) + "T_")
	local, err := webrtc.NewTrackLocalStaticRTP(remote.Codec().RTPCodecCapability, id, p.who.Identity)
	if err != nil {
		p.s.log.Warn("local track", "err", err)
		return
	}
	t := &publishedTrack{
		info: protocol.TrackInfo{
			ID: id, Kind: kind, Publisher: p.who.Identity, StreamID: p.who.Identity,
			MimeType: remote.Codec().MimeType,
		},
		clientID: remote.ID(), publisher: p, remote: remote, local: local,
	}
	if remote.Kind() == webrtc.RTPCodecTypeAudio {
		t.meter = newLevelMeter(recv)
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.published = append(p.published, t)
	p.wg.Add(1)
	p.mu.Unlock()

	p.room.publish(t)
	go func() {
		defer p.wg.Done()
		t.forward()
		p.mu.Lock()
		for i, x := range p.published {
			if x == t {
				p.published = append(p.published[:i], p.published[i+1:]...)
				break
			}
		}
		p.mu.Unlock()
		p.room.unpublish(t)
	}()
}

// forward copies RTP from the publisher to every subscriber until the
// publisher's track ends.
func (t *publishedTrack) forward() {
	for {
		pkt, _, err := t.remote.ReadRTP()
		if err != nil {
			return
		}
		if t.meter != nil {
			t.meter.observe(&pkt.Header)
		}
		if err := t.local.WriteRTP(pkt); err != nil && !errors.Is(err, io.ErrClosedPipe) {
			return
		}
	}
}

// infoLocked is the track as others see it now; the caller holds the
// room's mu.
func (t *publishedTrack) infoLocked() protocol.TrackInfo {
	info := t.info
	info.Muted = t.muted
	return info
}

// requestKeyframe asks the publisher for a keyframe, at most every 100 ms:
// several subscribers joining at once need only one.
func (t *publishedTrack) requestKeyframe() {
	if t.info.Kind != "video" {
		return
	}
	t.mu.Lock()
	if time.Since(t.lastPLI) < 100*time.Millisecond {
		t.mu.Unlock()
		return
	}
	t.lastPLI = time.Now()
	t.mu.Unlock()
	_ = t.publisher.pub.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: uint32(t.remote.SSRC())}})
}
