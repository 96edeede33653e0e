package chat

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/backchannel-rtc/backchannel/chat/chattest"
)

// TestLargeRoomFanOut runs a room of 48 with several senders at once and a
// mix of group and private messages: every participant gets exactly the
// messages it may see, each once, in the room's seq order.
func TestLargeRoomFanOut(t *testing.T) {
	const n, senders, each = 48, 4, 60
	cfg := DefaultConfig()
	cfg.Rate, cfg.RoomRate = 0, 0
	env := newFakeEnv(t, cfg, nil)
	ids := make([]string, n)
	conns := make([]*fakeConn, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("u%02d", i)
		conns[i] = env.join("big", ids[i], chattest.Grants{})
	}
	for _, c := range conns {
		c.take()
	}

	// Every third message is private to one other participant.
	dest := func(s, j int) string {
		if j%3 != 0 {
			return ""
		}
		return ids[(s+1+j*7)%n]
	}
	var wg sync.WaitGroup
	for s := range senders {
		wg.Go(func() {
			for j := range each {
				to := ""
				if d := dest(s, j); d != "" {
					to = fmt.Sprintf(`,"to":[%q]`, d)
				}
				conns[s].SendBytes(fmt.Appendf(nil, `{"type":"chat","clientId":"c%d","text":"m %d %d"%s}`, j, s, j, to))
			}
		})
	}
	wg.Wait()

	for i, c := range conns {
		want := map[string]bool{}
		for s := range senders {
			for j := range each {
				if d := dest(s, j); d == "" || s == i || d == ids[i] {
					want[fmt.Sprintf("m %d %d", s, j)] = true
				}
			}
		}
		total := len(want)
		var last int64
		for _, p := range ofType(packets(t, c), "message") {
			m := p.Obj("message")
			text := m.Str("text")
			if !want[text] {
				t.Fatalf("%s got %q, which is not for it (or twice)", ids[i], text)
			}
			delete(want, text)
			if seq := m.Int("seq"); seq <= last {
				t.Fatalf("%s got seq %d after %d: out of order", ids[i], seq, last)
			} else {
				last = seq
			}
			if s, _ := strconv.Atoi(strings.Fields(text)[1]); m.Str("sender") != ids[s] {
				t.Fatalf("%s: %q from %s", ids[i], text, m.Str("sender"))
			}
		}
		if len(want) > 0 {
			t.Fatalf("%s missed %d of its %d messages", ids[i], len(want), total)
		}
	}
}
