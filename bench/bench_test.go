package bench

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/backchannel-rtc/backchannel/chat"
	"github.com/backchannel-rtc/backchannel/internal/app"
	"github.com/backchannel-rtc/backchannel/sfu"
)

const (
	testKey    = "benchkey"
	testSecret = "benchsecret-0123456789"
)

// startServer runs a real server in-process on loopback, without a chat
// rate limit (as the scenarios need).
func startServer(t testing.TB, tweak func(*app.Config)) *app.App {
	t.Helper()
	ccfg := chat.DefaultConfig()
	ccfg.Rate, ccfg.RoomRate = 0, 0 // no per-connection or per-room limit, as `serve --chat-rate 0`
	cfg := app.Config{
		Addr: "127.0.0.1:0", DataDir: t.TempDir(), APIKey: testKey, APISecret: testSecret,
		RTC:        sfu.Config{UDPAddr: "127.0.0.1:0", LoopbackOnly: true},
		ChatConfig: &ccfg,
		Logger:     slog.New(slog.NewTextHandler(io.Discard, nil)),
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

func runTiny(t *testing.T, a *app.App, cfg Config) *Result {
	t.Helper()
	cfg.URL, cfg.APIKey, cfg.APISecret = a.URL(), testKey, testSecret
	cfg.Logf = t.Logf
	// A loaded machine (make test runs packages in parallel, with -race)
	// may stall for a while: do not take a pause for the end of the drain.
	if cfg.Quiet == 0 {
		cfg.Quiet = 5 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("sent %d expected %d received %d recovered %d lost %d dups %d leaked %d p50 %.2f ms p99 %.2f ms",
		res.Sent, res.Expected, res.Received, res.Recovered, res.Lost, res.Duplicates, res.Leaked, res.LatencyMS.P50, res.LatencyMS.P99)
	if res.Lost != 0 || res.Duplicates != 0 || res.Leaked != 0 {
		t.Errorf("lost %d, duplicates %d, leaked %d; want 0", res.Lost, res.Duplicates, res.Leaked)
	}
	if res.Sent == 0 {
		t.Fatal("nothing sent")
	}
	// A queue overflow drops acks and echoes too (the sender then learns
	// of the gap through resync); without one, none may be missing.
	if (res.Resyncs == 0 && (res.AcksMissing != 0 || res.EchoesMissing != 0)) || res.Disconnected != 0 || res.SendErrors != 0 {
		t.Errorf("acks missing %d, echoes missing %d, disconnected %d, send errors %d",
			res.AcksMissing, res.EchoesMissing, res.Disconnected, res.SendErrors)
	}
	return res
}

func TestTinyGroup(t *testing.T) {
	t.Parallel() // light: each has its own server
	a := startServer(t, nil)
	res := runTiny(t, a, Config{Room: "g", N: 3, Rate: 20, Duration: time.Second})
	// 3 senders at 20/s for 1 s: every message is promised to the 2 others.
	if res.Sent < 50 || res.Sent > 61 {
		t.Errorf("sent %d, want about 60", res.Sent)
	}
	if res.Expected != 2*res.Sent {
		t.Errorf("expected %d, want sent × (n−1) = %d", res.Expected, 2*res.Sent)
	}
	if res.Received != res.Expected || res.Recovered != 0 {
		t.Errorf("received %d (+%d from history), want %d in real time", res.Received, res.Recovered, res.Expected)
	}
	if res.Echoes < res.Sent {
		t.Errorf("senders saw %d of their %d messages", res.Echoes, res.Sent)
	}
}

func TestTinyPrivate(t *testing.T) {
	t.Parallel() // light: each has its own server
	a := startServer(t, nil)
	res := runTiny(t, a, Config{Room: "p", N: 3, Rate: 20, Duration: time.Second, Private: true})
	// One destination per message; the third participant must see nothing.
	if res.Expected != res.Sent {
		t.Errorf("expected %d, want one per message = %d", res.Expected, res.Sent)
	}
	if res.Received != res.Expected {
		t.Errorf("received %d, want %d", res.Received, res.Expected)
	}
}

// TestTinySlowRecovers: a slow receiver whose (deliberately tiny) server
// queue overflows is sent a resync, pages history, and ends with every
// message; the others are not held back.
func TestTinySlowRecovers(t *testing.T) {
	// The client's SCTP receive window (1 MiB) absorbs a lot: send 2 KB
	// texts, and give the server a small queue and high-water mark.
	a := startServer(t, func(c *app.Config) { c.RTC.QueueLen, c.RTC.HighWater = 64, 64<<10 })
	res := runTiny(t, a, Config{Room: "s", N: 3, Senders: 2, Rate: 300, Size: 2000, Duration: 1200 * time.Millisecond, Slow: 1,
		Quiet: 1500 * time.Millisecond}) // the overflowed messages never come in real time
	s := res.Slow
	if s == nil {
		t.Fatal("no slow receiver report")
	}
	t.Logf("slow: expected %d received %d recovered %d lost %d resyncs %d", s.Expected, s.Received, s.Recovered, s.Lost, s.Resyncs)
	if s.Resyncs == 0 || s.Recovered == 0 {
		t.Errorf("the slow receiver's queue should have overflowed and been recovered (resyncs %d, recovered %d)", s.Resyncs, s.Recovered)
	}
	if s.Lost != 0 || s.Duplicates != 0 {
		t.Errorf("slow receiver: lost %d, duplicates %d", s.Lost, s.Duplicates)
	}
	// Senders 0 and 1 send to each other and to the slow participant 2.
	if s.Expected != res.Sent || res.Expected != res.Sent {
		t.Errorf("expected %d (others) + %d (slow), sent %d: want sent each", res.Expected, s.Expected, res.Sent)
	}
}

func TestParseText(t *testing.T) {
	b := appendText(nil, phaseMeasured, 12, 345, 1795000000123456789, -1, 200)
	if len(b) != 200 {
		t.Fatalf("len %d", len(b))
	}
	st, ok := parseText(b)
	if !ok || st.sender != 12 || st.k != 345 || st.sentNs != 1795000000123456789 || st.dest != -1 || st.phase != phaseMeasured {
		t.Fatalf("%+v %v", st, ok)
	}
	b = appendText(nil, phaseWarm, 1, 0, 5, 7, 0)
	if st, ok = parseText(b); !ok || st.dest != 7 || st.phase != phaseWarm {
		t.Fatalf("%+v %v", st, ok)
	}
	for _, bad := range []string{"", "bc1.", "bc1.m.1.2.3", "bc1.z.1.2.3.g.", "hello"} {
		if _, ok := parseText([]byte(bad)); ok {
			t.Errorf("%q parsed", bad)
		}
	}
	ev := []byte(`{"type":"message","message":{"id":"01J0000000000000000000000","seq":42,"sender":"a","senderName":"A","kind":"text","text":"` + string(b) + `","createdAt":"2026-01-01T00:00:00Z"}}`)
	seq, text, ok := fastMessage(ev)
	if !ok || seq != 42 || string(text) != string(b) {
		t.Fatalf("fastMessage: %d %q %v", seq, text, ok)
	}
	cid, seq, ok := fastAck([]byte(`{"type":"ack","clientId":"m17","id":"x","seq":9,"createdAt":"2026-01-01T00:00:00Z"}`))
	if !ok || string(cid) != "m17" || seq != 9 {
		t.Fatalf("fastAck: %q %d %v", cid, seq, ok)
	}
}

func TestLoopbackOnly(t *testing.T) {
	for _, u := range []string{"ws://10.0.0.1:7880", "ws://example.org:7880", "ws://localhost:7880", "ws://0.0.0.0:7880"} {
		if err := checkLoopback(u); err == nil {
			t.Errorf("%s accepted", u)
		}
	}
	for _, u := range []string{"ws://127.0.0.1:7880", "http://127.0.0.1:1/", "ws://[::1]:7880"} {
		if err := checkLoopback(u); err != nil {
			t.Errorf("%s refused: %v", u, err)
		}
	}
}
