package chat

import (
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/backchannel-rtc/backchannel/auth"
)

var (
	longRun  = flag.Bool("chat.long", false, "run the randomized privacy test over 100,000 messages")
	seedFlag = flag.Uint64("chat.seed", 0, "seed of the randomized privacy test (0: from the clock)")
)

// TestPrivacyRandomized drives many participants attaching and detaching,
// group and private messages to random destinations, replies, reactions,
// edits, deletes, pins, typing, reads, moderation and history, and checks
// every packet every connection receives: nobody outside a private
// message's sender and destinations ever gets it or any event about it; and
// every message reaches exactly the attached connections that may see it.
func TestPrivacyRandomized(t *testing.T) {
	n := 5000
	if *longRun {
		n = 100_000
	}
	if testing.Short() {
		n = 1000
	}
	seed := *seedFlag
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (rerun with -chat.seed=%d), %d messages", seed, seed, n)
	for _, async := range []bool{false, true} {
		t.Run(fmt.Sprintf("async=%v", async), func(t *testing.T) {
			runPrivacy(t, seed, n, async)
		})
	}
}

type privChecker struct {
	mu         sync.Mutex
	allowed    map[int][]string // marker → who may see it; nil: everyone
	idToK      map[string]int
	violations []string
	deliveries int
	privates   int // deliveries of private messages (to allowed viewers)
}

type probeMsg struct {
	ID     string   `json:"id"`
	Text   string   `json:"text"`
	Sender string   `json:"sender"`
	To     []string `json:"to"`
}

type probe struct {
	Type     string          `json:"type"`
	ID       string          `json:"id"`
	Text     string          `json:"text"`
	To       []string        `json:"to"`
	Message  json.RawMessage `json:"message"` // an object, or the text of an error
	msg      *probeMsg
	Messages []probeMsg `json:"messages"`
}

func marker(text string) (int, bool) {
	if len(text) < 2 || (text[0] != 'P' && text[0] != 'G') {
		return 0, false
	}
	end := strings.IndexByte(text, ' ')
	if end < 0 {
		end = len(text)
	}
	k, err := strconv.Atoi(text[1:end])
	return k, err == nil
}

func (c *privChecker) bad(format string, args ...any) {
	if len(c.violations) < 20 {
		c.violations = append(c.violations, fmt.Sprintf(format, args...))
	}
}

// see checks one message as delivered to viewer.
func (c *privChecker) seeLocked(viewer string, m *probeMsg, where string) {
	k, ok := marker(m.Text)
	if ok {
		if _, known := c.idToK[m.ID]; !known {
			c.idToK[m.ID] = k
		}
	} else {
		k, ok = c.idToK[m.ID]
		if !ok {
			c.bad("%s: %s got unknown message %s", where, viewer, m.ID)
			return
		}
	}
	allowed := c.allowed[k]
	if allowed != nil {
		if !containsStr(allowed, viewer) {
			c.bad("%s: %s got private message P%d (allowed %v)", where, viewer, k, allowed)
		}
		c.privates++
	}
	if len(m.To) > 0 && m.Sender != viewer && !containsStr(m.To, viewer) {
		c.bad("%s: %s got a message addressed to %v", where, viewer, m.To)
	}
}

func containsStr(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

type checkConn struct {
	id     string
	who    auth.Identity
	chk    *privChecker
	sess   Session
	room   string
	lastK  int
	lastID string
	closed bool
}

func (c *checkConn) ID() string         { return c.id }
func (c *checkConn) Who() auth.Identity { return c.who }
func (c *checkConn) Close(string)       { c.closed = true }

func (c *checkConn) Send(b []byte) bool {
	var p probe
	ch := c.chk
	ch.mu.Lock()
	defer ch.mu.Unlock()
	ch.deliveries++
	if err := json.Unmarshal(b, &p); err != nil {
		ch.bad("invalid JSON %q", b)
		return true
	}
	me := c.who.Identity
	if len(p.Message) > 0 && p.Message[0] == '{' {
		p.msg = new(probeMsg)
		if err := json.Unmarshal(p.Message, p.msg); err != nil {
			ch.bad("invalid message %q", b)
			return true
		}
	}
	switch p.Type {
	case "message":
		ch.seeLocked(me, p.msg, "message")
		c.lastK, _ = marker(p.msg.Text)
		c.lastID = p.msg.ID
	case "history", "pins":
		for i := range p.Messages {
			ch.seeLocked(me, &p.Messages[i], p.Type)
		}
	case "reaction", "edited", "deleted", "pinned", "unpinned":
		ch.seeLocked(me, &probeMsg{ID: p.ID, Text: p.Text}, p.Type)
		if p.msg != nil {
			ch.seeLocked(me, p.msg, p.Type)
		}
	case "typing":
		if len(p.To) > 0 && !containsStr(p.To, me) {
			ch.bad("%s got a private typing indicator for %v", me, p.To)
		}
	}
	return true
}

func runPrivacy(t *testing.T, seed uint64, target int, async bool) {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	store := NewMemoryStore()
	store.Async = async
	cfg := DefaultConfig()
	cfg.Rate, cfg.TypingRate, cfg.ReadRate = 0, 0, 0
	cfg.Window = 64
	cfg.ReplayMessages = 20
	srv := NewServer(store, cfg, quietLogger())
	defer srv.Close(t.Context())
	chk := &privChecker{allowed: map[int][]string{}, idToK: map[string]int{}}

	ids := make([]string, 10)
	for i := range ids {
		ids[i] = fmt.Sprintf("u%d", i)
	}
	rooms := []string{"r0", "r1"}
	conns := map[string][]*checkConn{}
	known := map[string][]string{} // message ids per room
	nconn := 0
	attach := func(room, id string) {
		nconn++
		c := &checkConn{id: fmt.Sprint("c", nconn), room: room, chk: chk,
			who: auth.Identity{Identity: id, Grant: auth.VideoGrant{RoomJoin: true, RoomAdmin: id == "u0" || id == "u1"}}}
		c.sess = srv.Attach(room, c)
		conns[room] = append(conns[room], c)
	}
	drop := func(room string, i int) {
		c := conns[room][i]
		c.sess.Detach()
		conns[room] = append(conns[room][:i], conns[room][i+1:]...)
	}
	pick := func(l []string) string { return l[rng.IntN(len(l))] }
	send := func(c *checkConn, v map[string]any) {
		b, _ := json.Marshal(v)
		c.sess.Receive(b)
	}
	msgs, k := 0, 0
	for msgs < target {
		room := pick(rooms)
		cs := conns[room]
		if len(cs) < 2 || rng.IntN(100) < 3 {
			attach(room, pick(ids))
			continue
		}
		c := cs[rng.IntN(len(cs))]
		if c.closed { // kicked
			drop(room, indexConn(cs, c))
			continue
		}
		var someMsg string
		if l := known[room]; len(l) > 0 {
			if rng.IntN(2) == 0 && len(l) > 30 {
				someMsg = l[len(l)-1-rng.IntN(30)]
			} else {
				someMsg = pick(l)
			}
		}
		switch x := rng.IntN(100); {
		case x < 3:
			drop(room, rng.IntN(len(cs)))
		case x < 50:
			k++
			pkt := map[string]any{"type": "chat", "clientId": fmt.Sprint("k", k)}
			var allowed []string
			text := fmt.Sprintf("G%d", k)
			if rng.IntN(2) == 0 {
				to := []string{}
				for j := 0; j <= rng.IntN(3); j++ {
					to = append(to, pick(ids))
				}
				pkt["to"] = to
				allowed = append([]string{c.who.Identity}, to...)
				text = fmt.Sprintf("P%d", k)
			}
			pkt["text"] = text
			if someMsg != "" && rng.IntN(10) == 0 {
				pkt["replyTo"] = someMsg
			}
			chk.mu.Lock()
			chk.allowed[k] = allowed
			chk.mu.Unlock()
			send(c, pkt)
			chk.mu.Lock()
			if c.lastK == k { // created (not muted, not refused)
				msgs++
				known[room] = append(known[room], c.lastID)
				for _, o := range conns[room] {
					want := allowed == nil || containsStr(allowed, o.who.Identity)
					if got := o.lastK == k; got != want && !o.closed {
						chk.bad("P/G%d: %s delivered=%v, want %v", k, o.who.Identity, got, want)
					}
				}
			}
			chk.mu.Unlock()
		case x < 62 && someMsg != "":
			send(c, map[string]any{"type": "reaction", "id": someMsg, "emoji": pick([]string{"👍", "🎉", "x"}), "on": rng.IntN(3) > 0})
		case x < 68 && someMsg != "":
			chk.mu.Lock()
			mk := chk.idToK[someMsg]
			chk.mu.Unlock()
			prefix := "G"
			if chk.allowed[mk] != nil {
				prefix = "P"
			}
			send(c, map[string]any{"type": "edit", "id": someMsg, "text": fmt.Sprintf("%s%d edited", prefix, mk)})
		case x < 71 && someMsg != "":
			send(c, map[string]any{"type": "delete", "id": someMsg})
		case x < 75 && someMsg != "":
			send(c, map[string]any{"type": pick([]string{"pin", "unpin"}), "id": someMsg})
		case x < 82:
			send(c, map[string]any{"type": "history", "before": rng.Int64N(int64(msgs + 2)), "limit": 1 + rng.IntN(120)})
		case x < 90:
			p := map[string]any{"type": "typing", "on": rng.IntN(2) == 0}
			if rng.IntN(2) == 0 {
				p["to"] = []string{pick(ids)}
			}
			send(c, p)
		case x < 95:
			send(c, map[string]any{"type": "read", "seq": 1 + rng.Int64N(int64(msgs+1))})
		case x < 98:
			send(c, map[string]any{"type": pick([]string{"mute", "unmute", "unmute"}), "target": pick(ids)})
		case x < 99:
			send(c, map[string]any{"type": "kick", "target": pick(ids)})
			for i := len(conns[room]) - 1; i >= 0; i-- {
				if conns[room][i].closed {
					conns[room] = append(conns[room][:i], conns[room][i+1:]...)
				}
			}
		default:
			c.sess.Overflowed(1)
		}
		if v := chk.snapshot(); len(v) > 0 {
			t.Fatalf("seed %d: privacy violated:\n%s", seed, strings.Join(v, "\n"))
		}
	}
	_ = srv.Close(t.Context())
	if v := chk.snapshot(); len(v) > 0 {
		t.Fatalf("seed %d: privacy violated:\n%s", seed, strings.Join(v, "\n"))
	}
	if chk.privates == 0 {
		t.Fatalf("no private message was delivered: the test tests nothing")
	}
	t.Logf("%d messages, %d deliveries checked, %d of private messages to their participants", msgs, chk.deliveries, chk.privates)
}

func (c *privChecker) snapshot() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.violations
}

func indexConn(cs []*checkConn, c *checkConn) int {
	for i, x := range cs {
		if x == c {
			return i
		}
	}
	return -1
}
