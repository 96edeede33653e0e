package chat

import (
	"context"
	"errors"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/backchannel-rtc/backchannel/internal/logsummary"
)

// Server implements Service: one per process, holding the rooms that have
// attached participants. Create it with NewServer and stop it with Close.
type Server struct {
	store Store
	cfg   Config
	log   *slog.Logger
	ctx   context.Context // cancelled by Close: aborts store reads
	stop  context.CancelFunc

	// writes counts store writes whose done has not run; Close waits on it.
	writes  sync.WaitGroup
	stats   counters
	packets packetCounts

	// Repeating conditions, logged as summaries (logs.go); the flags skip
	// the summaries' mutex on the normal path.
	writeFails, evictions  logsummary.Summary
	writeFailing, evicting atomic.Bool

	mu     sync.Mutex
	closed bool
	rooms  map[string]*room
	// mutes outlive a room's in-memory state: a muted participant who was
	// the last to leave is still muted when the room comes back.
	mutes map[string]map[string]bool
}

var _ Service = (*Server)(nil)

// NewServer returns a chat service writing to store. cfg is normally
// DefaultConfig() with changes; logger may be nil (slog.Default()).
func NewServer(store Store, cfg Config, logger *slog.Logger) *Server {
	if logger == nil {
		logger = slog.Default()
	}
	ctx, stop := context.WithCancel(context.Background())
	return &Server{
		store: store,
		cfg:   cfg.normalized(),
		log:   logger.With("component", "chat"),
		ctx:   ctx,
		stop:  stop,
		rooms: make(map[string]*room),
		mutes: make(map[string]map[string]bool),
	}
}

// Config returns the configuration in force (defaults filled in).
func (srv *Server) Config() Config { return srv.cfg }

// Close stops the service: new attaches are refused, every packet gets
// `unavailable`, pending typing indicators are dropped, and Close waits until
// every queued store write has reported done, or ctx ends. It does not close
// the connections: the SFU owns them, and should detach them before Close so
// that their leave is recorded. Close is idempotent.
func (srv *Server) Close(ctx context.Context) error {
	srv.mu.Lock()
	srv.closed = true
	rooms := make([]*room, 0, len(srv.rooms))
	for _, r := range srv.rooms {
		rooms = append(rooms, r)
	}
	srv.mu.Unlock()
	for _, r := range rooms {
		<-r.ready
		r.mu.Lock()
		// Pending departures end now, so that no session stays open.
		r.settleLocked()
		// After this no write is queued in r (writeLocked checks closed),
		// so writes.Wait below cannot race with writes.Add.
		r.closed = true
		for _, s := range r.sessions {
			s.stopTypingLocked(false)
		}
		r.mu.Unlock()
	}
	done := make(chan struct{})
	go func() { srv.writes.Wait(); close(done) }()
	defer srv.stop()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Attach implements Service. It reads the store the first time a room is
// attached (last seq, recent window, pins); later attaches to the same room
// touch only memory.
func (srv *Server) Attach(name string, c Conn) Session {
	who := c.Who()
	if !validIdentity(who.Identity) || !validIdentity(name) {
		// Both are stored with every change: one the database cannot hold
		// would be shown live and then refused for good.
		srv.refuse(c, "identity and room must be 1 to 255 printable bytes")
		return deadSession{}
	}
	srv.mu.Lock()
	if srv.closed {
		srv.mu.Unlock()
		srv.refuse(c, "chat is shutting down")
		return deadSession{}
	}
	r, creator := srv.rooms[name], false
	if r == nil {
		r = newRoom(srv, name, srv.mutes[name])
		delete(srv.mutes, name)
		srv.rooms[name] = r
		creator = true
	}
	r.attaching++
	srv.mu.Unlock()

	if creator {
		r.loadErr = r.load()
		if r.loadErr != nil {
			srv.log.Error("chat: cannot load room", "room", name, "err", r.loadErr)
			srv.mu.Lock()
			if srv.rooms[name] == r {
				delete(srv.rooms, name) // the next attach tries again
				srv.mutes[name] = r.muted
			}
			srv.mu.Unlock()
		}
		close(r.ready)
	} else {
		<-r.ready
	}
	var s *session
	if r.loadErr == nil {
		s = newSession(r, c, who)
		if !r.attach(s) {
			s = nil
		}
	}
	srv.mu.Lock()
	r.attaching--
	srv.mu.Unlock()
	if s == nil {
		srv.refuse(c, "chat is unavailable")
		return deadSession{}
	}
	return s
}

func (srv *Server) refuse(c Conn, reason string) {
	c.Send(errorPacket(errUnavailable))
	c.Close(reason)
}

// maybeDrop forgets a room once nobody is attached and every write about it
// has reported done: a room dropped with a write in flight could be loaded
// again with a stale last seq and assign it twice.
func (srv *Server) maybeDrop(r *room) {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if srv.rooms[r.name] != r || r.attaching > 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.sessions) > 0 || r.pending.Load() > 0 || r.lingeringLocked() {
		return
	}
	delete(srv.rooms, r.name)
	if len(r.muted) > 0 {
		srv.mutes[r.name] = r.muted
	}
	srv.log.Debug("chat: room unloaded", "room", r.name)
}

// storeCtx bounds one store read.
func (srv *Server) storeCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(srv.ctx, srv.cfg.StoreTimeout)
}

// Stats are cumulative counters, for metrics wired elsewhere.
type Stats struct {
	Rooms       int   // rooms in memory
	Sessions    int   // attached connections
	Messages    int64 // messages created
	Events      int64 // events fanned out (each counted once)
	Deliveries  int64 // Conn.Send calls
	Dropped     int64 // Conn.Send calls that returned false
	Errors      int64 // error packets sent
	Violations  int64 // protocol violations among them
	RateLimited int64 // packets refused by a rate limit
	StoreErrors int64 // store writes or reads that failed
	Resyncs     int64 // resync packets sent
	// Packets are the packets received, by type and outcome (packets.go).
	Packets   []PacketCount
	Withdrawn int64 // messages or changes withdrawn after the store refused them
}

type counters struct {
	messages, events, deliveries, dropped, errors, violations,
	rateLimited, storeErrors, resyncs, paused, withdrawn atomic.Int64
}

// Stats returns a snapshot of the counters.
func (srv *Server) Stats() Stats {
	st := Stats{
		Messages:    srv.stats.messages.Load(),
		Events:      srv.stats.events.Load(),
		Deliveries:  srv.stats.deliveries.Load(),
		Dropped:     srv.stats.dropped.Load(),
		Errors:      srv.stats.errors.Load(),
		Violations:  srv.stats.violations.Load(),
		RateLimited: srv.stats.rateLimited.Load(),
		StoreErrors: srv.stats.storeErrors.Load(),
		Resyncs:     srv.stats.resyncs.Load(),
		Withdrawn:   srv.stats.withdrawn.Load(),
		Packets:     srv.packets.snapshot(),
	}
	srv.mu.Lock()
	rooms := make([]*room, 0, len(srv.rooms))
	for _, r := range srv.rooms {
		rooms = append(rooms, r)
	}
	srv.mu.Unlock()
	st.Rooms = len(rooms)
	for _, r := range rooms {
		r.mu.Lock()
		st.Sessions += len(r.sessions)
		r.mu.Unlock()
	}
	return st
}

// Participants returns the identities attached to room, sorted (for the
// SFU's room listing and for tests).
func (srv *Server) Participants(name string) []string {
	srv.mu.Lock()
	r := srv.rooms[name]
	srv.mu.Unlock()
	if r == nil {
		return nil
	}
	select {
	case <-r.ready:
	default:
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, 0, len(r.people))
	for id := range r.people {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}

// deadSession is returned for a refused attach; the transport may still call
// it.
type deadSession struct{}

func (deadSession) Receive([]byte) {}
func (deadSession) Overflowed(int) {}
func (deadSession) Detach()        {}

// newLimiter returns nil for "no limit", so the hot path skips it.
func newLimiter(r float64, burst int) *rate.Limiter {
	if r <= 0 {
		return nil
	}
	return rate.NewLimiter(rate.Limit(r), burst)
}

// allow takes one token, or returns the rate_limited error with the wait.
func allow(l *rate.Limiter, now time.Time) *Error {
	if l == nil {
		return nil
	}
	res := l.ReserveN(now, 1)
	if !res.OK() {
		return &Error{Code: CodeRateLimited, Message: "too many packets", RetryAfter: time.Second}
	}
	if d := res.DelayFrom(now); d > 0 {
		res.CancelAt(now)
		return &Error{Code: CodeRateLimited, Message: "too many packets; slow down", RetryAfter: d}
	}
	return nil
}

var errClosed = errors.New("chat: closed")
