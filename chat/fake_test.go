package chat

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/backchannel-rtc/backchannel/auth"
	"github.com/backchannel-rtc/backchannel/chat/chattest"
)

var connSeq atomic.Int64

// fakeConn is a Conn that records what it is sent, and a
// chattest.Participant whose Send calls Session.Receive directly.
type fakeConn struct {
	id  string
	who auth.Identity

	mu      sync.Mutex
	q       [][]byte
	all     int
	limit   int // queue bound for overflow tests; 0: unbounded
	dropped int
	closed  string
	notify  chan struct{}
	sess    Session
}

func newFakeConn(identity string, g auth.VideoGrant) *fakeConn {
	return &fakeConn{
		id:     fmt.Sprintf("conn-%d", connSeq.Add(1)),
		who:    auth.Identity{Identity: identity, Grant: g},
		notify: make(chan struct{}, 1),
	}
}

func (c *fakeConn) ID() string         { return c.id }
func (c *fakeConn) Who() auth.Identity { return c.who }
func (c *fakeConn) Identity() string   { return c.who.Identity }

func (c *fakeConn) Send(b []byte) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.limit > 0 && len(c.q) >= c.limit {
		c.dropped++
		return false
	}
	c.q = append(c.q, b)
	c.all++
	select {
	case c.notify <- struct{}{}:
	default:
	}
	return true
}

// Close simulates the transport: the connection ends, then Detach.
func (c *fakeConn) Close(reason string) {
	c.mu.Lock()
	already := c.closed != ""
	c.closed = reason
	s := c.sess
	c.mu.Unlock()
	if !already && s != nil {
		s.Detach()
	}
}

func (c *fakeConn) closedReason() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

// Participant side.

func (c *fakeConn) SendBytes(b []byte) { c.sess.Receive(b) }

type participant struct{ *fakeConn }

func (p participant) Send(b []byte) error {
	p.sess.Receive(b)
	return nil
}

func (c *fakeConn) Next(ctx context.Context) ([]byte, error) {
	for {
		c.mu.Lock()
		if len(c.q) > 0 {
			b := c.q[0]
			c.q[0] = nil
			c.q = c.q[1:]
			c.mu.Unlock()
			return b, nil
		}
		c.mu.Unlock()
		select {
		case <-c.notify:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// take returns and clears everything queued.
func (c *fakeConn) take() [][]byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	q := c.q
	c.q = nil
	return q
}

// fakeEnv runs chattest scenarios against a Server with fake conns.
type fakeEnv struct {
	srv   *Server
	store *MemoryStore
}

func newFakeEnv(t testing.TB, cfg Config, store *MemoryStore) *fakeEnv {
	if store == nil {
		store = NewMemoryStore()
	}
	srv := NewServer(store, cfg, quietLogger())
	t.Cleanup(func() { _ = srv.Close(context.Background()) })
	return &fakeEnv{srv: srv, store: store}
}

func quietLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func grantFor(g chattest.Grants) auth.VideoGrant {
	v := auth.VideoGrant{RoomJoin: true, RoomAdmin: g.Admin}
	if g.NoChat {
		v.CanPublishData = auth.Bool(false)
	}
	return v
}

func (e *fakeEnv) join(room, identity string, g chattest.Grants) *fakeConn {
	c := newFakeConn(identity, grantFor(g))
	c.who.Name = g.Name
	s := e.srv.Attach(room, c)
	c.mu.Lock()
	c.sess = s
	c.mu.Unlock()
	return c
}

func (e *fakeEnv) Join(t testing.TB, room, identity string, g chattest.Grants) chattest.Participant {
	return participant{e.join(room, identity, g)}
}

func (e *fakeEnv) Leave(t testing.TB, p chattest.Participant) {
	p.(participant).sess.Detach()
}

var errBoom = errors.New("disk on fire")

var (
	grantsAdmin = chattest.Grants{Admin: true}
	grantsPlain = chattest.Grants{}
)
