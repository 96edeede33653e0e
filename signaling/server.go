package signaling

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/pion/webrtc/v4"
	"golang.org/x/time/rate"

	"github.com/backchannel-rtc/backchannel/auth"
	"github.com/backchannel-rtc/backchannel/protocol"
	"github.com/backchannel-rtc/backchannel/sfu"
)

// Config of the endpoint.
type Config struct {
	Keys auth.KeyProvider
	// AllowedOrigins lists the Origin values a browser may connect from
	// (scheme://host[:port]); "*" allows any. Empty allows same-host
	// origins only. Requests without an Origin (non-browser clients) pass.
	AllowedOrigins []string
	// PingInterval is how often the server pings; a socket silent for
	// three intervals is closed.
	PingInterval time.Duration
	// JoinTimeout is how long a socket may wait before sending join.
	JoinTimeout time.Duration
	// MessageRate and MessageBurst bound the messages one socket may send
	// (every frame read counts, good or bad). Beyond them a message is
	// dropped, and the first of a run of drops is answered with a
	// rate_limited error. A socket that keeps sending at more than ten
	// times the rate is closed with 1008 (policy violation). Defaults: 20
	// a second, bursts of 100 (a join with its offer, answer and trickled
	// candidates for two connections is a few dozen).
	MessageRate  float64
	MessageBurst int
	Logger       *slog.Logger
	// Placer, on a cluster node, decides whether this node hosts a
	// joining participant's room or which node does (nil: always here).
	Placer Placer
	// NodeURL is this cluster node's URL, told to clients in `joined`.
	NodeURL string
	// OriginAllowed, if set, may allow an Origin the list above does not
	// (a cluster allows the pages of its other nodes).
	OriginAllowed func(origin string) bool
}

// Placer is the cluster's answer to a join (package cluster's Node).
type Placer interface {
	// Place returns the URL of the node that hosts room, or "" and a
	// release func to call once the participant is gone when this node
	// hosts it.
	Place(ctx context.Context, room string) (redirect string, release func(), err error)
}

// Handler serves /v1/rtc.
type Handler struct {
	cfg      Config
	sfu      *sfu.Server
	upgrader websocket.Upgrader
	log      *slog.Logger

	mu       sync.Mutex
	conns    map[*conn]struct{} // open sockets, until their close is done
	stopping bool
	wg       sync.WaitGroup // one per socket in conns
}

// NewHandler returns the WebSocket endpoint.
func NewHandler(cfg Config, s *sfu.Server) *Handler {
	if cfg.PingInterval <= 0 {
		cfg.PingInterval = 15 * time.Second
	}
	if cfg.JoinTimeout <= 0 {
		cfg.JoinTimeout = 10 * time.Second
	}
	if cfg.MessageRate <= 0 {
		cfg.MessageRate = 20
	}
	if cfg.MessageBurst <= 0 {
		cfg.MessageBurst = 100
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	h := &Handler{cfg: cfg, sfu: s, log: cfg.Logger, conns: make(map[*conn]struct{})}
	h.upgrader = websocket.Upgrader{
		ReadBufferSize:  4096,
		WriteBufferSize: 4096,
		CheckOrigin:     h.checkOrigin,
	}
	return h
}

func (h *Handler) checkOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	if slices.Contains(h.cfg.AllowedOrigins, "*") || slices.Contains(h.cfg.AllowedOrigins, origin) {
		return true
	}
	if f := h.cfg.OriginAllowed; f != nil && f(origin) {
		return true
	}
	if len(h.cfg.AllowedOrigins) == 0 {
		u, err := url.Parse(origin)
		return err == nil && u.Host == r.Host
	}
	return false
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	log := h.requestLog(r)
	if twoTokens(r) {
		// Which one wins would be a silent choice between two identities.
		deny(log, w, r, http.StatusBadRequest, "bad_request", "two different tokens: the Authorization header and ?access_token= disagree", "two_tokens")
		return
	}
	who, err := h.cfg.Keys.Verify(auth.FromRequest(r))
	if err != nil {
		deny(log, w, r, http.StatusUnauthorized, "unauthorized", err.Error(), tokenReason(err))
		return
	}
	if !who.Grant.RoomJoin || who.Grant.Room == "" {
		deny(log, w, r, http.StatusForbidden, "forbidden", "the token does not grant joining a room", "", "identity", who.Identity)
		return
	}
	if room := r.URL.Query().Get("room"); room != "" && room != who.Grant.Room {
		deny(log, w, r, http.StatusForbidden, "forbidden", "the token is for another room", "", "identity", who.Identity)
		return
	}
	if !h.checkOrigin(r) {
		deny(log, w, r, http.StatusForbidden, "forbidden", "origin not allowed", "", "identity", who.Identity, "origin", r.Header.Get("Origin"))
		return
	}
	ws, err := h.upgrader.Upgrade(w, r, nil)
	if err != nil {
		log.Info("socket refused", "reason", "websocket upgrade failed", "error", err.Error(), "remote_addr", r.RemoteAddr)
		return // the upgrader has answered
	}
	ws.SetReadLimit(protocol.MaxSignalBytes)
	c := &conn{h: h, log: log.With("room", who.Grant.Room, "identity", who.Identity), ws: ws, who: who, out: make(chan *protocol.Signal, 256), done: make(chan struct{}), readDone: make(chan struct{}),
		limit: rate.NewLimiter(rate.Limit(h.cfg.MessageRate), h.cfg.MessageBurst),
		// Drops themselves are bounded: sustained sending at more than
		// ten times the rate ends the socket.
		drops: rate.NewLimiter(rate.Limit(10*h.cfg.MessageRate), 10*h.cfg.MessageBurst)}
	registered := h.add(c)
	if !registered {
		c.Closed(protocol.ReasonShutdown)
	}
	go func() {
		if registered {
			defer h.remove(c)
		}
		c.writeLoop()
	}()
	c.readLoop()
}

// add registers c, unless Shutdown has begun.
func (h *Handler) add(c *conn) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.stopping {
		return false
	}
	h.wg.Add(1)
	h.conns[c] = struct{}{}
	return true
}

func (h *Handler) remove(c *conn) {
	h.mu.Lock()
	delete(h.conns, c)
	h.mu.Unlock()
	h.wg.Done()
}

// Shutdown ends every socket, joined or not, with leave (protocol.ReasonShutdown),
// and any opened later at once; it waits until their queued messages and
// close frames are written and each socket is closed (see
// lingeringClose), or until ctx ends. The HTTP server does not track
// upgraded connections, so without this the process could exit with a
// final leave still queued.
func (h *Handler) Shutdown(ctx context.Context) error {
	h.mu.Lock()
	h.stopping = true
	open := make([]*conn, 0, len(h.conns))
	for c := range h.conns {
		open = append(open, c)
	}
	h.mu.Unlock()
	for _, c := range open {
		c.Closed(protocol.ReasonShutdown)
	}
	done := make(chan struct{})
	go func() {
		h.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// conn is one socket. It implements sfu.Signaler.
type conn struct {
	h   *Handler
	log *slog.Logger // with the request id, room and identity
	ws  *websocket.Conn
	who auth.Identity

	mu        sync.Mutex
	ready     bool              // joined has been queued
	pending   []protocol.Signal // signals that came before joined
	closing   bool
	closeCode int // of the final close frame; 0: normal closure
	closeText string
	reason    string // why the participant left: the first of the server's reason and the client's leave

	out       chan *protocol.Signal // pointers: a queue of 256 costs 2 KiB, not 64
	done      chan struct{}
	closeOnce sync.Once
	readDone  chan struct{} // closed when the read loop has stopped reading

	// Owned by the read loop.
	limit, drops *rate.Limiter
	throttled    bool // the last message read was dropped
}

// send queues m without blocking. A client too slow to read its own
// signaling is disconnected: it will reconnect and resynchronise.
func (c *conn) send(m protocol.Signal) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sendLocked(m)
}

func (c *conn) sendLocked(m protocol.Signal) {
	if c.closing {
		return
	}
	if !c.ready && m.Type != protocol.SignalJoined && m.Type != protocol.SignalError && m.Type != protocol.SignalLeave && m.Type != protocol.SignalRedirect {
		c.pending = append(c.pending, m)
		return
	}
	select {
	case c.out <- &m:
	default:
		c.closing = true
		c.shutdown()
	}
}

// start queues joined, then whatever the SFU said meanwhile.
func (c *conn) start(joined protocol.Signal) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sendLocked(joined)
	c.ready = true
	for _, m := range c.pending {
		c.sendLocked(m)
	}
	c.pending = nil
}

func (c *conn) shutdown() { c.closeOnce.Do(func() { close(c.done) }) }

// Closed: the server ended the participant; say why, then close.
func (c *conn) Closed(reason string) {
	c.mu.Lock()
	c.sendLocked(protocol.Signal{Type: protocol.SignalLeave, Reason: reason})
	c.closing = true
	c.reason = cmp.Or(c.reason, reason)
	c.mu.Unlock()
	c.shutdown()
}

// lingerTime bounds how long a closing socket keeps reading what the
// peer still sends, and lingerBytes how much of it.
const (
	lingerTime  = 2 * time.Second
	lingerBytes = 1 << 20
)

func (c *conn) writeLoop() {
	ping := time.NewTicker(c.h.cfg.PingInterval)
	defer ping.Stop()
	write := func(m *protocol.Signal) bool {
		_ = c.ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
		return c.ws.WriteJSON(m) == nil
	}
	for {
		select {
		case m := <-c.out:
			if !write(m) {
				c.shutdown()
				c.ws.Close()
				return
			}
		case <-ping.C:
			if c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(5*time.Second)) != nil {
				c.shutdown()
				c.ws.Close()
				return
			}
		case <-c.done:
			// Flush what is queued (a final leave), then close politely.
			for {
				select {
				case m := <-c.out:
					if !write(m) {
						c.ws.Close()
						return
					}
					continue
				default:
				}
				break
			}
			c.mu.Lock()
			code, text := c.closeCode, c.closeText
			c.mu.Unlock()
			if code == 0 {
				code = websocket.CloseNormalClosure
			}
			_ = c.ws.WriteControl(websocket.CloseMessage,
				websocket.FormatCloseMessage(code, text), time.Now().Add(time.Second))
			c.lingeringClose()
			return
		}
	}
}

func (c *conn) readLoop() {
	defer c.drain()
	defer c.shutdown()
	deadline := func(d time.Duration) { _ = c.ws.SetReadDeadline(time.Now().Add(d)) }
	alive := 3 * c.h.cfg.PingInterval
	c.ws.SetPongHandler(func(string) error { deadline(alive); return nil })

	// The first message must be join.
	deadline(c.h.cfg.JoinTimeout)
	m, ok := c.next()
	if !ok {
		return
	}
	if m.Type != protocol.SignalJoin {
		c.log.Info("socket refused", "reason", "the first message must be join")
		c.send(protocol.Signal{Type: protocol.SignalError, Code: protocol.CodeJoinFirst, Message: "the first message must be join"})
		return
	}
	if pl := c.h.cfg.Placer; pl != nil {
		release, ok := c.place(pl)
		if !ok {
			return
		}
		defer release()
	}
	who := c.who
	who.E2EEKey = m.E2EEKey // checked by Decode; chat shows it in presence
	p, info, err := c.h.sfu.Join(c.who.Grant.Room, who, c)
	if err != nil {
		c.log.Info("socket refused", "reason", "join failed", "error", err.Error())
		c.send(protocol.Signal{Type: protocol.SignalError, Code: protocol.CodeJoinFailed, Message: err.Error()})
		return
	}
	defer c.left(p, c.joined(p))
	c.start(protocol.Signal{
		Type: protocol.SignalJoined, Protocol: protocol.Version, Room: c.who.Grant.Room,
		Participant: &info.Self, Participants: info.Others, ICEServers: c.h.sfu.ICEServers(), Node: c.h.cfg.NodeURL,
	})
	for {
		deadline(alive)
		m, ok := c.next()
		if !ok {
			return
		}
		switch m.Type {
		case protocol.SignalOffer:
			if m.Target != "" && m.Target != protocol.Publisher {
				c.send(protocol.Signal{Type: protocol.SignalError, Code: protocol.CodeBadTarget, Message: "offers are for the publisher connection"})
				continue
			}
			answer, err := p.HandleOffer(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: m.SDP})
			if err != nil {
				c.send(protocol.Signal{Type: protocol.SignalError, Code: codeOf(err), Message: err.Error()})
				continue
			}
			c.send(protocol.Signal{Type: protocol.SignalAnswer, Target: protocol.Publisher, SDP: answer.SDP})
		case protocol.SignalAnswer:
			if err := p.HandleAnswer(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: m.SDP}); err != nil {
				c.send(protocol.Signal{Type: protocol.SignalError, Code: protocol.CodeBadAnswer, Message: err.Error()})
			}
		case protocol.SignalCandidate:
			if err := p.AddCandidate(m.Target, *m.Candidate); err != nil {
				c.send(protocol.Signal{Type: protocol.SignalError, Code: protocol.CodeBadCandidate, Message: err.Error()})
			}
		case protocol.SignalMuteTrack:
			c.muteTrack(p, m)
		case protocol.SignalPing:
			c.send(protocol.Signal{Type: protocol.SignalPong, Timestamp: m.Timestamp})
		case protocol.SignalLeave:
			c.leaveReason("client left")
			return
		case protocol.SignalJoin:
			c.send(protocol.Signal{Type: protocol.SignalError, Code: protocol.CodeAlreadyJoined, Message: "join was already sent"})
		}
	}
}

func codeOf(err error) protocol.Code {
	if errors.Is(err, sfu.ErrForbidden) {
		return protocol.CodeForbidden
	}
	return protocol.CodeBadOffer
}

// next reads one message; a bad one is answered with an error and skipped,
// and so is one over the socket's rate (see Config.MessageRate).
func (c *conn) next() (protocol.Signal, bool) {
	for {
		typ, b, err := c.ws.ReadMessage()
		if err != nil {
			return protocol.Signal{}, false
		}
		select {
		case <-c.done:
			return protocol.Signal{}, false
		default:
		}
		if !c.limit.Allow() {
			if !c.drops.Allow() {
				c.log.Warn("signaling: closing a flooding socket")
				c.mu.Lock()
				c.closing = true // what is queued is still sent, then the close
				c.reason = cmp.Or(c.reason, "too many signaling messages")
				c.closeCode, c.closeText = websocket.ClosePolicyViolation, "too many signaling messages"
				c.mu.Unlock()
				c.shutdown()
				return protocol.Signal{}, false
			}
			if !c.throttled {
				c.throttled = true
				c.send(protocol.Signal{Type: protocol.SignalError, Code: protocol.CodeRateLimited, Message: "too many signaling messages; slow down"})
			}
			continue
		}
		c.throttled = false
		if typ != websocket.TextMessage {
			c.send(protocol.Signal{Type: protocol.SignalError, Code: protocol.CodeBadMessage, Message: "messages are JSON text frames"})
			continue
		}
		m, err := Decode(b)
		if err != nil {
			c.send(protocol.Signal{Type: protocol.SignalError, Code: protocol.CodeBadMessage, Message: err.Error()})
			continue
		}
		return m, true
	}
}
