package web_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/backchannel-rtc/backchannel/client"
	"github.com/backchannel-rtc/backchannel/internal/app"
	"github.com/backchannel-rtc/backchannel/recorder/recordertest"
	"github.com/backchannel-rtc/backchannel/sfu"
)

// startClusterNode runs one cluster node in-process, in --dev, on dsn.
func startClusterNode(t *testing.T, dsn string) *app.App {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	a, err := app.New(app.Config{
		Addr: addr, DataDir: t.TempDir(), Database: dsn, APIKey: "k", APISecret: "s-long-secret", Dev: true,
		RTC:     sfu.Config{UDPAddr: "127.0.0.1:0", LoopbackOnly: true},
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
		Cluster: app.ClusterConfig{NodeURL: "http://" + addr, LeaseTTL: 2 * time.Second, LeaseRenew: 400 * time.Millisecond},
	})
	if err != nil {
		t.Fatal(err)
	}
	a.Serve()
	t.Cleanup(func() { _ = a.Close() })
	return a
}

// TestClusterPageFollowsTheRoom: two cluster nodes. The room lives on
// the first; two people open the second node's page and are redirected
// to the first (a page of one node talking to another: its origin is
// allowed), and chat. The first node is then shut down (a drain): both
// pages reconnect through the node they came from, land on it, keep
// their messages, and chat on.
func TestClusterPageFollowsTheRoom(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	dsn := recordertest.Postgres(t)
	host, entry := startClusterNode(t, dsn), startClusterNode(t, dsn)
	room := "cluster-page"
	// A first participant through the host places the room there.
	tok, err := host.Token(room, "placer", "Placer", false)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	placer, err := client.Join(ctx, host.URL(), tok, client.Options{LoopbackOnly: true})
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	defer placer.Close()
	if placer.Joined.Node != host.Node.URL() {
		t.Fatalf("the room went to %s, not the node joined", placer.Joined.Node)
	}

	br := newBrowser(t)
	alice, bob := br.newTab(t, "alice", 1280, 800), br.newTab(t, "bob", 1280, 800)
	for _, p := range []struct {
		tb       *tab
		id, name string
	}{{alice, "alice", "Alice"}, {bob, "bob", "Bob"}} {
		tok, err := entry.Token(room, p.id, p.name, false)
		if err != nil {
			t.Fatal(err)
		}
		p.tb.do(chromedp.Navigate(entry.URL() + "/#token=" + tok + "&camera=off&mic=off"))
	}
	for _, tb := range []*tab{alice, bob} {
		tb.connected()
		if node := eval[string](tb, `bc.node`); node != host.Node.URL() {
			t.Fatalf("%s's page is on %q, the room on %s", tb.name, node, host.Node.URL())
		}
	}
	alice.send("before the handover")
	bob.waitJS("alice's message", msgEl("before the handover"), waitShort)

	_ = placer.Close()
	start := time.Now()
	if err := host.Close(); err != nil {
		t.Fatalf("drain: %v", err)
	}
	for _, tb := range []*tab{alice, bob} {
		tb.waitJS("reconnected on the other node", `bc.state === 'connected' && bc.chatOpen && bc.node === `+js(entry.Node.URL()), waitShort)
	}
	t.Logf("pages back on the other node %v after the drain began", time.Since(start).Round(time.Millisecond))
	bob.send("after the handover")
	for _, tb := range []*tab{alice, bob} {
		tb.waitJS("the message after the handover", msgEl("after the handover"), waitShort)
		tb.waitJS("the message before it kept", msgEl("before the handover"), waitShort)
	}
	for _, tb := range []*tab{alice, bob} {
		for _, p := range tb.problems() {
			t.Errorf("%s: %s", tb.name, p)
		}
	}
}
