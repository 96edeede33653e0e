package app_test

// No blocking under a room's lock (issue 25, section 3). Chat fans out
// under the room's lock by enqueueing one buffer per recipient; each
// recipient's writer goroutine does the I/O, and the store's Write never
// waits. So neither a recipient that stops reading nor a stalled database
// delays live delivery to anyone else.

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/backchannel-rtc/backchannel/chat"
	"github.com/backchannel-rtc/backchannel/client"
	"github.com/backchannel-rtc/backchannel/internal/app"
	"github.com/backchannel-rtc/backchannel/recorder"
	"github.com/backchannel-rtc/backchannel/recorder/recordertest"
)

// liveWatcher records when each message text first arrives live.
type liveWatcher struct {
	mu   sync.Mutex
	seen map[string]time.Time
}

func newLiveWatcher() *liveWatcher { return &liveWatcher{seen: map[string]time.Time{}} }

func (w *liveWatcher) onChat(b []byte) {
	now := time.Now()
	var pk struct {
		Type    string `json:"type"`
		Message *struct {
			Text string `json:"text"`
		} `json:"message"`
	}
	if json.Unmarshal(b, &pk) != nil || pk.Type != "message" || pk.Message == nil {
		return
	}
	w.mu.Lock()
	if _, ok := w.seen[pk.Message.Text]; !ok {
		w.seen[pk.Message.Text] = now
	}
	w.mu.Unlock()
}

// latencies: for each text sent at sent[text], how long until w saw it.
func (w *liveWatcher) latencies(t *testing.T, sent map[string]time.Time) []time.Duration {
	t.Helper()
	missing := 0
	deadline := time.Now().Add(15 * time.Second)
	for {
		w.mu.Lock()
		missing = 0
		for txt := range sent {
			if _, ok := w.seen[txt]; !ok {
				missing++
			}
		}
		w.mu.Unlock()
		if missing == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 15 s, %d of %d messages not delivered live", missing, len(sent))
		}
		time.Sleep(20 * time.Millisecond)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]time.Duration, 0, len(sent))
	for txt, at := range sent {
		out = append(out, w.seen[txt].Sub(at))
	}
	return out
}

var clientIDs atomic.Int64

// sendAt sends n texts "<prefix>-i" from c, one per interval, and returns
// when each was sent.
func sendAt(t *testing.T, c *client.Client, prefix string, n int, interval time.Duration) map[string]time.Time {
	t.Helper()
	sent := make(map[string]time.Time, n)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for i := range n {
		<-tick.C
		txt := fmt.Sprintf("%s-%d", prefix, i)
		cid := txt // the tests that look at answers use short texts
		if len(cid) > 64 {
			cid = fmt.Sprintf("long-%d", clientIDs.Add(1))
		}
		b, _ := json.Marshal(map[string]string{"type": "chat", "clientId": cid, "text": txt})
		sent[txt] = time.Now()
		if err := c.SendChat(b); err != nil {
			t.Fatalf("send %s: %v", txt, err)
		}
	}
	return sent
}

// within2x fails unless now's p99 is within twice base's, plus 50 ms: on
// this shared two-core machine under the race detector one sample in a
// hundred is that noisy, while what it guards against (a room waiting on a
// socket or a database) costs seconds.
func within2x(t *testing.T, what string, base, now []time.Duration) {
	t.Helper()
	pb, pn := p99Of(base), p99Of(now)
	t.Logf("%s: live delivery p99 %v before, %v during (%d and %d messages)", what, pb, pn, len(base), len(now))
	if limit := max(2*pb, pb+50*time.Millisecond); pn > limit {
		t.Fatalf("%s: live delivery p99 went from %v to %v (limit %v)", what, pb, pn, limit)
	}
}

// TestStalledRecipientCostsOnlyItself: in room a, one participant stops
// reading its data channel altogether (its client's read loop is blocked),
// so the server's SCTP send buffer for it fills and its writer waits. The
// room's other recipient and another room keep their live latency.
func TestStalledRecipientCostsOnlyItself(t *testing.T) {
	a := startServer(t, nil, func(c *app.Config) {
		cc := chat.DefaultConfig()
		cc.Rate, cc.RoomRate = 0, 0 // the sender is the load here
		c.ChatConfig = &cc
		if testing.Verbose() {
			c.Logger = slog.Default()
		}
	})
	release := make(chan struct{})
	var stalled atomic.Bool
	var blocked atomic.Int64
	join(t, a, "a", "stuck", client.Options{OnChat: func([]byte) {
		if stalled.Load() {
			blocked.Add(1)
			<-release
		}
	}})
	t.Cleanup(func() { close(release) })
	sender := join(t, a, "a", "sender", client.Options{})
	healthy := newLiveWatcher()
	join(t, a, "a", "healthy", client.Options{OnChat: healthy.onChat})
	otherSender := join(t, a, "b", "other-sender", client.Options{})
	other := newLiveWatcher()
	join(t, a, "b", "other", client.Options{OnChat: other.onChat})

	// Texts of 1,500 bytes so that the stalled channel's buffers fill fast.
	pad := strings.Repeat("x", 1400)
	run := func(prefix string) (room, otherRoom map[string]time.Time) {
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			otherRoom = sendAt(t, otherSender, prefix+"-b", 100, 20*time.Millisecond)
		}()
		room = sendAt(t, sender, prefix+"-a-"+pad, 100, 20*time.Millisecond)
		wg.Wait()
		return room, otherRoom
	}
	baseA, baseB := run("base")
	la, lb := healthy.latencies(t, baseA), other.latencies(t, baseB)
	stalled.Store(true)
	// Fill the stalled recipient's path: SCTP's receive window, the
	// server's send buffer up to its high-water mark, then its queue.
	flood := sendAt(t, sender, "flood-"+pad, 2000, time.Millisecond)
	healthy.latencies(t, flood)
	if blocked.Load() == 0 {
		t.Fatal("the stalled client never received anything: the test proves nothing")
	}
	nowA, nowB := run("stalled")
	within2x(t, "same room as the stalled recipient", la, healthy.latencies(t, nowA))
	within2x(t, "another room", lb, other.latencies(t, nowB))
}

func TestSlowStoreNeverStallsDeliverySQLite(t *testing.T) { testSlowStore(t, "") }
func TestSlowStoreNeverStallsDeliveryPostgres(t *testing.T) {
	testSlowStore(t, recordertest.Postgres(t))
}

// testSlowStore: the database stops answering (a write lock held by
// another connection) for 6 s while one room chats at 200 messages a
// second. Live delivery in that room and in another keeps its latency; the
// writer's queue (50 here) fills and further messages are answered
// "unavailable" at once instead of making the room wait; every message
// gets an answer; and the whole stall logs a few dozen lines at most, not
// one per message (issue 20, finding 3).
func testSlowStore(t *testing.T, dsn string) {
	logs := &lineCounterApp{}
	logger := slog.New(logs)
	rec, err := recorder.Open(recorder.Config{DSN: dsn, DataDir: t.TempDir(), QueueSize: 50, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	cc := chat.DefaultConfig()
	cc.Rate, cc.RoomRate, cc.Window = 0, 0, 50
	cs := chat.NewServer(rec, cc, logger)
	a := startServer(t, cs, nil)
	t.Cleanup(func() { // after the server (registered later, runs first)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = cs.Close(ctx)
		_ = rec.Close()
	})

	answers := map[string]string{} // clientId -> "ack" or error code
	var amu sync.Mutex
	sender := join(t, a, "s", "sender", client.Options{OnChat: func(b []byte) {
		var pk struct{ Type, ClientID, Code string }
		if json.Unmarshal(b, &pk) == nil && pk.ClientID != "" && (pk.Type == "ack" || pk.Type == "error") {
			amu.Lock()
			if pk.Type == "ack" {
				answers[pk.ClientID] = "ack"
			} else if answers[pk.ClientID] == "" {
				answers[pk.ClientID] = pk.Code
			}
			amu.Unlock()
		}
	}})
	w := newLiveWatcher()
	join(t, a, "s", "reader", client.Options{OnChat: w.onChat})
	otherSender := join(t, a, "t", "other-sender", client.Options{})
	other := newLiveWatcher()
	join(t, a, "t", "other", client.Options{OnChat: other.onChat})

	run := func(prefix string, n int) (map[string]time.Time, map[string]time.Time) {
		var wg sync.WaitGroup
		var ot map[string]time.Time
		wg.Add(1)
		go func() {
			defer wg.Done()
			ot = sendAt(t, otherSender, prefix+"-t", n/10, 50*time.Millisecond)
		}()
		s := sendAt(t, sender, prefix+"-s", n, 5*time.Millisecond)
		wg.Wait()
		return s, ot
	}
	baseS, baseT := run("base", 1200) // as long and as busy as the stall
	ls, lt := w.latencies(t, baseS), other.latencies(t, baseT)
	before := logs.n.Load()

	releaseDB := stallDB(t, rec, dsn != "")
	nowS, nowT := run("stall", 1200)
	within2x(t, "room writing to the stalled store", ls, w.latencies(t, nowS))
	within2x(t, "another room", lt, other.latencies(t, nowT))
	releaseDB()

	eventually(t, 30*time.Second, "an answer to every message", func() bool {
		amu.Lock()
		defer amu.Unlock()
		for cid := range nowS {
			if answers[cid] == "" {
				return false
			}
		}
		return true
	})
	amu.Lock()
	acked, unavailable := 0, 0
	for cid := range nowS {
		switch answers[cid] {
		case "ack":
			acked++
		case "unavailable":
			unavailable++
		default:
			t.Errorf("%s: answered %q", cid, answers[cid])
		}
	}
	amu.Unlock()
	lines := logs.n.Load() - before
	t.Logf("during the stall: %d acked, %d unavailable at once; %d log lines", acked, unavailable, lines)
	if unavailable == 0 {
		t.Fatal("the queue never filled: the test proves nothing")
	}
	if lines > 36 {
		t.Fatalf("%d log lines for a 6 s stall at 200 messages/s: want state changes and summaries", lines)
	}
}

// stallDB holds a write lock on the messages table from a connection of
// rec's own pool until release: the writer's transactions wait
// (PostgreSQL) or find the database busy (SQLite).
func stallDB(t *testing.T, rec *recorder.Recorder, pg bool) (release func()) {
	t.Helper()
	sqlDB, err := rec.DB().DB()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	conn, err := sqlDB.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	stmts := []string{"BEGIN IMMEDIATE"}
	if pg {
		stmts = []string{"BEGIN", "LOCK TABLE messages IN ACCESS EXCLUSIVE MODE"}
	}
	for _, q := range stmts {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	var once sync.Once
	release = func() {
		once.Do(func() {
			_, _ = conn.ExecContext(ctx, "ROLLBACK")
			_ = conn.Close()
		})
	}
	t.Cleanup(release)
	return release
}

type lineCounterApp struct{ n atomic.Int64 }

func (h *lineCounterApp) Enabled(context.Context, slog.Level) bool { return true }
func (h *lineCounterApp) Handle(context.Context, slog.Record) error {
	h.n.Add(1)
	return nil
}
func (h *lineCounterApp) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *lineCounterApp) WithGroup(string) slog.Handler      { return h }
