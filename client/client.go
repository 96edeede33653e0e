package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/pion/datachannel"
	"github.com/pion/webrtc/v4"

	"github.com/backchannel-rtc/backchannel/internal/rtcsetup"
	"github.com/backchannel-rtc/backchannel/protocol"
	"github.com/backchannel-rtc/backchannel/protocol/e2ee"
)

// Options of a client.
type Options struct {
	// LoopbackOnly gathers loopback candidates only (tests, benchmarks).
	LoopbackOnly bool
	// TCPOnly uses ICE over TCP only, as a client behind a firewall that
	// blocks UDP must (the server's ICE-TCP fallback).
	TCPOnly bool
	// OnChat receives every chat data-channel message, in order, from one
	// goroutine. The slice is the callee's.
	OnChat func([]byte)
	// OnEvent receives signaling events (participantJoined/Left,
	// trackPublished/Unpublished, leave, error).
	OnEvent func(protocol.Signal)
	// OnActiveSpeakers receives each new list of active speakers, loudest
	// first; empty when nobody speaks any more (also given to OnEvent).
	OnActiveSpeakers func([]protocol.SpeakerInfo)
	// OnTrackMuted receives another participant's track (un)mute (also
	// given to OnEvent).
	OnTrackMuted func(identity, trackID string, muted bool)
	// OnTrack receives each remote track of the subscriber connection.
	OnTrack func(*webrtc.TrackRemote, *webrtc.RTPReceiver)
	// HighWater: SendChat waits while the channel holds more than this
	// unsent (default 256 KiB), so SCTP's queue never grows without bound.
	HighWater int
	// E2EEKey is this device's key for end-to-end encrypted private
	// messages (client/e2ee.go): announced at join, used to open them.
	E2EEKey *e2ee.PrivateKey
	// OnMessage receives every chat message as its user reads it, opened
	// when it was end-to-end encrypted (Received), from OnChat's goroutine.
	OnMessage func(Received)
	// Header is sent with the WebSocket handshake (e.g. Origin).
	Header http.Header
	Logger *slog.Logger
}

// ErrClosed is returned after Close or once the server ended the session.
var ErrClosed = errors.New("client closed")

// Client is one participant.
type Client struct {
	opts   Options
	ws     *websocket.Conn
	api    *webrtc.API
	pub    *webrtc.PeerConnection
	sub    *webrtc.PeerConnection
	dc     *webrtc.DataChannel
	raw    datachannel.ReadWriteCloser
	Joined protocol.Signal
	// URL is the node this client joined (after any redirect).
	URL string

	mu      sync.Mutex // guards raw and closed, and wg.Add after Close
	closed  bool
	wmu     sync.Mutex // serialises socket writes
	pubMu   sync.Mutex // one publisher negotiation at a time
	answers chan protocol.Signal
	low     chan struct{}
	opened  chan struct{}
	chatEnd chan struct{} // closed when the chat channel stops reading
	done    chan struct{}
	e2      e2eeState
	token   string // for the HTTP API (e2eefile.go)
	once    sync.Once
	wg      sync.WaitGroup
	reason  string
}

// Join connects to url (ws://host:port, with or without /v1/rtc) with the
// token and returns once the chat channel is open. A cluster node that
// does not host the room redirects the client to the one that does (at
// most protocol.MaxRedirects times, redirect.go); Client.URL is where it
// connected last and Joined.Node the node hosting the room.
func Join(ctx context.Context, rawURL, token string, opts Options) (*Client, error) {
	for hop := 0; ; hop++ {
		c, err := join(ctx, rawURL, token, opts)
		var r *redirectError
		if !errors.As(err, &r) {
			return c, err
		}
		if hop >= protocol.MaxRedirects {
			return nil, fmt.Errorf("%w (last: %s)", ErrRedirectLoop, r.url)
		}
		rawURL = r.url
	}
}

func join(ctx context.Context, rawURL, token string, opts Options) (*Client, error) {
	if opts.HighWater <= 0 {
		opts.HighWater = 256 << 10
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	api, err := newAPI(opts.LoopbackOnly, opts.TCPOnly)
	if err != nil {
		return nil, err
	}
	u, err := rtcURL(rawURL, token)
	if err != nil {
		return nil, err
	}
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second}
	ws, resp, err := d.DialContext(ctx, u, opts.Header)
	if resp != nil && resp.Body != nil {
		defer resp.Body.Close()
	}
	if err != nil {
		if resp != nil {
			var body struct{ Error, Reason string }
			_ = json.NewDecoder(resp.Body).Decode(&body)
			return nil, &RefusedError{Status: resp.StatusCode, Reason: body.Reason}
		}
		return nil, err
	}
	c := &Client{
		URL: rawURL, opts: opts, ws: ws, api: api, token: token,
		answers: make(chan protocol.Signal, 1), low: make(chan struct{}, 1),
		opened: make(chan struct{}), chatEnd: make(chan struct{}), done: make(chan struct{}),
	}
	if err := c.start(ctx); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// RefusedError is the server's refusal of the WebSocket (bad token...).
type RefusedError struct {
	Status int
	Reason string
}

func (e *RefusedError) Error() string { return fmt.Sprintf("refused (%d): %s", e.Status, e.Reason) }

func rtcURL(raw, token string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", err
	}
	switch u.Scheme {
	case "http":
		u.Scheme = "ws"
	case "https":
		u.Scheme = "wss"
	}
	if !strings.HasSuffix(u.Path, "/v1/rtc") {
		u.Path = strings.TrimSuffix(u.Path, "/") + "/v1/rtc"
	}
	q := u.Query()
	q.Set("access_token", token)
	u.RawQuery = q.Encode()
	return u.String(), nil
}

func newAPI(loopback, tcpOnly bool) (*webrtc.API, error) {
	se := webrtc.SettingEngine{}
	n, err := rtcsetup.BufferedNet(rtcsetup.SocketBuffer)
	if err != nil {
		return nil, err
	}
	se.SetNet(n)
	if loopback {
		rtcsetup.LoopbackOnly(&se)
		se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	}
	if tcpOnly {
		se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeTCP4})
	}
	// The same timers and interceptors as the server's.
	return rtcsetup.NewAPI(&se)
}

// iceServers converts the servers of `joined` to Pion's.
func iceServers(in []protocol.ICEServer) []webrtc.ICEServer {
	out := make([]webrtc.ICEServer, 0, len(in))
	for _, s := range in {
		is := webrtc.ICEServer{URLs: s.URLs, Username: s.Username}
		if s.Credential != "" {
			is.Credential = s.Credential
		}
		out = append(out, is)
	}
	return out
}

func (c *Client) write(m protocol.Signal) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
	return c.ws.WriteJSON(m)
}

func (c *Client) start(ctx context.Context) error {
	if dl, ok := ctx.Deadline(); ok {
		_ = c.ws.SetReadDeadline(dl)
	}
	join := protocol.Signal{Type: protocol.SignalJoin}
	if c.opts.E2EEKey != nil {
		join.E2EEKey = c.opts.E2EEKey.Public().String()
	}
	if err := c.write(join); err != nil {
		return err
	}
	if err := c.ws.ReadJSON(&c.Joined); err != nil {
		return err
	}
	if c.Joined.Type == protocol.SignalRedirect && c.Joined.URL != "" {
		return &redirectError{url: c.Joined.URL}
	}
	if c.Joined.Type != protocol.SignalJoined {
		return fmt.Errorf("join: %s %s", c.Joined.Code, c.Joined.Message)
	}
	_ = c.ws.SetReadDeadline(time.Time{})
	cfg := webrtc.Configuration{ICEServers: iceServers(c.Joined.ICEServers)}
	var err error
	if c.pub, err = c.api.NewPeerConnection(cfg); err != nil {
		return err
	}
	if c.sub, err = c.api.NewPeerConnection(cfg); err != nil {
		return err
	}
	c.sub.OnTrack(func(t *webrtc.TrackRemote, r *webrtc.RTPReceiver) {
		if c.opts.OnTrack != nil {
			c.opts.OnTrack(t, r)
			return
		}
		// Nobody wants it: drain so the interceptors keep working.
		go func() {
			buf := make([]byte, 1500)
			for {
				if _, _, err := t.Read(buf); err != nil {
					return
				}
			}
		}()
	})
	ordered := true
	if c.dc, err = c.pub.CreateDataChannel(protocol.ChatLabel, &webrtc.DataChannelInit{Ordered: &ordered}); err != nil {
		return err
	}
	c.dc.SetBufferedAmountLowThreshold(uint64(c.opts.HighWater / 2))
	c.dc.OnBufferedAmountLow(func() {
		select {
		case c.low <- struct{}{}:
		default:
		}
	})
	c.dc.OnOpen(func() {
		raw, err := c.dc.Detach()
		if err != nil {
			return
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.closed {
			_ = raw.Close()
			return
		}
		c.raw = raw
		close(c.opened)
		c.wg.Add(1)
		go c.readChat()
	})
	c.wg.Add(1)
	go c.readSignals()
	if err := c.negotiatePublisher(ctx); err != nil {
		return err
	}
	select {
	case <-c.opened:
		return nil
	case <-c.done:
		return fmt.Errorf("%w: %s", ErrClosed, c.Reason())
	case <-ctx.Done():
		return ctx.Err()
	}
}

// negotiatePublisher offers the publisher connection's current state and
// applies the answer. The offer carries every candidate (no trickle).
func (c *Client) negotiatePublisher(ctx context.Context) error {
	c.pubMu.Lock()
	defer c.pubMu.Unlock()
	offer, err := c.pub.CreateOffer(nil)
	if err != nil {
		return err
	}
	gathered := webrtc.GatheringCompletePromise(c.pub)
	if err := c.pub.SetLocalDescription(offer); err != nil {
		return err
	}
	select {
	case <-gathered:
	case <-ctx.Done():
		return ctx.Err()
	}
	if err := c.write(protocol.Signal{Type: protocol.SignalOffer, Target: protocol.Publisher, SDP: c.pub.LocalDescription().SDP}); err != nil {
		return err
	}
	select {
	case m := <-c.answers:
		if m.Type == protocol.SignalError {
			return fmt.Errorf("publish refused: %s: %s", m.Code, m.Message)
		}
		return c.pub.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: m.SDP})
	case <-c.done:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (c *Client) readSignals() {
	defer c.wg.Done()
	defer c.finish("signaling closed")
	// Once the server has closed (or the socket failed), close this end
	// too: the server lingers until the client has closed its end.
	defer c.ws.Close()
	for {
		var m protocol.Signal
		if err := c.ws.ReadJSON(&m); err != nil {
			return
		}
		switch m.Type {
		case protocol.SignalAnswer:
			select {
			case c.answers <- m:
			default:
			}
		case protocol.SignalOffer:
			if err := c.answerSubscriber(m.SDP); err != nil {
				c.opts.Logger.Warn("subscriber answer", "err", err)
			}
		case protocol.SignalError:
			if m.Code == protocol.CodeForbidden || m.Code == protocol.CodeBadOffer {
				select {
				case c.answers <- m:
				default:
				}
			}
			c.event(m)
		case protocol.SignalLeave:
			c.mu.Lock()
			c.reason = m.Reason
			c.mu.Unlock()
			c.event(m)
			return
		case protocol.SignalPong:
		case protocol.SignalActiveSpeakers:
			if c.opts.OnActiveSpeakers != nil {
				c.opts.OnActiveSpeakers(m.Speakers)
			}
			c.event(m)
		case protocol.SignalTrackMuted:
			if c.opts.OnTrackMuted != nil && m.Muted != nil {
				c.opts.OnTrackMuted(m.Identity, m.TrackID, *m.Muted)
			}
			c.event(m)
		default:
			c.event(m)
		}
	}
}

func (c *Client) event(m protocol.Signal) {
	if c.opts.OnEvent != nil {
		c.opts.OnEvent(m)
	}
}

func (c *Client) answerSubscriber(sdp string) error {
	if err := c.sub.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: sdp}); err != nil {
		return err
	}
	answer, err := c.sub.CreateAnswer(nil)
	if err != nil {
		return err
	}
	gathered := webrtc.GatheringCompletePromise(c.sub)
	if err := c.sub.SetLocalDescription(answer); err != nil {
		return err
	}
	select {
	case <-gathered:
	case <-time.After(5 * time.Second):
	}
	return c.write(protocol.Signal{Type: protocol.SignalAnswer, Target: protocol.Subscriber, SDP: c.sub.LocalDescription().SDP})
}

// Identity is this participant's identity, as the server knows it.
func (c *Client) Identity() string {
	if c.Joined.Participant == nil {
		return ""
	}
	return c.Joined.Participant.Identity
}

// Done is closed when the session ends (Close, or the server ended it).
func (c *Client) Done() <-chan struct{} { return c.done }

// ChatClosed is closed once the chat channel has ended and every message
// it carried has been handed to OnChat: after a server-side `leave`, the
// last chat packets (e.g. why you were removed) may still be arriving.
func (c *Client) ChatClosed() <-chan struct{} { return c.chatEnd }

// Reason is why the server ended the session, if it did.
func (c *Client) Reason() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.reason
}

func (c *Client) finish(reason string) {
	c.once.Do(func() {
		c.mu.Lock()
		if c.reason == "" {
			c.reason = reason
		}
		c.mu.Unlock()
		close(c.done)
	})
}

// Close leaves the room and releases everything.
func (c *Client) Close() error {
	_ = c.write(protocol.Signal{Type: protocol.SignalLeave})
	c.finish("closed")
	_ = c.ws.Close()
	c.mu.Lock()
	c.closed = true
	raw := c.raw
	c.mu.Unlock()
	if raw != nil {
		_ = raw.Close()
	}
	if c.pub != nil {
		_ = c.pub.Close()
	}
	if c.sub != nil {
		_ = c.sub.Close()
	}
	c.wg.Wait()
	return nil
}
