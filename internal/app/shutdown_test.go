package app_test

import (
	"testing"
	"time"

	"github.com/backchannel-rtc/backchannel/client"
	"github.com/backchannel-rtc/backchannel/internal/app"
)

// TestJoinedCarriesICEServersAndShutdownTellsEveryone: the STUN/TURN list
// is handed to clients in `joined`, and a graceful shutdown tells every
// participant why before closing its peers.
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

	if err := a.Close(); err != nil {
		t.Fatal(err)
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
