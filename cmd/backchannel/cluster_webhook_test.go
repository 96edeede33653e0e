package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/backchannel-rtc/backchannel/recorder/recordertest"
)

// stallFirst is a webhook receiver that holds the first request for a
// webhook id open (the attempt in flight when its node dies) and accepts
// every later one.
type stallFirst struct {
	mu      sync.Mutex
	seen    map[string]int       // webhook-id -> requests
	okAt    map[string]time.Time // webhook-id -> first accepted
	types   map[string]string    // webhook-id -> event type
	stalled chan struct{}        // closed at the first held request
	once    sync.Once
	release chan struct{}
}

func (h *stallFirst) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body struct{ Type string }
	_ = json.NewDecoder(r.Body).Decode(&body)
	id := r.Header.Get("webhook-id")
	h.mu.Lock()
	h.seen[id]++
	h.types[id] = body.Type
	first := h.seen[id] == 1 && body.Type == "meeting.started"
	if !first {
		if _, ok := h.okAt[id]; !ok {
			h.okAt[id] = time.Now()
		}
	}
	h.mu.Unlock()
	if first {
		h.once.Do(func() { close(h.stalled) })
		select { // until the sender is gone or the test ends
		case <-r.Context().Done():
		case <-h.release:
		}
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// TestClusterDeadNodesWebhookGoesOutAgain: the node sending a webhook dies
// mid-attempt (SIGKILL while the receiver holds the request). Another node
// sends it again once the dead node's heartbeat is older than the lease
// TTL, not after the delivery lease (the webhook timeout + 30 s), and the
// receiver gets it under the same webhook-id.
func TestClusterDeadNodesWebhookGoesOutAgain(t *testing.T) {
	dsn := recordertest.Postgres(t)
	hooks := &stallFirst{seen: map[string]int{}, okAt: map[string]time.Time{}, types: map[string]string{},
		stalled: make(chan struct{}), release: make(chan struct{})}
	receiver := httptest.NewServer(hooks)
	defer receiver.Close()
	defer close(hooks.release)
	const ttl = 2 * time.Second
	var nodes []*server
	for range 2 {
		port := freePort(t, "tcp")
		nodes = append(nodes, startProcessWith(t, t.TempDir(), port, freePort(t, "udp"), nil,
			"--database", dsn, "--node-url", fmt.Sprintf("http://127.0.0.1:%d", port),
			"--lease-ttl", ttl.String(), "--lease-renew", "400ms",
			"--webhook-url", receiver.URL, "--webhook-secret", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"))
	}
	c := joinChat(t, nodes[0].url, "hooked", "alice")
	defer c.Close()
	select {
	case <-hooks.stalled:
	case <-time.After(15 * time.Second):
		t.Fatal("meeting.started never reached the receiver")
	}
	// Whichever node claimed the row is the one to kill.
	conn, ctx, done := pgConn(t, dsn)
	defer done()
	var claimer string
	if err := conn.QueryRow(ctx, `SELECT claimed_by FROM webhook_outbox
		WHERE event_type = 'meeting.started' AND status = 'sending'`).Scan(&claimer); err != nil {
		t.Fatal(err)
	}
	var victim *server
	for _, n := range nodes {
		var h struct{ Node string }
		resp, err := http.Get(n.url + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		_ = json.NewDecoder(resp.Body).Decode(&h)
		resp.Body.Close()
		if h.Node == claimer {
			victim = n
		}
	}
	if victim == nil {
		t.Fatalf("no node has id %q, the row's claimer", claimer)
	}
	if err := victim.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = victim.cmd.Wait()
	killed := time.Now()
	var took time.Duration
	waitUntil(t, 30*time.Second, "meeting.started sent again by the surviving node", func() bool {
		hooks.mu.Lock()
		defer hooks.mu.Unlock()
		for id, typ := range hooks.types {
			if at, ok := hooks.okAt[id]; ok && typ == "meeting.started" {
				took = at.Sub(killed)
				return true
			}
		}
		return false
	})
	// The dead node's heartbeat goes stale within the TTL and the row was
	// claimed at least the TTL ago by then; the next poll (1 s) takes it.
	// The delivery lease would have held it for 45 s.
	if limit := 2*ttl + 3*time.Second; took > limit {
		t.Errorf("meeting.started went out again %v after the kill; want within %v", took.Round(time.Millisecond), limit)
	}
	t.Logf("meeting.started went out again %v after its sender was killed", took.Round(time.Millisecond))
	hooks.mu.Lock()
	defer hooks.mu.Unlock()
	for id, typ := range hooks.types {
		if typ == "meeting.started" && hooks.seen[id] != 2 {
			t.Errorf("meeting.started (%s) sent %d times, want the held attempt and one more", id, hooks.seen[id])
		}
	}
}
