package app_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/backchannel-rtc/backchannel/client"
	"github.com/backchannel-rtc/backchannel/cluster"
	"github.com/backchannel-rtc/backchannel/internal/app"
	"github.com/backchannel-rtc/backchannel/protocol"
	"github.com/backchannel-rtc/backchannel/recorder/recordertest"
	"github.com/backchannel-rtc/backchannel/sfu"
)

func nodeConfig(t *testing.T, dsn, url, secret string) app.Config {
	return app.Config{
		Addr: "127.0.0.1:0", DataDir: t.TempDir(), Database: dsn, APIKey: "testkey", APISecret: secret,
		RTC:     sfu.Config{UDPAddr: "127.0.0.1:0", LoopbackOnly: true},
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
		Cluster: app.ClusterConfig{NodeURL: url, LeaseTTL: testTTL, LeaseRenew: testRenew},
	}
}

// TestClusterStartRefusals: a node is refused at start-up, with a message
// that says what to fix, when another live node has its URL, when a live
// node has another API secret, on SQLite, and with a URL that is not one.
func TestClusterStartRefusals(t *testing.T) {
	dsn := recordertest.Postgres(t)
	first := startNode(t, dsn, nil)
	cases := []struct {
		name string
		cfg  app.Config
		want error
		says string
	}{
		{"same URL as a live node", nodeConfig(t, dsn, first.Node.URL(), "testsecret-0123456789"), cluster.ErrURLClaimed, "--node-url"},
		{"another API secret", nodeConfig(t, dsn, "http://"+freeAddr(t), "another-secret-0123456789"), cluster.ErrSecretDiffs, "--api-secret"},
		{"SQLite", nodeConfig(t, "", "http://"+freeAddr(t), "testsecret-0123456789"), app.ErrSQLiteCluster, "PostgreSQL"},
		{"not a URL", nodeConfig(t, dsn, "node-b:7880", "testsecret-0123456789"), cluster.ErrConfig, "--node-url"},
	}
	for _, c := range cases {
		a, err := app.New(c.cfg)
		if err == nil {
			a.Close()
			t.Fatalf("%s: the node started", c.name)
		}
		if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.says) {
			t.Fatalf("%s: %v; want %v mentioning %s", c.name, err, c.want, c.says)
		}
	}
	// The first node is unaffected and a correct second one starts.
	second := startNode(t, dsn, nil)
	p := dialPeer(t, second.Keys, second.URL(), "after", "alice")
	if p.landed() == "" {
		t.Fatal("no connection")
	}
}

// TestClientStopsRedirectLoops: a server that keeps redirecting (a broken
// deployment) gets a clear error after protocol.MaxRedirects hops, never
// an endless loop.
func TestClientStopsRedirectLoops(t *testing.T) {
	var hops atomic.Int32
	var srv *httptest.Server
	up := websocket.Upgrader{}
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer ws.Close()
		var m protocol.Signal
		if ws.ReadJSON(&m) != nil || m.Type != protocol.SignalJoin {
			return
		}
		hops.Add(1)
		_ = ws.WriteJSON(protocol.Signal{Type: protocol.SignalRedirect, URL: srv.URL})
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := client.Join(ctx, srv.URL, "token", client.Options{LoopbackOnly: true})
	if !errors.Is(err, client.ErrRedirectLoop) {
		t.Fatalf("join against a redirect loop: %v", err)
	}
	if hops.Load() != protocol.MaxRedirects+1 {
		t.Fatalf("%d joins, want the first and %d redirects", hops.Load(), protocol.MaxRedirects)
	}
}
