package app_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/backchannel-rtc/backchannel/client"
	"github.com/backchannel-rtc/backchannel/internal/app"
)

// TestICETCPFallback: a client that cannot use UDP at all connects through
// the server's ICE-TCP port and chats.
func TestICETCPFallback(t *testing.T) {
	a := startServer(t, newRelay(), func(c *app.Config) { c.RTC.TCPAddr = "127.0.0.1:0" })
	var in inbox
	join(t, a, "tcp", "udp-user", client.Options{OnChat: in.add})
	tcpUser := join(t, a, "tcp", "tcp-user", client.Options{TCPOnly: true})
	for i := range 20 {
		if err := tcpUser.SendChat(fmt.Appendf(nil, "over-tcp-%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, 10*time.Second, "messages sent over ICE-TCP arrive", func() bool { return in.len() == 20 })
}
