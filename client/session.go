package client

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"time"

	"github.com/backchannel-rtc/backchannel/protocol"
)

// Session is a Client that reconnects by itself. Chat packets sent with a
// clientId are remembered until the server acknowledges them and sent again,
// with the same clientId, after a reconnect: the server answers a retry of a
// message it already stored with the original ack and creates nothing new,
// so a message is never lost nor doubled by a server restart or a network
// drop.
type Session struct {
	url, token string
	opts       Options

	mu          sync.Mutex
	onReconnect func(*Client)
	cur         *Client
	pending     []pendingPacket // in send order
	closed      bool
	done        chan struct{}
	wg          sync.WaitGroup
}

type pendingPacket struct {
	clientID string
	b        []byte
}

// Dial joins like Join and keeps the session up until Close.
func Dial(ctx context.Context, url, token string, opts Options) (*Session, error) {
	s := &Session{url: url, token: token, opts: opts, done: make(chan struct{})}
	user := opts.OnChat
	s.opts.OnChat = func(b []byte) {
		s.sawPacket(b)
		if user != nil {
			user(b)
		}
	}
	c, err := Join(ctx, url, token, s.opts)
	if err != nil {
		return nil, err
	}
	s.cur = c
	s.wg.Add(1)
	go s.watch()
	return s, nil
}

// sawPacket clears a pending packet once it is acknowledged, or refused for
// good (an error other than a retryable one).
func (s *Session) sawPacket(b []byte) {
	var h protocol.Head
	if json.Unmarshal(b, &h) != nil || h.ClientID == "" {
		return
	}
	switch h.Type {
	case protocol.EventAck:
	case protocol.EventError:
		if h.Code.Retryable() {
			return // kept: sent again on the next reconnect
		}
	default:
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, p := range s.pending {
		if p.clientID == h.ClientID {
			s.pending = append(s.pending[:i], s.pending[i+1:]...)
			return
		}
	}
}

// SendChat sends a packet; a `chat` packet with a clientId is kept until
// acknowledged. While reconnecting it is queued and sent once connected.
func (s *Session) SendChat(b []byte) error {
	var h protocol.Head
	_ = json.Unmarshal(b, &h)
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	if h.Type == protocol.PacketChat && h.ClientID != "" {
		s.pending = append(s.pending, pendingPacket{h.ClientID, b})
	}
	c := s.cur
	s.mu.Unlock()
	if c == nil {
		return nil // reconnecting: sent when the connection is back
	}
	if err := c.SendChat(b); err != nil && !errors.Is(err, ErrClosed) {
		return err
	}
	return nil
}

// OnReconnect sets f to run after each successful reconnect, before the
// unacknowledged packets are resent (e.g. to page history).
func (s *Session) OnReconnect(f func(*Client)) {
	s.mu.Lock()
	s.onReconnect = f
	s.mu.Unlock()
}

// Unacked is how many chat packets wait for their ack.
func (s *Session) Unacked() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.pending)
}

// Client is the current connection (nil while reconnecting).
func (s *Session) Client() *Client {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cur
}

// watch reconnects whenever the connection ends, until Close.
func (s *Session) watch() {
	defer s.wg.Done()
	for {
		s.mu.Lock()
		c := s.cur
		s.mu.Unlock()
		select {
		case <-c.Done():
		case <-s.done:
			return
		}
		_ = c.Close()
		s.mu.Lock()
		s.cur = nil
		s.mu.Unlock()
		if !s.reconnect() {
			return
		}
	}
}

func (s *Session) reconnect() bool {
	backoff := 100 * time.Millisecond
	for {
		select {
		case <-s.done:
			return false
		case <-time.After(backoff):
		}
		// Generous: a cluster node taking over the room of a node that
		// died holds the join until the dead node's lease runs out (the
		// lease TTL, 10 s by default), rather than make us poll.
		ctx, cancel := context.WithTimeout(context.Background(), reconnectTimeout)
		c, err := Join(ctx, s.url, s.token, s.opts)
		cancel()
		if err != nil {
			var refused *RefusedError
			if errors.As(err, &refused) && refused.Status/100 == 4 {
				return false // the token is no longer good: give up
			}
			backoff = min(backoff*2, 5*time.Second)
			continue
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			_ = c.Close()
			return false
		}
		s.cur = c
		resend := append([]pendingPacket(nil), s.pending...)
		hook := s.onReconnect
		s.mu.Unlock()
		if hook != nil {
			hook(c)
		}
		for _, p := range resend {
			if c.SendChat(p.b) != nil {
				break // dropped again: the watcher reconnects
			}
		}
		return true
	}
}

// reconnectTimeout bounds one reconnect attempt.
const reconnectTimeout = 30 * time.Second

// Close ends the session for good.
func (s *Session) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	c := s.cur
	s.mu.Unlock()
	close(s.done)
	if c != nil {
		_ = c.Close()
	}
	s.wg.Wait()
	return nil
}
