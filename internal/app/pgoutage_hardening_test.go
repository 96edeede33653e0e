package app_test

// PostgreSQL outage in the middle of a meeting (SECURITY.md, "a crashing
// database"). The server runs in-process on a throw-away PostgreSQL
// database reached through a TCP proxy the test controls. For the outage
// the proxy closes every proxied connection; new connections are first
// refused (the listener is closed: ECONNREFUSED, as a stopped server
// answers) and, for the second half, blackholed (accepted and never
// answered, as a partitioned or hung host behaves). Then it forwards again.
//
// What must hold: live chat keeps flowing between the participants during
// the outage; no ack is sent before the database is back (an ack means
// durable); no error packet reaches a client (the writer retries a lost
// connection, it does not fail the message); after the outage every
// message is acked, is in the database exactly once, and a retried
// clientId created nothing new.

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/backchannel-rtc/backchannel/client"
	"github.com/backchannel-rtc/backchannel/internal/app"
	"github.com/backchannel-rtc/backchannel/recorder/recordertest"
)

var pgOutage = flag.Duration("pgoutage.duration", 5*time.Second,
	"how long PostgreSQL is cut off in TestPostgresOutageMidMeeting (SECURITY.md: 30s)")

// pgProxy forwards TCP connections to PostgreSQL until told to stop.
type pgProxy struct {
	t      testing.TB
	addr   string // our listening address, stable across stop/restore
	target string

	mu        sync.Mutex
	ln        net.Listener
	blackhole bool
	conns     map[net.Conn]struct{} // every socket we own, both sides
	held      []net.Conn            // accepted while blackholed
	accepted  atomic.Int64
	wg        sync.WaitGroup
}

// proxiedPostgres makes a test database and a proxy in front of it: dsn
// reaches the database directly, proxied through the proxy.
func proxiedPostgres(t testing.TB) (dsn string, proxy *pgProxy, proxied string) {
	t.Helper()
	dsn = recordertest.Postgres(t)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	proxy = newPGProxy(t, u.Host)
	pu := *u
	pu.Host = proxy.addr
	return dsn, proxy, pu.String()
}

func newPGProxy(t testing.TB, target string) *pgProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &pgProxy{t: t, addr: ln.Addr().String(), target: target, conns: map[net.Conn]struct{}{}}
	p.serve(ln)
	t.Cleanup(p.close)
	return p
}

func (p *pgProxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.accepted.Add(1)
			p.mu.Lock()
			if p.blackhole {
				// Accepted, never answered, never forwarded.
				p.held = append(p.held, c)
				p.mu.Unlock()
				continue
			}
			p.conns[c] = struct{}{}
			p.mu.Unlock()
			p.wg.Add(1)
			go p.forward(c)
		}
	}()
}

func (p *pgProxy) track(c net.Conn, on bool) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if on {
		if p.ln == nil && !p.blackhole {
			return false // stopped meanwhile
		}
		p.conns[c] = struct{}{}
	} else {
		delete(p.conns, c)
	}
	return true
}

func (p *pgProxy) forward(c net.Conn) {
	defer p.wg.Done()
	defer c.Close()
	defer p.track(c, false)
	up, err := net.DialTimeout("tcp", p.target, 5*time.Second)
	if err != nil {
		return
	}
	defer up.Close()
	if !p.track(up, true) {
		return
	}
	defer p.track(up, false)
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(up, c); done <- struct{}{} }()
	go func() { _, _ = io.Copy(c, up); done <- struct{}{} }()
	<-done // either side ended: end both
	_ = c.Close()
	_ = up.Close()
	<-done
}

// cut closes every proxied connection and stops listening: new
// connections are refused.
func (p *pgProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		_ = p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		_ = c.Close()
	}
}

// hang listens again on the same address, but holds every new connection
// without answering.
func (p *pgProxy) hang() {
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		p.t.Fatalf("proxy: listen again on %s: %v", p.addr, err)
	}
	p.mu.Lock()
	p.blackhole = true
	p.mu.Unlock()
	p.serve(ln)
}

// restore forwards again. Connections held while blackholed are closed, as
// the client's TCP stack would eventually give up on them.
func (p *pgProxy) restore() {
	p.mu.Lock()
	p.blackhole = false
	held := p.held
	p.held = nil
	relisten := p.ln == nil
	p.mu.Unlock()
	for _, c := range held {
		_ = c.Close()
	}
	if relisten {
		ln, err := net.Listen("tcp", p.addr)
		if err != nil {
			p.t.Fatalf("proxy: listen again on %s: %v", p.addr, err)
		}
		p.serve(ln)
	}
}

func (p *pgProxy) close() {
	p.cut()
	p.mu.Lock()
	for _, c := range p.held {
		_ = c.Close()
	}
	p.held = nil
	p.mu.Unlock()
	p.wg.Wait()
}

// outagePeer is one participant: every packet it receives, with the time.
type outagePeer struct {
	id string
	c  *client.Client

	mu       sync.Mutex
	messages map[string]time.Time // clientId (our texts carry it) -> first seen
	acks     map[string][]ackSeen // clientId -> acks
	errors   []string
}

type ackSeen struct {
	at  time.Time
	id  string
	seq int64
}

type outagePacket struct {
	Type     string `json:"type"`
	ClientID string `json:"clientId"`
	ID       string `json:"id"`
	Seq      int64  `json:"seq"`
	Code     string `json:"code"`
	Message  *struct {
		Text string `json:"text"`
	} `json:"message"`
}

func (p *outagePeer) onChat(b []byte) {
	now := time.Now()
	var pk outagePacket
	if json.Unmarshal(b, &pk) != nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	switch pk.Type {
	case "message":
		if pk.Message != nil {
			if _, ok := p.messages[pk.Message.Text]; !ok {
				p.messages[pk.Message.Text] = now
			}
		}
	case "ack":
		p.acks[pk.ClientID] = append(p.acks[pk.ClientID], ackSeen{now, pk.ID, pk.Seq})
	case "error":
		p.errors = append(p.errors, string(b))
	}
}

func (p *outagePeer) seen(text string) (time.Time, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	at, ok := p.messages[text]
	return at, ok
}

func (p *outagePeer) ack(clientID string) []ackSeen {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]ackSeen(nil), p.acks[clientID]...)
}

type sentMsg struct {
	from     *outagePeer
	clientID string
	at       time.Time
	during   bool // sent while the database was cut off
}

func TestPostgresOutageMidMeeting(t *testing.T) {
	dsn, proxy, proxied := proxiedPostgres(t)
	logs := &countingHandler{counts: map[string]int{}}
	a := startServer(t, nil, func(c *app.Config) {
		c.Database = proxied
		c.Logger = slog.New(logs)
	})

	room := "outage"
	var peers []*outagePeer
	for _, id := range []string{"alice", "bob", "carol"} {
		p := &outagePeer{id: id, messages: map[string]time.Time{}, acks: map[string][]ackSeen{}}
		p.c = join(t, a, room, id, client.Options{OnChat: p.onChat})
		peers = append(peers, p)
	}
	var sent []sentMsg
	send := func(p *outagePeer, during bool) {
		t.Helper()
		cid := fmt.Sprintf("%s-%d", p.id, len(sent))
		pk, _ := json.Marshal(map[string]string{"type": "chat", "clientId": cid, "text": cid})
		if err := p.c.SendChat(pk); err != nil {
			t.Fatalf("send %s: %v", cid, err)
		}
		sent = append(sent, sentMsg{from: p, clientID: cid, at: time.Now(), during: during})
	}
	waitAcked := func(d time.Duration, msgs []sentMsg) {
		t.Helper()
		eventually(t, d, "every message acked", func() bool {
			for _, m := range msgs {
				if len(m.from.ack(m.clientID)) == 0 {
					return false
				}
			}
			return true
		})
	}

	// Before: a normal meeting.
	for i := range 6 {
		send(peers[i%3], false)
	}
	waitAcked(15*time.Second, sent)
	before := len(sent)

	// The outage: half refused, half blackholed. Every participant keeps
	// talking, one message every 300 ms among the three (well under the
	// rate limit).
	outage := *pgOutage
	cutAt := time.Now()
	proxy.cut()
	hung := false
	retriedCID, retriedBy := "", peers[0]
	for i := 0; time.Since(cutAt) < outage; i++ {
		if !hung && time.Since(cutAt) >= outage/2 {
			proxy.hang()
			hung = true
		}
		p := peers[i%3]
		send(p, true)
		if i == 4 {
			// A client that times out waiting for its ack retries with
			// the same clientId: nothing new may be created.
			retriedCID, retriedBy = sent[len(sent)-1].clientID, p
			pk, _ := json.Marshal(map[string]string{"type": "chat", "clientId": retriedCID, "text": retriedCID})
			if err := p.c.SendChat(pk); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(300 * time.Millisecond)
	}
	// Live delivery during the outage: every message reached the two
	// other participants, in real time.
	var lat []time.Duration
	for _, m := range sent[before:] {
		for _, p := range peers {
			if p == m.from {
				continue
			}
			var at time.Time
			eventually(t, 10*time.Second, "live delivery of "+m.clientID+" to "+p.id, func() bool {
				var ok bool
				at, ok = p.seen(m.clientID)
				return ok
			})
			lat = append(lat, at.Sub(m.at))
		}
	}
	restoredAt := time.Now()
	proxy.restore()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	p50, maxLat := lat[len(lat)/2], lat[len(lat)-1]
	if maxLat > 3*time.Second {
		t.Errorf("delivery during the outage took up to %v (p50 %v): not real time", maxLat, p50)
	}

	// Acks: none before the database was back, all after.
	waitAcked(60*time.Second, sent)
	lastAck := time.Time{}
	for _, m := range sent[before:] {
		acks := m.from.ack(m.clientID)
		for _, ak := range acks {
			if ak.at.Before(restoredAt) {
				t.Errorf("%s acked %v before the database came back", m.clientID, restoredAt.Sub(ak.at))
			}
			if ak.at.After(lastAck) {
				lastAck = ak.at
			}
			if ak.id != acks[0].id || ak.seq != acks[0].seq {
				t.Errorf("%s acked twice with different messages: %+v", m.clientID, acks)
			}
		}
	}
	// The meeting goes on normally afterwards.
	after := len(sent)
	for i := range 3 {
		send(peers[i], false)
	}
	waitAcked(15*time.Second, sent[after:])

	// Nobody was told anything but acks: no error storm, no unavailable.
	errPackets := 0
	for _, p := range peers {
		p.mu.Lock()
		errPackets += len(p.errors)
		if len(p.errors) > 0 {
			t.Errorf("%s received %d error packets, e.g. %s", p.id, len(p.errors), p.errors[0])
		}
		p.mu.Unlock()
	}
	// The retried clientId: one message event, same id in every ack.
	if acks := retriedBy.ack(retriedCID); retriedCID != "" && len(acks) > 0 {
		for _, ak := range acks {
			if ak.id != acks[0].id {
				t.Errorf("retry of %s acked as a different message: %+v", retriedCID, acks)
			}
		}
	}

	// The database, read directly (not through the proxy): every acked
	// message exactly once, with the acked id and seq.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	db, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(context.Background())
	rows, err := db.Query(ctx, `SELECT id, seq, sender, client_id FROM messages WHERE room = $1`, room)
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		id  string
		seq int64
	}
	stored := map[string][]row{}
	n := 0
	for rows.Next() {
		var r row
		var sender, cid string
		if err := rows.Scan(&r.id, &r.seq, &sender, &cid); err != nil {
			t.Fatal(err)
		}
		stored[sender+"/"+cid] = append(stored[sender+"/"+cid], r)
		n++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if n != len(sent) {
		t.Errorf("%d rows in the database, %d messages sent", n, len(sent))
	}
	for _, m := range sent {
		got := stored[m.from.id+"/"+m.clientID]
		ak := m.from.ack(m.clientID)[0]
		switch {
		case len(got) != 1:
			t.Errorf("%s stored %d times", m.clientID, len(got))
		case got[0].id != ak.id || got[0].seq != ak.seq:
			t.Errorf("%s stored as %+v, acked as %+v", m.clientID, got[0], ak)
		}
	}

	counts, warns := logs.snapshot()
	var logLines []string
	for k, v := range counts {
		if strings.HasPrefix(k, "recorder:") || strings.HasPrefix(k, "chat:") {
			logLines = append(logLines, fmt.Sprintf("%q×%d", k, v))
		}
	}
	sort.Strings(logLines)
	ws := a.Recorder.WriterStats()
	t.Logf("PostgreSQL cut off for %v (refused %v, then blackholed): %d messages sent during it, "+
		"delivered live to the 2 others in p50 %v / max %v; 0 acks before the restore, "+
		"the last ack %v after it; %d error packets; %d rows stored for %d messages sent, none duplicated; "+
		"writer: %d retries, %d failed; %d server log lines at warn or above: %s",
		outage, outage/2, after-before, p50.Round(time.Millisecond), maxLat.Round(time.Millisecond),
		lastAck.Sub(restoredAt).Round(time.Millisecond), errPackets, n, len(sent), ws.Retries, ws.Failed, warns,
		strings.Join(logLines, ", "))
	if ws.Failed != 0 {
		t.Errorf("the writer failed %d changes", ws.Failed)
	}
}
