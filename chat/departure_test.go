package chat

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/backchannel-rtc/backchannel/chat/chattest"
)

// lostConn is a connection the transport reports as lost (not left).
type lostConn struct{ *fakeConn }

func (lostConn) Lost() bool { return true }

// kindStore records the kinds of the changes chat writes, in order.
type kindStore struct {
	*MemoryStore
	mu    sync.Mutex
	kinds []ChangeKind
}

func (s *kindStore) Write(c Change, done func(error)) {
	s.mu.Lock()
	s.kinds = append(s.kinds, c.Kind)
	s.mu.Unlock()
	s.MemoryStore.Write(c, done)
}

func (s *kindStore) count(k ChangeKind) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, x := range s.kinds {
		if x == k {
			n++
		}
	}
	return n
}

func departureEnv(t *testing.T, grace, timeout time.Duration) (*Server, *kindStore) {
	st := &kindStore{MemoryStore: NewMemoryStore()}
	cfg := DefaultConfig()
	cfg.LeaveGrace, cfg.DepartureTimeout = grace, timeout
	srv := NewServer(st, cfg, quietLogger())
	t.Cleanup(func() { _ = srv.Close(context.Background()) })
	return srv, st
}

// attachAs attaches identity to room "r"; lost makes its departure a lost
// connection.
func attachAs(srv *Server, identity string, lost bool) *fakeConn {
	c := newFakeConn(identity, grantFor(chattest.Grants{}))
	var conn Conn = c
	if lost {
		conn = lostConn{c}
	}
	s := srv.Attach("r", conn)
	c.mu.Lock()
	c.sess = s
	c.mu.Unlock()
	return c
}

func presenceTypes(t *testing.T, c *fakeConn) []string {
	var out []string
	for _, p := range packets(t, c) {
		if p.Type() == "joined" || p.Type() == "left" {
			out = append(out, p.Type()+":"+p.Str("identity")+p.Obj("participant").Str("identity"))
		}
	}
	return out
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A lost connection whose identity attaches again within the grace is
// invisible: no left, no joined, no ChangeLeave/ChangeJoin.
func TestLostReconnectInvisible(t *testing.T) {
	srv, st := departureEnv(t, time.Minute, time.Minute)
	bob := attachAs(srv, "bob", false)
	a1 := attachAs(srv, "alice", true)
	packets(t, bob)
	a1.sess.Detach()
	attachAs(srv, "alice", true)
	if got := presenceTypes(t, bob); len(got) != 0 {
		t.Fatalf("bob saw %v", got)
	}
	if j, l := st.count(ChangeJoin), st.count(ChangeLeave); j != 2 || l != 0 {
		t.Fatalf("%d joins, %d leaves recorded; want 2, 0", j, l)
	}
}

// A lost connection that does not come back leaves after the grace.
func TestLostLeavesAfterGrace(t *testing.T) {
	srv, st := departureEnv(t, 100*time.Millisecond, time.Minute)
	bob := attachAs(srv, "bob", false)
	a := attachAs(srv, "alice", true)
	packets(t, bob)
	start := time.Now()
	a.sess.Detach()
	if got := presenceTypes(t, bob); len(got) != 0 {
		t.Fatalf("left announced within the grace: %v", got)
	}
	var got []string
	waitFor(t, "left after the grace", func() bool {
		got = append(got, presenceTypes(t, bob)...)
		return len(got) > 0
	})
	if !slices.Equal(got, []string{"left:alice"}) || time.Since(start) < 100*time.Millisecond {
		t.Fatalf("got %v after %v", got, time.Since(start))
	}
	if st.count(ChangeLeave) != 1 {
		t.Fatalf("no leave recorded")
	}
}

// An explicit leave is announced at once, even with a grace configured.
func TestExplicitLeaveAtOnce(t *testing.T) {
	srv, st := departureEnv(t, time.Minute, time.Minute)
	bob := attachAs(srv, "bob", false)
	a := attachAs(srv, "alice", false)
	packets(t, bob)
	a.sess.Detach()
	if got := presenceTypes(t, bob); !slices.Equal(got, []string{"left:alice"}) {
		t.Fatalf("bob saw %v", got)
	}
	if st.count(ChangeLeave) != 1 {
		t.Fatalf("no leave recorded")
	}
}

// ChangeEnd is written once the room stayed empty for the departure
// timeout; a join within it cancels it.
func TestDepartureTimeout(t *testing.T) {
	srv, st := departureEnv(t, -1, 150*time.Millisecond)
	a := attachAs(srv, "alice", false)
	a.sess.Detach()
	time.Sleep(50 * time.Millisecond)
	attachAs(srv, "alice", false).sess.Detach() // back within the timeout
	time.Sleep(120 * time.Millisecond)          // past the first timeout, not the second
	if n := st.count(ChangeEnd); n != 0 {
		t.Fatalf("%d ends while the room was rejoined", n)
	}
	waitFor(t, "the end", func() bool { return st.count(ChangeEnd) == 1 })
	waitFor(t, "the room unloaded", func() bool { return srv.Stats().Rooms == 0 })
}

// Close settles pending departures: the identity in its grace leaves and the
// room ends, so that no session stays open.
func TestCloseSettlesDepartures(t *testing.T) {
	srv, st := departureEnv(t, time.Minute, time.Minute)
	attachAs(srv, "alice", true).sess.Detach()
	if err := srv.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if l, e := st.count(ChangeLeave), st.count(ChangeEnd); l != 1 || e != 1 {
		t.Fatalf("%d leaves, %d ends at close; want 1, 1", l, e)
	}
}
