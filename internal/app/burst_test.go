package app_test

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/backchannel-rtc/backchannel/chat"
	"github.com/backchannel-rtc/backchannel/client"
	"github.com/backchannel-rtc/backchannel/internal/app"
)

// TestRepeatedBurstsAllAcked (issue 20, finding 6): one sender with rate
// limits off sends 40 bursts of 250 messages as fast as its channel takes
// them, to a room of six; after each burst every message must be acked and
// seen live by every participant within 10 s. The stall once seen at
// saturation (messages never echoed nor acked, the connection open) fails
// this at the first burst it hits.
func TestRepeatedBurstsAllAcked(t *testing.T) {
	a := startServer(t, nil, func(c *app.Config) {
		cc := chat.DefaultConfig()
		cc.Rate, cc.RoomRate = 0, 0
		c.ChatConfig = &cc
	})
	var mu sync.Mutex
	acks := map[string]bool{}
	sender := join(t, a, "burst", "sender", client.Options{OnChat: func(b []byte) {
		var pk struct{ Type, ClientID string }
		if json.Unmarshal(b, &pk) == nil && pk.Type == "ack" {
			mu.Lock()
			acks[pk.ClientID] = true
			mu.Unlock()
		}
	}})
	var watchers []*liveWatcher
	for i := range 5 {
		w := newLiveWatcher()
		join(t, a, "burst", fmt.Sprintf("r%d", i), client.Options{OnChat: w.onChat})
		watchers = append(watchers, w)
	}
	const bursts, size = 40, 250
	for k := range bursts {
		start := time.Now()
		sent := make(map[string]time.Time, size)
		for i := range size {
			txt := fmt.Sprintf("b%d-%d", k, i)
			pk, _ := json.Marshal(map[string]string{"type": "chat", "clientId": txt, "text": txt})
			sent[txt] = time.Now()
			if err := sender.SendChat(pk); err != nil {
				t.Fatalf("burst %d: %v", k, err)
			}
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			missingAcks, missingLive := 0, 0
			mu.Lock()
			for txt := range sent {
				if !acks[txt] {
					missingAcks++
				}
			}
			mu.Unlock()
			for _, w := range watchers {
				w.mu.Lock()
				for txt := range sent {
					if _, ok := w.seen[txt]; !ok {
						missingLive++
					}
				}
				w.mu.Unlock()
			}
			if missingAcks == 0 && missingLive == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("burst %d: after 10 s, %d of %d messages unacked and %d deliveries missing", k, missingAcks, size, missingLive)
			}
			time.Sleep(10 * time.Millisecond)
		}
		if k%10 == 0 {
			t.Logf("burst %d: all %d acked and delivered in %v", k, size, time.Since(start).Round(time.Millisecond))
		}
	}
}
