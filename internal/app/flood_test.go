//go:build !race

// Latency under a flood is measured without the race detector, which slows
// Pion several times over and would measure itself; `make test` runs this
// file in its race-free step.

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
	lat       map[string]*latencies // by phase; the map itself is fixed
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
	case "paced0", "paced1", "paced2":
		parts := strings.SplitN(p.Message.Text, " ", 2)
		ns, err := strconv.ParseInt(parts[0], 10, 64)
		if err != nil || len(parts) != 2 || r.lat[parts[1]] == nil {
			return
		}
		l := r.lat[parts[1]] // the phase it was sent in
		l.mu.Lock()
		l.d = append(l.d, time.Since(time.Unix(0, ns)))
		l.mu.Unlock()
	}
}

// TestFloodIsContained: one client sends chat as fast as its connection
// drains. The per-connection limit lets through only its rate and burst;
// the others' chat latency during the flood stays within 2x of the quiet
// figure (p50 and p95, plus a small floor, so a sub-millisecond quiet figure
// on an idle machine does not make the bound meaninglessly tight).
func TestFloodIsContained(t *testing.T) {
	a := startServer(t, nil, nil) // the real chat protocol: 10 msg/s, burst 20
	var lastFlood atomic.Int64
	rcv := &floodReceiver{lastFlood: &lastFlood, lat: map[string]*latencies{"quiet": {}, "flood": {}}}
	join(t, a, "flood", "reader", client.Options{OnChat: rcv.onChat})
	// Three paced senders within their limit: ~90 samples a phase.
	var paced []*client.Client
	for i := range 3 {
		paced = append(paced, join(t, a, "flood", fmt.Sprintf("paced%d", i), client.Options{}))
	}
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
	// Quiet and flood alternate in 1 s windows, so both see the same
	// background load (the test machine is shared); the paced senders run
	// throughout and each sample counts for the window it was sent in.
	var flooding atomic.Bool
	setPhase := func(flood bool) { flooding.Store(flood) }
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
			if !flooding.Load() {
				time.Sleep(5 * time.Millisecond)
				continue
			}
			send(flooder, "spam", i)
			flooded.Add(1)
		}
	}()
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(100 * time.Millisecond) // 10/s each: within the limit
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			phase := map[bool]string{false: "quiet", true: "flood"}[flooding.Load()]
			for _, p := range paced {
				send(p, fmt.Sprint(time.Now().UnixNano())+" "+phase, i)
			}
		}
	}()
	var floodFor time.Duration
	floodStart := time.Now()
	for range 3 {
		setPhase(false)
		time.Sleep(time.Second)
		setPhase(true)
		t0 := time.Now()
		time.Sleep(time.Second)
		floodFor += time.Since(t0)
	}
	setPhase(false)
	close(stop)
	wg.Wait()
	time.Sleep(500 * time.Millisecond)

	q := func(phase string, x float64) time.Duration { return rcv.lat[phase].quantile(x) }
	q50, q95, q99 := q("quiet", 0.5), q("quiet", 0.95), q("quiet", 0.99)
	f50, f95, f99 := q("flood", 0.5), q("flood", 0.95), q("flood", 0.99)
	// The server works through the flood at the flooder's rate, so count
	// the limit over the time until its last message got through (the
	// bucket refills during the quiet windows too).
	through := time.Duration(lastFlood.Load() - floodStart.UnixNano())
	allowed := int64(20 + 10*through.Seconds() + 1)
	t.Logf("flooder sent %d packets in %v: %d acked, %d rate_limited, reader got %d of them in %v (limit allows %d)",
		flooded.Load(), floodFor.Round(time.Millisecond), acks.Load(), limited.Load(), rcv.fromFlood.Load(), through.Round(time.Millisecond), allowed)
	t.Logf("paced senders → reader latency (%d/%d samples): quiet p50 %v p95 %v p99 %v; during the flood p50 %v p95 %v p99 %v",
		rcv.lat["quiet"].count(), rcv.lat["flood"].count(), q50, q95, q99, f50, f95, f99)
	if got := rcv.fromFlood.Load(); got > allowed {
		t.Errorf("the reader received %d flood messages; the limit allows %d", got, allowed)
	}
	if flooded.Load() < 2*allowed {
		t.Errorf("the flooder only sent %d packets: not a flood", flooded.Load())
	}
	// p50 and p95 (p99 of ~90 samples is one sample: noise on a shared
	// 2-core machine); the floors keep sub-millisecond figures meaningful.
	if bound := max(2*q50, q50+2*time.Millisecond); f50 > bound {
		t.Errorf("p50 latency during the flood %v exceeds 2x quiet (%v; bound %v)", f50, q50, bound)
	}
	if bound := max(2*q95, q95+20*time.Millisecond); f95 > bound {
		t.Errorf("p95 latency during the flood %v exceeds 2x quiet (%v; bound %v)", f95, q95, bound)
	}
}
