package app_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/backchannel-rtc/backchannel/auth"
	"github.com/backchannel-rtc/backchannel/chat/chattest"
	"github.com/backchannel-rtc/backchannel/client"
	"github.com/backchannel-rtc/backchannel/internal/app"
)

// wireParticipant is a Go client whose chat packets the scenarios read.
type wireParticipant struct {
	c  *client.Client
	id string

	mu     sync.Mutex
	queue  [][]byte
	signal chan struct{}
}

func (w *wireParticipant) Identity() string { return w.id }
func (w *wireParticipant) Send(b []byte) error {
	return w.c.SendChat(b)
}

func (w *wireParticipant) push(b []byte) {
	w.mu.Lock()
	w.queue = append(w.queue, b)
	w.mu.Unlock()
	select {
	case w.signal <- struct{}{}:
	default:
	}
}

func (w *wireParticipant) Next(ctx context.Context) ([]byte, error) {
	for {
		w.mu.Lock()
		if len(w.queue) > 0 {
			b := w.queue[0]
			w.queue = w.queue[1:]
			w.mu.Unlock()
			return b, nil
		}
		w.mu.Unlock()
		select {
		case <-w.signal:
		case <-w.c.ChatClosed():
			// Deliver what arrived before the end, then report it.
			w.mu.Lock()
			n := len(w.queue)
			w.mu.Unlock()
			if n == 0 {
				return nil, errors.New("connection closed: " + w.c.Reason())
			}
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// wireEnv runs the chat scenarios against a real server: real signaling,
// real Pion peers, real data channels.
type wireEnv struct{ a *app.App }

func (e *wireEnv) Join(t testing.TB, room, identity string, g chattest.Grants) chattest.Participant {
	t.Helper()
	grant := auth.VideoGrant{Room: room, RoomJoin: true, RoomAdmin: g.Admin}
	if g.NoChat {
		grant.CanPublishData = auth.Bool(false)
	}
	tok, err := e.a.Keys.Mint(auth.TokenOptions{Identity: identity, Name: g.Name, Grant: grant, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	w := &wireParticipant{id: identity, signal: make(chan struct{}, 1)}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	c, err := client.Join(ctx, e.a.URL(), tok, client.Options{LoopbackOnly: true, OnChat: w.push})
	if err != nil {
		t.Fatalf("join %s: %v", identity, err)
	}
	w.c = c
	t.Cleanup(func() { _ = c.Close() })
	return w
}

func (e *wireEnv) Leave(t testing.TB, p chattest.Participant) {
	_ = p.(*wireParticipant).c.Close()
}

// TestChatProtocolOverDataChannels runs every chat scenario (every packet
// kind, every error code, the ack/retry rule, private routing) over real
// WebRTC data channels.
func TestChatProtocolOverDataChannels(t *testing.T) {
	a := startServer(t, nil, nil)
	chattest.RunAll(t, &wireEnv{a: a})
}
