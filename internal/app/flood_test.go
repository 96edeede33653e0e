package app_test

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/backchannel-rtc/backchannel/client"
)

// floodReceiver measures the latency of the paced sender's messages and
// counts what the flooder got through.
type floodReceiver struct {
	mu        sync.Mutex
	phase     string
	lat       map[string]*latencies
	fromFlood atomic.Int64
	lastFlood *atomic.Int64 // when the last flood message arrived (ns)
}

func (r *floodReceiver) onChat(b []byte) {
	var p struct {
		Type    string `json:"type"`
		Message struct {
			Sender string `json:"sender"`
			Text   string `json:"text"`
		} `json:"message"`
	}
	if json.Unmarshal(b, &p) != nil || p.Type != "message" {
		return
	}
	switch p.Message.Sender {
	case "flooder":
		r.fromFlood.Add(1)
		r.lastFlood.Store(time.Now().UnixNano())
	case "paced":
		parts := strings.SplitN(p.Message.Text, " ", 2)
		ns, err := strconv.ParseInt(parts[0], 10, 64)
		if err != nil {
			return
		}
		r.mu.Lock()
		l := r.lat[r.phase]
		r.mu.Unlock()
		l.mu.Lock()
		l.d = append(l.d, time.Since(time.Unix(0, ns)))
		l.mu.Unlock()
	}
}

// TestFloodIsContained: one client sends chat as fast as its connection
// drains. The per-connection limit lets through only its rate and burst;
// the others' chat latency during the flood stays within 2x of the quiet
// figure (plus a small floor, so a sub-millisecond quiet figure on an idle
// machine does not make the bound meaninglessly tight).
func TestFloodIsContained(t *testing.T) {
	a := startServer(t, nil, nil) // the real chat protocol: 10 msg/s, burst 20
	var lastFlood atomic.Int64
	rcv := &floodReceiver{lastFlood: &lastFlood, phase: "quiet", lat: map[string]*latencies{"quiet": {}, "flood": {}}}
	join(t, a, "flood", "reader", client.Options{OnChat: rcv.onChat})
	paced := join(t, a, "flood", "paced", client.Options{})
	var acks, limited atomic.Int64
	flooder := join(t, a, "flood", "flooder", client.Options{OnChat: func(b []byte) {
		s := string(b)
		switch {
		case strings.Contains(s, `"type":"ack"`):
			acks.Add(1)
		case strings.Contains(s, `"rate_limited"`):
			limited.Add(1)
		}
	}})

	send := func(c *client.Client, text string, i int) {
		b, _ := json.Marshal(map[string]string{"type": "chat", "clientId": fmt.Sprint(i), "text": text})
		if err := c.SendChat(b); err != nil {
			t.Error(err)
		}
	}
	pace := func(d time.Duration, base int) {
		tick := time.NewTicker(100 * time.Millisecond) // 10/s: within the limit
		defer tick.Stop()
		end := time.Now().Add(d)
		for i := base; time.Now().Before(end); i++ {
			<-tick.C
			send(paced, fmt.Sprint(time.Now().UnixNano())+" paced", i)
		}
	}
	pace(3*time.Second, 0)

	rcv.mu.Lock()
	rcv.phase = "flood"
	rcv.mu.Unlock()
	stop := make(chan struct{})
	var flooded atomic.Int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			send(flooder, "spam", i)
			flooded.Add(1)
		}
	}()
	floodStart := time.Now()
	pace(3*time.Second, 1000)
	close(stop)
	wg.Wait()
	floodFor := time.Since(floodStart)
	time.Sleep(500 * time.Millisecond)

	q50, q99 := rcv.lat["quiet"].quantile(0.5), rcv.lat["quiet"].quantile(0.99)
	f50, f99 := rcv.lat["flood"].quantile(0.5), rcv.lat["flood"].quantile(0.99)
	// The server works through the flood at the flooder's rate, so count
	// the limit over the time until its last message got through.
	through := time.Duration(lastFlood.Load() - floodStart.UnixNano())
	allowed := int64(20 + 10*through.Seconds() + 1)
	t.Logf("flooder sent %d packets in %v: %d acked, %d rate_limited, reader got %d of them in %v (limit allows %d)",
		flooded.Load(), floodFor.Round(time.Millisecond), acks.Load(), limited.Load(), rcv.fromFlood.Load(), through.Round(time.Millisecond), allowed)
	t.Logf("paced sender → reader latency: quiet p50 %v p99 %v; during the flood p50 %v p99 %v",
		q50, q99, f50, f99)
	if got := rcv.fromFlood.Load(); got > allowed {
		t.Errorf("the reader received %d flood messages; the limit allows %d", got, allowed)
	}
	if flooded.Load() < 2*allowed {
		t.Errorf("the flooder only sent %d packets: not a flood", flooded.Load())
	}
	if bound := max(2*q99, q99+20*time.Millisecond); f99 > bound {
		t.Errorf("p99 latency during the flood %v exceeds 2x quiet (%v; bound %v)", f99, q99, bound)
	}
}
