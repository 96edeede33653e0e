package app_test

import (
	"sync"

	"github.com/backchannel-rtc/backchannel/chat"
)

// relay is the smallest chat.Service: it copies each message to everyone
// else in the room. It tests the transport alone, apart from the protocol.
type relay struct {
	mu       sync.Mutex
	rooms    map[string]map[string]chat.Conn
	overflow map[string]int // identity -> messages dropped for it
}

func newRelay() *relay {
	return &relay{rooms: map[string]map[string]chat.Conn{}, overflow: map[string]int{}}
}

func (r *relay) Attach(room string, c chat.Conn) chat.Session {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.rooms[room] == nil {
		r.rooms[room] = map[string]chat.Conn{}
	}
	r.rooms[room][c.ID()] = c
	return &relaySession{r: r, room: room, c: c}
}

func (r *relay) dropped(identity string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.overflow[identity]
}

type relaySession struct {
	r    *relay
	room string
	c    chat.Conn
}

func (s *relaySession) Receive(b []byte) {
	s.r.mu.Lock()
	var to []chat.Conn
	for id, c := range s.r.rooms[s.room] {
		if id != s.c.ID() {
			to = append(to, c)
		}
	}
	s.r.mu.Unlock()
	for _, c := range to {
		c.Send(b)
	}
}

func (s *relaySession) Overflowed(n int) {
	s.r.mu.Lock()
	s.r.overflow[s.c.Who().Identity] += n
	s.r.mu.Unlock()
}

func (s *relaySession) Detach() {
	s.r.mu.Lock()
	delete(s.r.rooms[s.room], s.c.ID())
	s.r.mu.Unlock()
}
