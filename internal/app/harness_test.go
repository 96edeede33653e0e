package app_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/backchannel-rtc/backchannel/chat"
	"github.com/backchannel-rtc/backchannel/client"
	"github.com/backchannel-rtc/backchannel/internal/app"
	"github.com/backchannel-rtc/backchannel/sfu"
)

// startServer runs a real server in-process on loopback ports.
func startServer(t testing.TB, svc chat.Service, tweak func(*app.Config)) *app.App {
	t.Helper()
	cfg := app.Config{
		Addr: "127.0.0.1:0", DataDir: t.TempDir(), APIKey: "testkey", APISecret: "testsecret-0123456789",
		RTC:    sfu.Config{UDPAddr: "127.0.0.1:0", LoopbackOnly: true},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	if svc != nil {
		cfg.Chat = svc
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

// join connects one Go client to room as identity.
func join(t testing.TB, a *app.App, room, identity string, opts client.Options) *client.Client {
	t.Helper()
	tok, err := a.Token(room, identity, "Name of "+identity, false)
	if err != nil {
		t.Fatal(err)
	}
	opts.LoopbackOnly = true
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	c, err := client.Join(ctx, a.URL(), tok, opts)
	if err != nil {
		t.Fatalf("join %s: %v", identity, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// eventually polls cond until it holds or d passes.
func eventually(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
