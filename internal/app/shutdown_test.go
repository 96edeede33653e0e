package app_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/backchannel-rtc/backchannel/client"
	"github.com/backchannel-rtc/backchannel/internal/app"
	"github.com/backchannel-rtc/backchannel/protocol"
)

// TestJoinedCarriesICEServersAndShutdownTellsEveryone: the STUN/TURN list
// is handed to clients in `joined`, and a graceful shutdown tells every
// participant why before closing its peers; a socket that has not joined
// yet is told too, and Close returns once the close frames are out.
func TestJoinedCarriesICEServersAndShutdownTellsEveryone(t *testing.T) {
	ice := app.ICEServers([]string{"stun:stun.example.org:3478"}, []string{"turn:turn.example.org:3478?transport=udp"}, "user", "pass")
	a := startServer(t, newRelay(), func(c *app.Config) { c.RTC.ICEServers = ice })
	c1 := join(t, a, "bye", "alice", client.Options{})
	c2 := join(t, a, "bye", "bob", client.Options{})

	got := c1.Joined.ICEServers
	if len(got) != 2 || got[0].URLs[0] != "stun:stun.example.org:3478" ||
		got[1].Username != "user" || got[1].Credential != "pass" {
		t.Fatalf("iceServers in joined: %+v", got)
	}

	early := dialAs(t, a, "bye", "carol")

	// The socket not joined yet reads its leave and the close frame, then
	// closes its end, as a client should.
	read := make(chan error, 1)
	go func() {
		defer early.Close()
		_ = early.SetReadDeadline(time.Now().Add(5 * time.Second))
		var leave protocol.Signal
		if err := early.ReadJSON(&leave); err != nil || leave.Type != protocol.SignalLeave || leave.Reason != protocol.ReasonShutdown {
			read <- fmt.Errorf("a socket not joined yet read %+v, %v; want leave (%q)", leave, err, protocol.ReasonShutdown)
			return
		}
		var ce *websocket.CloseError
		if _, _, err := early.ReadMessage(); !errors.As(err, &ce) || ce.Code != websocket.CloseNormalClosure {
			read <- fmt.Errorf("then %v; want a normal close", err)
			return
		}
		read <- nil
	}()
	start := time.Now()
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-read; err != nil {
		t.Fatal(err)
	}
	// Every client closed its end at once, so the server's lingering close
	// (up to 2 s for a client that does not) did not hold the shutdown.
	if d := time.Since(start); d > 1500*time.Millisecond {
		t.Errorf("the shutdown took %v", d)
	}
	for _, c := range []*client.Client{c1, c2} {
		select {
		case <-c.Done():
		case <-time.After(5 * time.Second):
			t.Fatalf("%s was not disconnected by the shutdown", c.Identity())
		}
		if c.Reason() != "server shutting down" {
			t.Fatalf("%s was told %q", c.Identity(), c.Reason())
		}
	}
}
