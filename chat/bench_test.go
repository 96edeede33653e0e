package chat

import (
	"context"
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/backchannel-rtc/backchannel/auth"
)

// nullStore acknowledges every write at once and keeps nothing, so the
// benchmarks measure chat itself.
type nullStore struct{}

func (nullStore) LastSeq(context.Context, string) (int64, error) { return 0, nil }
func (nullStore) Write(_ Change, done func(error)) {
	if done != nil {
		done(nil)
	}
}
func (nullStore) History(context.Context, string, string, int64, int) ([]Message, error) {
	return nil, nil
}
func (nullStore) Pinned(context.Context, string, string) ([]Message, error) { return nil, nil }
func (nullStore) Message(context.Context, string, string) (*Message, error) {
	return nil, ErrNotFound
}
func (nullStore) ByClientID(context.Context, string, string, string) (*Message, error) {
	return nil, ErrNotFound
}
func (nullStore) Attachment(context.Context, string, string) (*Attachment, error) {
	return nil, ErrNotFound
}
func (nullStore) Muted(context.Context, string) ([]string, error) { return nil, nil }

// sinkConn counts bytes like a transport queue would, without keeping them.
type sinkConn struct {
	id    string
	who   auth.Identity
	bytes atomic.Int64
	last  []byte
}

func (c *sinkConn) ID() string         { return c.id }
func (c *sinkConn) Who() auth.Identity { return c.who }
func (c *sinkConn) Close(string)       {}
func (c *sinkConn) Send(b []byte) bool {
	c.bytes.Add(int64(len(b)))
	c.last = b
	return true
}

func benchRoom(b *testing.B, n int) (*Server, []*sinkConn, []Session) {
	cfg := DefaultConfig()
	cfg.Rate = 0
	srv := NewServer(nullStore{}, cfg, quietLogger())
	b.Cleanup(func() { _ = srv.Close(context.Background()) })
	conns := make([]*sinkConn, n)
	sess := make([]Session, n)
	for i := range conns {
		conns[i] = &sinkConn{id: fmt.Sprint("c", i), who: auth.Identity{Identity: fmt.Sprint("u", i), Grant: auth.VideoGrant{RoomJoin: true}}}
		sess[i] = srv.Attach("bench", conns[i])
	}
	return srv, conns, sess
}

// packetsFor pre-builds the packets so that building them is not measured.
func packetsFor(b *testing.B, format string) [][]byte {
	out := make([][]byte, b.N)
	for i := range out {
		out[i] = []byte(fmt.Sprintf(format, strconv.Itoa(i)))
	}
	return out
}

// BenchmarkGroupMessage: parse, validate, assign, marshal once, fan out to
// every connection, write, ack.
func BenchmarkGroupMessage(b *testing.B) {
	for _, n := range []int{10, 100} {
		b.Run(fmt.Sprintf("conns=%d", n), func(b *testing.B) {
			srv, _, sess := benchRoom(b, n)
			pkts := packetsFor(b, `{"type":"chat","clientId":"k%s","text":"hello there, this is a chat message of ordinary length"}`)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				sess[i%n].Receive(pkts[i])
			}
			b.StopTimer()
			st := srv.Stats()
			b.ReportMetric(float64(st.Deliveries)/float64(b.N), "deliveries/op")
		})
	}
}

// BenchmarkPrivateMessage: a private message among 100 connections goes to
// two of them (sender and destination).
func BenchmarkPrivateMessage(b *testing.B) {
	_, _, sess := benchRoom(b, 100)
	pkts := packetsFor(b, `{"type":"chat","clientId":"k%s","text":"psst","to":["u7"]}`)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		sess[0].Receive(pkts[i])
	}
}

// BenchmarkReaction: a reaction toggled on a recent message, fanned out to
// 100 connections.
func BenchmarkReaction(b *testing.B) {
	_, conns, sess := benchRoom(b, 100)
	sess[0].Receive([]byte(`{"type":"chat","clientId":"x","text":"react"}`))
	id := decode(b, conns[0].last)["id"].(string)
	on := []byte(`{"type":"reaction","id":"` + id + `","emoji":"👍","on":true}`)
	off := []byte(`{"type":"reaction","id":"` + id + `","emoji":"👍","on":false}`)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i%2 == 0 {
			sess[1].Receive(on)
		} else {
			sess[1].Receive(off)
		}
	}
}

// BenchmarkParse: the parser alone.
func BenchmarkParse(b *testing.B) {
	cfg := DefaultConfig()
	pkt := []byte(`{"type":"chat","clientId":"k1","text":"hello there, this is a chat message of ordinary length","to":["bob"]}`)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, e := parse(pkt, &cfg); e != nil {
			b.Fatal(e)
		}
	}
}
