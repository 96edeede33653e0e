package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/backchannel-rtc/backchannel/client"
	"github.com/backchannel-rtc/backchannel/internal/app"
	"github.com/backchannel-rtc/backchannel/protocol"
	"github.com/backchannel-rtc/backchannel/sfu"
)

// The bot runs against a real server (chat service and SQLite store, real
// Pion peers on loopback): a participant's "!ping" is answered with a
// "pong" replying to it, a private ping privately, and the bot ends when
// its context does.
func TestEchobotAnswersPing(t *testing.T) {
	a, err := app.New(app.Config{
		Addr: "127.0.0.1:0", DataDir: t.TempDir(), APIKey: "testkey", APISecret: "testsecret-0123456789",
		RTC:    sfu.Config{UDPAddr: "127.0.0.1:0", LoopbackOnly: true},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	a.Serve()
	defer a.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	events := make(chan []byte, 256)
	aliceTok, _ := a.Token("lobby", "alice", "Alice", false)
	alice, err := client.Join(ctx, a.URL(), aliceTok, client.Options{LoopbackOnly: true,
		OnChat: func(b []byte) { events <- b }})
	if err != nil {
		t.Fatal(err)
	}
	defer alice.Close()
	// next returns alice's next chat packet of type typ.
	next := func(typ string, v any) {
		t.Helper()
		for {
			select {
			case b := <-events:
				var h protocol.Head
				if json.Unmarshal(b, &h) == nil && h.Type == typ {
					if err := json.Unmarshal(b, v); err != nil {
						t.Fatal(err)
					}
					return
				}
			case <-ctx.Done():
				t.Fatalf("no %s packet", typ)
			}
		}
	}

	botTok, _ := a.Token("lobby", "echobot", "Echo", false)
	botCtx, stopBot := context.WithCancel(ctx)
	botErr := make(chan error, 1)
	go func() { botErr <- run(botCtx, a.URL(), botTok, client.Options{LoopbackOnly: true}) }()
	var joined protocol.JoinedEvent
	next(protocol.EventJoined, &joined)
	if joined.Participant.Identity != "echobot" {
		t.Fatalf("joined %+v", joined)
	}

	for i, ping := range []protocol.Request{
		protocol.ChatRequest("p1", "!ping"),
		protocol.ChatRequest("p2", "!ping", "echobot"),
	} {
		b, _ := json.Marshal(ping)
		if err := alice.SendChat(b); err != nil {
			t.Fatal(err)
		}
		var mine, pong protocol.MessageEvent
		next(protocol.EventMessage, &mine)
		next(protocol.EventMessage, &pong)
		m := pong.Message
		if m.Sender != "echobot" || m.Text != "pong" || m.ReplyTo != mine.Message.ID {
			t.Fatalf("ping %d answered with %+v", i, m)
		}
		if private := i == 1; private != (len(m.To) == 1 && m.To[0] == "alice") {
			t.Fatalf("ping %d (private: %v) answered to %v", i, private, m.To)
		}
	}
	stopBot()
	select {
	case err := <-botErr:
		if err != nil {
			t.Fatalf("bot: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the bot did not stop with its context")
	}
}
