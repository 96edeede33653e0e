package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/backchannel-rtc/backchannel/auth"
	"github.com/backchannel-rtc/backchannel/client"
	"github.com/backchannel-rtc/backchannel/internal/app"
	"github.com/backchannel-rtc/backchannel/protocol"
	"github.com/backchannel-rtc/backchannel/sfu"
)

// Test leases are short so that failovers take seconds, not tens.
const (
	testTTL   = 2 * time.Second
	testRenew = 400 * time.Millisecond
)

// freeAddr returns a loopback address nobody listens on (a node must
// know its URL before it starts).
func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// startNode runs one cluster node in-process on dsn.
func startNode(t testing.TB, dsn string, tweak func(*app.Config)) *app.App {
	t.Helper()
	addr := freeAddr(t)
	cfg := app.Config{
		Addr: addr, DataDir: t.TempDir(), Database: dsn, APIKey: "testkey", APISecret: "testsecret-0123456789",
		RTC:     sfu.Config{UDPAddr: "127.0.0.1:0", LoopbackOnly: true},
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
		Cluster: app.ClusterConfig{NodeURL: "http://" + addr, LeaseTTL: testTTL, LeaseRenew: testRenew},
	}
	if tweak != nil {
		tweak(&cfg)
	}
	a, err := app.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	a.Serve()
	t.Cleanup(func() { _ = a.Close() })
	return a
}

// peer is a reconnecting Go client that records what it is told.
type peer struct {
	id string
	s  *client.Session

	mu      sync.Mutex
	acks    map[string]protocol.AckEvent // by clientId
	texts   map[string]int               // message texts seen live, how often
	history map[string]bool              // message texts seen in history
	errors  []string
}

func (p *peer) onChat(b []byte) {
	var h protocol.Head
	if json.Unmarshal(b, &h) != nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	switch h.Type {
	case protocol.EventAck:
		var a protocol.AckEvent
		if json.Unmarshal(b, &a) == nil {
			p.acks[a.ClientID] = a
		}
	case protocol.EventMessage:
		var m protocol.MessageEvent
		if json.Unmarshal(b, &m) == nil && m.Message != nil {
			p.texts[m.Message.Text]++
		}
	case "history":
		var hist protocol.HistoryEvent
		if json.Unmarshal(b, &hist) == nil {
			for _, m := range hist.Messages {
				p.history[m.Text] = true
			}
		}
	case protocol.EventError:
		p.errors = append(p.errors, string(b))
	}
}

func (p *peer) acked(clientID string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, ok := p.acks[clientID]
	return ok
}

// saw reports whether the peer was shown text, live or in history.
func (p *peer) saw(text string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.texts[text] > 0 || p.history[text]
}

// say sends a group message (or a private one to `to`) whose text is its
// clientId.
func (p *peer) say(t testing.TB, clientID string, to ...string) {
	t.Helper()
	pk := map[string]any{"type": "chat", "clientId": clientID, "text": clientID}
	if len(to) > 0 {
		pk["to"] = to
	}
	b, _ := json.Marshal(pk)
	if err := p.s.SendChat(b); err != nil {
		t.Fatalf("%s send: %v", p.id, err)
	}
}

// landed is the node the peer's current connection is on ("" while
// reconnecting).
func (p *peer) landed() string {
	if c := p.s.Client(); c != nil {
		return c.Joined.Node
	}
	return ""
}

// dialPeerRetrying is dialPeer for a join that may be refused for a
// while (a placement that cannot be made during a database outage): it
// tries again until it gets in or d passes.
func dialPeerRetrying(t testing.TB, keys auth.KeyProvider, entry, room, identity string, d time.Duration) (*peer, error) {
	tok, err := keys.Mint(auth.TokenOptions{Identity: identity, Name: identity, TTL: time.Hour,
		Grant: auth.VideoGrant{Room: room, RoomJoin: true}})
	if err != nil {
		return nil, err
	}
	p := &peer{id: identity, acks: map[string]protocol.AckEvent{}, texts: map[string]int{}, history: map[string]bool{}}
	deadline := time.Now().Add(d)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		s, err := client.Dial(ctx, entry, tok, client.Options{LoopbackOnly: true, OnChat: p.onChat})
		cancel()
		if err == nil {
			p.s = s
			t.Cleanup(func() { _ = s.Close() })
			return p, nil
		}
		if time.Now().After(deadline) {
			return nil, err
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// dialPeer joins room through entry (a node's URL) with a reconnecting
// session: after a failover it reconnects through entry again.
func dialPeer(t testing.TB, keys auth.KeyProvider, entry, room, identity string) *peer {
	t.Helper()
	tok, err := keys.Mint(auth.TokenOptions{Identity: identity, Name: identity, TTL: time.Hour,
		Grant: auth.VideoGrant{Room: room, RoomJoin: true}})
	if err != nil {
		t.Fatal(err)
	}
	p := &peer{id: identity, acks: map[string]protocol.AckEvent{}, texts: map[string]int{}, history: map[string]bool{}}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := client.Dial(ctx, entry, tok, client.Options{LoopbackOnly: true, OnChat: p.onChat})
	if err != nil {
		t.Fatalf("join %s via %s: %v", identity, entry, err)
	}
	p.s = s
	t.Cleanup(func() { _ = s.Close() })
	return p
}

// storedRow is a message as PostgreSQL has it.
type storedRow struct {
	seq, epoch int64
	clientID   string
	created    time.Time
}

func storedMessages(t testing.TB, dsn, room string) []storedRow {
	t.Helper()
	var out []storedRow
	withPG(t, dsn, func(ctx context.Context, conn *pgx.Conn) error {
		rows, err := conn.Query(ctx, `SELECT seq, epoch, client_id, created_at FROM messages WHERE room = $1 ORDER BY seq`, room)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var r storedRow
			if err := rows.Scan(&r.seq, &r.epoch, &r.clientID, &r.created); err != nil {
				return err
			}
			out = append(out, r)
		}
		return rows.Err()
	})
	return out
}

// withPG runs f on a connection of its own to dsn, failing t on error.
func withPG(t testing.TB, dsn string, f func(ctx context.Context, conn *pgx.Conn) error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if err := f(ctx, conn); err != nil {
		t.Fatal(err)
	}
}

// checkStored asserts the room's stored messages: seq dense from 1, each
// clientId once, epochs never going back.
func checkStored(t testing.TB, rows []storedRow) map[string]storedRow {
	t.Helper()
	byClient := map[string]storedRow{}
	for i, r := range rows {
		if r.seq != int64(i+1) {
			t.Fatalf("seq %d at position %d: the room's seq has a gap or a repeat", r.seq, i+1)
		}
		if _, dup := byClient[r.clientID]; dup {
			t.Fatalf("clientId %s stored twice", r.clientID)
		}
		byClient[r.clientID] = r
		if i > 0 && r.epoch < rows[i-1].epoch {
			t.Fatalf("seq %d written at epoch %d after seq %d at epoch %d: a stale write", r.seq, r.epoch, rows[i-1].seq, rows[i-1].epoch)
		}
	}
	return byClient
}

// lease reads a room's lease row.
func leaseOf(t testing.TB, dsn, room string) (node string, epoch int64) {
	t.Helper()
	withPG(t, dsn, func(ctx context.Context, conn *pgx.Conn) error {
		return conn.QueryRow(ctx, `SELECT node_id, epoch FROM room_leases WHERE room = $1`, room).Scan(&node, &epoch)
	})
	return node, epoch
}

func nodeOf(nodes []*app.App, url string) *app.App {
	for _, n := range nodes {
		if n.Node.URL() == url {
			return n
		}
	}
	return nil
}

func cid(prefix string, i int) string { return fmt.Sprintf("%s-%03d", prefix, i) }
