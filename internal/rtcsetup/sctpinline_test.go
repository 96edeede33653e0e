package rtcsetup

import (
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/logging"
	"github.com/pion/sctp"
)

// countingConn is a UDP socket connected to its peer, counting the
// packets written to it.
type countingConn struct {
	*net.UDPConn
	peer   *net.UDPAddr
	writes atomic.Int64
}

func (c *countingConn) Write(b []byte) (int, error) {
	n, err := c.WriteToUDP(b, c.peer)
	if err == nil {
		c.writes.Add(1)
	}
	return n, err
}

func (c *countingConn) Read(b []byte) (int, error) {
	n, _, err := c.ReadFromUDP(b)
	return n, err
}

func (c *countingConn) RemoteAddr() net.Addr { return c.peer }

// A tripwire on upstream Pion (docs/pion-upstream.md): WriteSCTP only
// queues a message and wakes the association's write loop, which sends it
// from its own goroutine; at chat rates that hand-off costs more than the
// send. The test asserts upstream's behaviour today (no message is on the
// wire when WriteSCTP returns) and fails, naming the saving, once an
// upgrade sends from the writer's goroutine when the association is idle.
func TestSCTPWritesFromTheWritersGoroutine(t *testing.T) {
	t.Parallel()
	listen := func() *net.UDPConn {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	ua, ub := listen(), listen()
	ca := &countingConn{UDPConn: ua, peer: ub.LocalAddr().(*net.UDPAddr)}
	cb := &countingConn{UDPConn: ub, peer: ua.LocalAddr().(*net.UDPAddr)}
	lf := logging.NewDefaultLoggerFactory()
	srv := make(chan *sctp.Association, 1)
	go func() {
		a, err := sctp.ServerWithOptions(sctp.WithNetConn(cb), sctp.WithLoggerFactory(lf))
		if err != nil {
			t.Error(err)
		}
		srv <- a
	}()
	client, err := sctp.ClientWithOptions(sctp.WithNetConn(ca), sctp.WithLoggerFactory(lf))
	if err != nil {
		t.Fatal(err)
	}
	server := <-srv
	if server == nil {
		t.FailNow()
	}
	t.Cleanup(func() {
		client.Close()
		server.Close()
		ua.Close()
		ub.Close()
	})
	stream, err := client.OpenStream(1, sctp.PayloadTypeWebRTCBinary)
	if err != nil {
		t.Fatal(err)
	}
	received := make(chan struct{}, 64)
	go func() {
		s, err := server.AcceptStream()
		if err != nil {
			return
		}
		buf := make([]byte, 4096)
		for {
			if _, _, err := s.ReadSCTP(buf); err != nil {
				return
			}
			received <- struct{}{}
		}
	}()

	msg := make([]byte, 200)
	const n = 50
	inline := 0
	for i := range n {
		before := ca.writes.Load()
		if _, err := stream.WriteSCTP(msg, sctp.PayloadTypeWebRTCBinary); err != nil {
			t.Fatal(err)
		}
		if ca.writes.Load() > before {
			inline++
		}
		select {
		case <-received:
		case <-time.After(5 * time.Second):
			t.Fatalf("message %d not received", i)
		}
		time.Sleep(5 * time.Millisecond) // let the SACK come back: the sender is idle again
	}
	t.Logf("%d of %d messages on the wire when WriteSCTP returned", inline, n)
	// The write loop may have sent by the time the counter is read, so a
	// few "inline" writes are scheduling luck, not a change upstream.
	if inline > n/2 {
		t.Errorf("%d of %d messages on the wire when WriteSCTP returned: upstream pion/sctp "+
			"now sends from the writer's goroutine (the write-loop hand-off is gone); "+
			"update docs/pion-upstream.md and this tripwire", inline, n)
	}
}
