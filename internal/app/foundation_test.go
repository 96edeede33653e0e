package app_test

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/backchannel-rtc/backchannel/client"
	"github.com/backchannel-rtc/backchannel/protocol"
)

// rtpCounter counts RTP packets per kind received by one client.
type rtpCounter struct{ audio, video atomic.Int64 }

func (r *rtpCounter) onTrack(t *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
	go func() {
		for {
			if _, _, err := t.ReadRTP(); err != nil {
				return
			}
			if t.Kind() == webrtc.RTPCodecTypeVideo {
				r.video.Add(1)
			} else {
				r.audio.Add(1)
			}
		}
	}()
}

// inbox collects chat payloads a client receives.
type inbox struct {
	mu   sync.Mutex
	msgs []string
}

func (in *inbox) add(b []byte) { in.mu.Lock(); in.msgs = append(in.msgs, string(b)); in.mu.Unlock() }
func (in *inbox) len() int     { in.mu.Lock(); defer in.mu.Unlock(); return len(in.msgs) }
func (in *inbox) all() []string {
	in.mu.Lock()
	defer in.mu.Unlock()
	return append([]string(nil), in.msgs...)
}

// events collects signaling events.
type events struct {
	mu sync.Mutex
	m  []protocol.Signal
}

func (e *events) add(m protocol.Signal) { e.mu.Lock(); e.m = append(e.m, m); e.mu.Unlock() }
func (e *events) has(typ, identity string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, m := range e.m {
		if m.Type == typ && (m.Identity == identity || (m.Participant != nil && m.Participant.Identity == identity)) {
			return true
		}
	}
	return false
}

func TestThreeClientsMediaChatAndCleanup(t *testing.T) {
	a := startServer(t, newRelay(), nil)
	base := runtime.NumGoroutine()

	var inA, inC inbox
	var evA, evB events
	var rtpB, rtpC rtpCounter
	ca := join(t, a, "room1", "alice", client.Options{OnChat: inA.add, OnEvent: evA.add})
	cb := join(t, a, "room1", "bob", client.Options{OnTrack: rtpB.onTrack, OnEvent: evB.add})
	cc := join(t, a, "room1", "carol", client.Options{OnChat: inC.add, OnTrack: rtpC.onTrack})

	if len(cc.Joined.Participants) != 2 {
		t.Fatalf("carol was told of %d others, want 2", len(cc.Joined.Participants))
	}
	eventually(t, 5*time.Second, "alice told of bob and carol", func() bool {
		return evA.has(protocol.SignalParticipantJoined, "bob") && evA.has(protocol.SignalParticipantJoined, "carol")
	})

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := ca.SyntheticMedia(ctx); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "bob and carol receive alice's audio and video", func() bool {
		return rtpB.audio.Load() > 0 && rtpB.video.Load() > 0 && rtpC.audio.Load() > 0 && rtpC.video.Load() > 0
	})
	// And keep receiving.
	b0, c0 := rtpB.video.Load(), rtpC.audio.Load()
	eventually(t, 3*time.Second, "media keeps flowing", func() bool {
		return rtpB.video.Load() > b0+10 && rtpC.audio.Load() > c0+10
	})

	const n = 1000
	for i := range n {
		if err := cb.SendChat(fmt.Appendf(nil, "bob-%04d", i)); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, 10*time.Second, "1,000 messages at alice and carol", func() bool {
		return inA.len() >= n && inC.len() >= n
	})
	time.Sleep(200 * time.Millisecond) // room for duplicates to show up
	for name, in := range map[string]*inbox{"alice": &inA, "carol": &inC} {
		got := in.all()
		if len(got) != n {
			t.Fatalf("%s received %d messages, want exactly %d", name, len(got), n)
		}
		for i, m := range got {
			if want := fmt.Sprintf("bob-%04d", i); m != want {
				t.Fatalf("%s message %d = %q, want %q (order or duplicate)", name, i, m, want)
			}
		}
	}

	cc.Close()
	eventually(t, 5*time.Second, "alice and bob told carol left", func() bool {
		return evA.has(protocol.SignalParticipantLeft, "carol") && evB.has(protocol.SignalParticipantLeft, "carol")
	})

	cancel()
	ca.Close()
	cb.Close()
	eventually(t, 5*time.Second, "room empty", func() bool {
		rooms, ps := a.SFU.Counts()
		return rooms == 0 && ps == 0
	})
	eventually(t, 15*time.Second, fmt.Sprintf("goroutines back to %d", base), func() bool {
		return runtime.NumGoroutine() <= base
	})
}
