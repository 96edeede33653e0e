//go:build !race

// Latency under load is measured without the race detector; `make test`
// runs this file in its race-free step.

package app_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/backchannel-rtc/backchannel/client"
	"github.com/backchannel-rtc/backchannel/internal/app"
)

// idler opens a connection from 127.0.0.2 (the attacker's address; the
// meeting's clients come from 127.0.0.1), makes one request and then says
// nothing, or sends half a request and stalls. It reports whether the
// server answered, and then waits for the server to close.
func idler(ctx context.Context, addr string, half bool) (answered bool, closed <-chan struct{}, err error) {
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}, Timeout: 5 * time.Second}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return false, nil, err
	}
	done := make(chan struct{})
	req := "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
	if half {
		req = "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + strings.Repeat("a", 900)
	}
	if _, err := io.WriteString(c, req); err != nil {
		c.Close()
		close(done)
		return false, done, nil // closed by the server already: over the cap
	}
	r := bufio.NewReader(c)
	if !half {
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		line, err := r.ReadString('\n')
		answered = err == nil && strings.HasPrefix(line, "HTTP/1.1 200")
		_ = c.SetReadDeadline(time.Time{})
	}
	go func() {
		defer close(done)
		defer c.Close()
		_, _ = io.Copy(io.Discard, r) // returns when the server closes
	}()
	return answered, done, nil
}

// TestIdleConnectionsAreBounded: 5,000 connections from one address, each
// making one request and then idling (or sending half its headers and
// stalling), while a meeting is chatting from another address. The server
// holds at most its per-address cap, closes the rest at once and the idle
// ones after its idle timeout, a new participant still joins, and the
// meeting's chat latency stays within 2x of its quiet figure.
func TestIdleConnectionsAreBounded(t *testing.T) {
	const (
		total   = 5000
		perIP   = 200
		idleFor = 5 * time.Second
	)
	a := startServer(t, nil, func(c *app.Config) {
		c.HTTP = app.HTTPLimits{IdleTimeout: idleFor, ReadHeaderTimeout: idleFor, MaxConnsPerIP: perIP}
	})
	lat := map[string]*latencies{"quiet": {}, "opening": {}, "idle": {}}
	var phase atomic.Value
	phase.Store("quiet")
	join(t, a, "idle", "reader", client.Options{OnChat: func(b []byte) {
		s := string(b)
		i := strings.Index(s, `"text":"`)
		if i < 0 || !strings.Contains(s, `"type":"message"`) {
			return
		}
		var ns int64
		var ph string
		if _, err := fmt.Sscanf(s[i+len(`"text":"`):], "%d %s", &ns, &ph); err != nil {
			return
		}
		ph = strings.TrimSuffix(strings.SplitN(ph, `"`, 2)[0], `"`)
		if l := lat[ph]; l != nil {
			l.mu.Lock()
			l.d = append(l.d, time.Since(time.Unix(0, ns)))
			l.mu.Unlock()
		}
	}})
	sender := join(t, a, "idle", "sender", client.Options{})
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // 20 messages a second, each stamped with its phase
		defer wg.Done()
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			text := fmt.Sprintf("%d %s", time.Now().UnixNano(), phase.Load())
			b := fmt.Sprintf(`{"type":"chat","clientId":"c%d","text":%q}`, i, text)
			if err := sender.SendChat([]byte(b)); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	time.Sleep(2 * time.Second) // the quiet baseline

	phase.Store("opening")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var answered, dialErrs atomic.Int64
	closed := make([]<-chan struct{}, 0, total)
	var mu sync.Mutex
	sem := make(chan struct{}, 64)
	var dials sync.WaitGroup
	pace := time.NewTicker(time.Second / 2000) // an attacker at 2,000 connections/s
	defer pace.Stop()
	for i := range total {
		<-pace.C
		sem <- struct{}{}
		dials.Add(1)
		go func() {
			defer dials.Done()
			defer func() { <-sem }()
			ok, done, err := idler(ctx, a.Addr().String(), i%10 == 0)
			if err != nil {
				dialErrs.Add(1)
				return
			}
			if ok {
				answered.Add(1)
			}
			mu.Lock()
			closed = append(closed, done)
			mu.Unlock()
		}()
	}
	dials.Wait()
	open, refused := a.HTTPConnStats()
	t.Logf("%d connections opened (%d dial errors): %d answered, %d held by the server, %d closed over the cap",
		len(closed), dialErrs.Load(), answered.Load(), open, refused)
	if open > perIP {
		t.Errorf("the server holds %d connections from one address; the cap is %d", open, perIP)
	}
	if refused < total-2*perIP {
		t.Errorf("only %d of %d connections were closed for being over the cap", refused, total)
	}

	// The meeting goes on while they idle, and a newcomer from the
	// meeting's address joins.
	phase.Store("idle")
	time.Sleep(2 * time.Second)
	phase.Store("after")
	join(t, a, "idle", "late", client.Options{})

	// Every idler is closed by the server within its timeouts.
	deadline := time.After(idleFor + 5*time.Second)
	for i, done := range closed {
		select {
		case <-done:
		case <-deadline:
			t.Fatalf("connection %d of %d still open %v after the last one was opened", i, len(closed), idleFor+5*time.Second)
		}
	}
	if open, _ := a.HTTPConnStats(); open != 0 {
		t.Errorf("%d connections still counted after every idler was closed", open)
	}
	close(stop)
	wg.Wait()
	time.Sleep(300 * time.Millisecond)

	q50, q95 := lat["quiet"].quantile(0.5), lat["quiet"].quantile(0.95)
	i50, i95 := lat["idle"].quantile(0.5), lat["idle"].quantile(0.95)
	t.Logf("chat latency (%d/%d samples): quiet p50 %v p95 %v; with the idlers held p50 %v p95 %v; while they connected p50 %v p95 %v",
		lat["quiet"].count(), lat["idle"].count(), q50, q95, i50, i95,
		lat["opening"].quantile(0.5), lat["opening"].quantile(0.95))
	if lat["idle"].count() < 20 {
		t.Fatalf("only %d messages arrived while the idlers connected", lat["idle"].count())
	}
	// p50 and p95 (p99 of a few dozen samples is one sample: noise on a
	// shared 2-core machine); the floors keep sub-millisecond figures
	// meaningful, as in TestFloodIsContained.
	if bound := max(2*q50, q50+2*time.Millisecond); i50 > bound {
		t.Errorf("p50 chat latency with the idlers %v exceeds 2x quiet (%v; bound %v)", i50, q50, bound)
	}
	if bound := max(2*q95, q95+20*time.Millisecond); i95 > bound {
		t.Errorf("p95 chat latency with the idlers %v exceeds 2x quiet (%v; bound %v)", i95, q95, bound)
	}
}
