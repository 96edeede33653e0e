package chat

import (
	"context"
	"errors"
	"slices"
	"sort"
	"sync"
)

// MemoryStore is a Store kept in memory: for tests, and for a server run
// before the database recorder is wired. It applies each change when
// written and calls done synchronously, or from a goroutine when Async is
// set (like a batching database writer would). It is safe for concurrent
// use.
type MemoryStore struct {
	// Async makes Write apply and call done on a new goroutine, in write
	// order per store. Set it before first use.
	Async bool

	mu          sync.Mutex
	rooms       map[string]*memRoom
	attachments map[string]Attachment // by id
	queue       chan memWrite         // Async only
	failWith    error                 // tests: fail every write with this error
	changes     int
}

type memRoom struct {
	msgs     []*Message // by seq
	byID     map[string]*Message
	byClient map[string]*Message // sender + "\x00" + clientId
	reads    map[string]int64
	present  map[string]bool
	muted    map[string]bool
}

type memWrite struct {
	c    Change
	done func(error)
}

// NewMemoryStore returns an empty store.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{rooms: make(map[string]*memRoom), attachments: make(map[string]Attachment)}
}

// AddAttachment records an uploaded attachment (what the upload endpoint
// does with the real recorder).
func (s *MemoryStore) AddAttachment(a Attachment) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.attachments[a.ID] = a
}

// FailWrites makes every later write fail with err (nil: succeed again).
func (s *MemoryStore) FailWrites(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failWith = err
}

// Changes returns how many changes were applied.
func (s *MemoryStore) Changes() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.changes
}

// Present reports whether identity's chat is open in room, from the
// ChangeJoin/ChangeLeave it was written.
func (s *MemoryStore) Present(room, identity string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.rooms[room]
	return r != nil && r.present[identity]
}

// ReadHorizon returns identity's last written read seq in room.
func (s *MemoryStore) ReadHorizon(room, identity string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.rooms[room]; r != nil {
		return r.reads[identity]
	}
	return 0
}

func (s *MemoryStore) roomLocked(name string) *memRoom {
	r := s.rooms[name]
	if r == nil {
		r = &memRoom{byID: make(map[string]*Message), byClient: make(map[string]*Message), reads: make(map[string]int64), present: make(map[string]bool), muted: make(map[string]bool)}
		s.rooms[name] = r
	}
	return r
}

// Write implements Store.
func (s *MemoryStore) Write(c Change, done func(error)) {
	if c.Message != nil {
		m := c.Message.Clone() // the caller keeps its copy
		c.Message = &m
	}
	if !s.Async {
		err := s.apply(c)
		if done != nil {
			done(err)
		}
		return
	}
	s.mu.Lock()
	if s.queue == nil {
		s.queue = make(chan memWrite, 1024)
		go s.run(s.queue)
	}
	q := s.queue
	s.mu.Unlock()
	select {
	case q <- memWrite{c, done}:
	default:
		// Write never blocks (Store's contract): a full queue answers at
		// once, as the recorder does.
		if done != nil {
			done(ErrMemoryFull)
		}
	}
}

// ErrMemoryFull is what done reports when an Async MemoryStore's queue is
// full; it is temporary.
var ErrMemoryFull = errors.New("chat: memory store queue full")

func (s *MemoryStore) run(q chan memWrite) {
	for w := range q {
		err := s.apply(w.c)
		if w.done != nil {
			w.done(err)
		}
	}
}

func (s *MemoryStore) apply(c Change) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failWith != nil {
		return s.failWith
	}
	s.changes++
	r := s.roomLocked(c.Room)
	if c.Kind == ChangeMessage {
		if r.byID[c.Message.ID] != nil { // a rewrite after a failure
			*r.byID[c.Message.ID] = *c.Message
			return nil
		}
		m := c.Message
		m.Room = c.Room
		i := sort.Search(len(r.msgs), func(i int) bool { return r.msgs[i].Seq >= m.Seq })
		r.msgs = slices.Insert(r.msgs, i, m)
		r.byID[m.ID] = m
		if m.ClientID != "" {
			r.byClient[m.Sender+"\x00"+m.ClientID] = m
		}
		return nil
	}
	switch c.Kind {
	case ChangeRead:
		r.reads[c.Identity] = max(r.reads[c.Identity], c.Seq)
		return nil
	case ChangeJoin:
		r.present[c.Identity] = true
		return nil
	case ChangeLeave:
		delete(r.present, c.Identity)
		return nil
	case ChangeEnd:
		return nil
	case ChangeMute:
		if c.On {
			r.muted[c.Identity] = true
		} else {
			delete(r.muted, c.Identity)
		}
		return nil
	}
	m := r.byID[c.MessageID]
	if m == nil {
		return ErrNotFound
	}
	switch c.Kind {
	case ChangeEdit:
		m.Text = c.Text
		if c.E2EE != nil {
			m.E2EE = c.E2EE
		}
		at := c.At
		m.EditedAt = &at
	case ChangeDelete:
		m.Deleted, m.Text, m.Attachment, m.Reactions, m.Pinned = true, "", nil, nil, false
		m.E2EE = nil
	case ChangePin:
		m.Pinned = c.On
	case ChangeReaction:
		applyReaction(m, c.Emoji, c.Identity, c.On)
	}
	return nil
}

// reactionIndex is the position of emoji in rs, or -1. Reactions are kept
// in first-use order (a new emoji goes last), the order every screen, a
// reload and the CSV show, so the search is linear (rs holds at most
// Config.MaxReactions).
func reactionIndex(rs []Reaction, emoji string) int {
	return slices.IndexFunc(rs, func(r Reaction) bool { return r.Emoji == emoji })
}

func applyReaction(m *Message, emoji, who string, on bool) {
	i := reactionIndex(m.Reactions, emoji)
	has := i >= 0
	switch {
	case on && !has:
		m.Reactions = append(m.Reactions, Reaction{Emoji: emoji, Identities: []string{who}})
	case on && !slices.Contains(m.Reactions[i].Identities, who):
		m.Reactions[i].Identities = append(m.Reactions[i].Identities, who)
	case !on && has:
		ids := slices.DeleteFunc(m.Reactions[i].Identities, func(s string) bool { return s == who })
		if len(ids) == 0 {
			m.Reactions = slices.Delete(m.Reactions, i, i+1)
		} else {
			m.Reactions[i].Identities = ids
		}
	}
}

// LastSeq implements Store.
func (s *MemoryStore) LastSeq(_ context.Context, room string) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.rooms[room]
	if r == nil || len(r.msgs) == 0 {
		return 0, nil
	}
	return r.msgs[len(r.msgs)-1].Seq, nil
}

// History implements Store.
func (s *MemoryStore) History(_ context.Context, room, viewer string, before int64, limit int) ([]Message, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.rooms[room]
	if r == nil || limit <= 0 {
		return nil, nil
	}
	i := len(r.msgs)
	if before > 0 {
		i = sort.Search(len(r.msgs), func(j int) bool { return r.msgs[j].Seq >= before })
	}
	var out []Message
	for i--; i >= 0 && len(out) < limit; i-- {
		if viewer == "" || r.msgs[i].VisibleTo(viewer) {
			out = append(out, r.msgs[i].Clone())
		}
	}
	slices.Reverse(out)
	return out, nil
}

// Pinned implements Store.
func (s *MemoryStore) Pinned(_ context.Context, room, viewer string) ([]Message, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Message
	if r := s.rooms[room]; r != nil {
		for _, m := range r.msgs {
			if m.Pinned && (viewer == "" || m.VisibleTo(viewer)) {
				out = append(out, m.Clone())
			}
		}
	}
	return out, nil
}

// Message implements Store.
func (s *MemoryStore) Message(_ context.Context, room, id string) (*Message, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.rooms[room]; r != nil {
		if m := r.byID[id]; m != nil {
			c := m.Clone()
			return &c, nil
		}
	}
	return nil, ErrNotFound
}

// ByClientID implements Store.
func (s *MemoryStore) ByClientID(_ context.Context, room, sender, clientID string) (*Message, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.rooms[room]; r != nil {
		if m := r.byClient[sender+"\x00"+clientID]; m != nil {
			c := m.Clone()
			return &c, nil
		}
	}
	return nil, ErrNotFound
}

// Attachment implements Store.
func (s *MemoryStore) Attachment(_ context.Context, room, id string) (*Attachment, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.attachments[id]
	if !ok || a.Room != room {
		return nil, ErrNotFound
	}
	return &a, nil
}

// Muted implements Store.
func (s *MemoryStore) Muted(_ context.Context, room string) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ids []string
	if r := s.rooms[room]; r != nil {
		for id := range r.muted {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids, nil
}

var _ Store = (*MemoryStore)(nil)
