package client

import (
	"context"
	"crypto/rand"
	"time"

	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"

	"github.com/backchannel-rtc/backchannel/protocol"
)

// Publish adds a local track to the publisher connection and renegotiates.
// It reads the sender's RTCP so that NACKs are answered and keyframe
// requests reach onKeyframe (may be nil).
func (c *Client) Publish(ctx context.Context, t webrtc.TrackLocal, onKeyframe func()) error {
	sender, err := c.pub.AddTrack(t)
	if err != nil {
		return err
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return ErrClosed
	}
	c.wg.Add(1)
	c.mu.Unlock()
	go func() {
		defer c.wg.Done()
		for {
			pkts, _, err := sender.ReadRTCP()
			if err != nil {
				return
			}
			if onKeyframe != nil {
				for _, p := range pkts {
					if isKeyframeRequest(p) {
						onKeyframe()
					}
				}
			}
		}
	}()
	return c.negotiatePublisher(ctx)
}

// SyntheticMedia publishes a VP8 video track and an Opus audio track fed
// with generated frames (30 fps, 20 ms audio) until ctx ends. The SFU
// forwards RTP without decoding, so the payload bytes are arbitrary; video
// frames begin with a VP8 keyframe header whenever a keyframe is asked for.
func (c *Client) SyntheticMedia(ctx context.Context) error {
	video, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8}, "video", c.Identity())
	if err != nil {
		return err
	}
	audio, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus}, "audio", c.Identity())
	if err != nil {
		return err
	}
	keyframe := make(chan struct{}, 1)
	if err := c.Publish(ctx, video, func() {
		select {
		case keyframe <- struct{}{}:
		default:
		}
	}); err != nil {
		return err
	}
	if err := c.Publish(ctx, audio, nil); err != nil {
		return err
	}
	c.mu.Lock()
	c.wg.Add(2)
	c.mu.Unlock()
	go c.feed(ctx, video, 33*time.Millisecond, 1200, func(frame []byte) {
		frame[0] = 0x10 // VP8 frame tag: inter frame
		select {
		case <-keyframe:
			frame[0] = 0x00 // key frame bit clear = keyframe
		default:
		}
	})
	go c.feed(ctx, audio, 20*time.Millisecond, 80, nil)
	return nil
}

// feed writes a sample of size random bytes every period (shaped by shape,
// if not nil) until ctx or the client ends.
func (c *Client) feed(ctx context.Context, t *webrtc.TrackLocalStaticSample, period time.Duration, size int, shape func([]byte)) {
	defer c.wg.Done()
	tick := time.NewTicker(period)
	defer tick.Stop()
	buf := make([]byte, size)
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.done:
			return
		case <-tick.C:
		}
		_, _ = rand.Read(buf)
		if shape != nil {
			shape(buf)
		}
		if err := t.WriteSample(media.Sample{Data: buf, Duration: period}); err != nil {
			return
		}
	}
}

// MuteTrack tells the others that one of this client's published tracks is
// muted (or unmuted); they get a trackMuted event and see it in the track's
// info. trackID is the server's id of the track or the local track's own
// ID (TrackLocal.ID()). The server answers a mistake (a track that is not
// published yet, another participant's track) with an `error` event
// (codes unknown_track, not_your_track). Muting does not stop the media:
// the caller stops sending, or sends silence.
func (c *Client) MuteTrack(trackID string, muted bool) error {
	return c.write(protocol.Signal{Type: protocol.SignalMuteTrack, TrackID: trackID, Muted: &muted})
}

// PublisherExtensionID is the id negotiated on the publisher connection for
// the RTP header extension uri (e.g. sdp.AudioLevelURI), for a caller that
// writes RTP itself (TrackLocalStaticRTP) and sets the extension; ok is
// false when no published track negotiated it.
func (c *Client) PublisherExtensionID(uri string) (id uint8, ok bool) {
	for _, tr := range c.pub.GetTransceivers() {
		s := tr.Sender()
		if s == nil {
			continue
		}
		for _, h := range s.GetParameters().HeaderExtensions {
			if h.URI == uri && h.ID > 0 && h.ID < 256 {
				return uint8(h.ID), true
			}
		}
	}
	return 0, false
}
