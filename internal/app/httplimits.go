package app

import (
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// HTTPLimits bound what an HTTP connection can hold before it has become a
// signaling socket. A WebSocket is upgraded only after its token checked
// out, so a hijacked connection is an authenticated one and leaves these
// limits; everything else (page loads, API calls, and anyone who connects
// and says nothing) is held to them, so that idle or slow connections from
// anyone cannot exhaust the server's file descriptors or memory.
type HTTPLimits struct {
	// ReadHeaderTimeout is how long a request's headers may take.
	ReadHeaderTimeout time.Duration
	// IdleTimeout closes a keep-alive connection with no request for so
	// long.
	IdleTimeout time.Duration
	// MaxHeaderBytes caps a request's headers (a token is ~400 bytes).
	MaxHeaderBytes int
	// MaxConnsPerIP caps the connections one source address may hold open
	// before any becomes a signaling socket; more are closed at once.
	// Negative: no cap.
	MaxConnsPerIP int
}

// DefaultHTTPLimits are the limits of a zero HTTPLimits field.
var DefaultHTTPLimits = HTTPLimits{
	ReadHeaderTimeout: 5 * time.Second,
	IdleTimeout:       30 * time.Second,
	MaxHeaderBytes:    16 << 10,
	MaxConnsPerIP:     256,
}

func (l HTTPLimits) withDefaults() HTTPLimits {
	d := DefaultHTTPLimits
	if l.ReadHeaderTimeout > 0 {
		d.ReadHeaderTimeout = l.ReadHeaderTimeout
	}
	if l.IdleTimeout > 0 {
		d.IdleTimeout = l.IdleTimeout
	}
	if l.MaxHeaderBytes > 0 {
		d.MaxHeaderBytes = l.MaxHeaderBytes
	}
	if l.MaxConnsPerIP != 0 {
		d.MaxConnsPerIP = l.MaxConnsPerIP
	}
	return d
}

// connGuard counts each source address's connections that are not (yet)
// signaling sockets, and closes those over the cap as they arrive. It is
// the http.Server's ConnState hook, so it costs a map update per
// connection and nothing per request.
type connGuard struct {
	max int
	log *slog.Logger

	mu    sync.Mutex
	perIP map[string]int
	conns map[net.Conn]string // counted connections and their address

	refused  atomic.Int64
	sometime rate.Sometimes // the refusal log line, at most once a minute
}

func newConnGuard(max int, log *slog.Logger) *connGuard {
	return &connGuard{max: max, log: log, perIP: map[string]int{}, conns: map[net.Conn]string{},
		sometime: rate.Sometimes{Interval: time.Minute}}
}

func (g *connGuard) state(c net.Conn, s http.ConnState) {
	switch s {
	case http.StateNew:
		ip := sourceIP(c.RemoteAddr())
		g.mu.Lock()
		if g.max >= 0 && g.perIP[ip] >= g.max {
			g.mu.Unlock()
			n := g.refused.Add(1)
			g.sometime.Do(func() {
				g.log.Warn("http: closing connections over the per-address cap",
					"source_ip", ip, "cap", g.max, "refused_total", n)
			})
			_ = c.Close() // the server's read fails at once and it lets go
			return
		}
		g.perIP[ip]++
		g.conns[c] = ip
		g.mu.Unlock()
	case http.StateHijacked, http.StateClosed:
		g.mu.Lock()
		if ip, ok := g.conns[c]; ok {
			delete(g.conns, c)
			if g.perIP[ip]--; g.perIP[ip] <= 0 {
				delete(g.perIP, ip)
			}
		}
		g.mu.Unlock()
	}
}

// open is how many connections are counted now.
func (g *connGuard) open() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.conns)
}

func sourceIP(a net.Addr) string {
	if t, ok := a.(*net.TCPAddr); ok {
		return t.IP.String()
	}
	host, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	return host
}

// HTTPConnStats reports the connections held to HTTPLimits now, and how
// many were closed for being over the per-address cap since start.
func (a *App) HTTPConnStats() (open int, refused int64) {
	return a.guard.open(), a.guard.refused.Load()
}

func (a *App) newHTTPServer(h http.Handler) *http.Server {
	l := a.cfg.HTTP.withDefaults()
	a.guard = newConnGuard(l.MaxConnsPerIP, a.log)
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: l.ReadHeaderTimeout,
		IdleTimeout:       l.IdleTimeout,
		MaxHeaderBytes:    l.MaxHeaderBytes,
		ConnState:         a.guard.state,
	}
}
