package app_test

import (
	"testing"
	"time"

	"github.com/backchannel-rtc/backchannel/internal/app"
)

// TestClusterDatabaseOutageLongerThanTTL: PostgreSQL is cut off from both
// nodes for longer than the lease TTL. Nobody can take the room
// meanwhile, so its host keeps live chat going with acks withheld; a
// client that tries to join through the other node waits. When the
// database returns, every message is stored once, seq stays dense, no
// write carries a stale epoch, and everyone ends up on the one node the
// lease names.
func TestClusterDatabaseOutageLongerThanTTL(t *testing.T) {
	dsn, proxy, proxied := proxiedPostgres(t)
	nodes := []*app.App{startNode(t, proxied, nil), startNode(t, proxied, nil)}
	room := "outage"
	host, other := hostAndEntry(t, nodes, room)
	alice := dialPeer(t, other.Keys, other.URL(), room, "alice")
	bob := dialPeer(t, other.Keys, other.URL(), room, "bob")
	alice.say(t, "before")
	eventually(t, 10*time.Second, "ack before the outage", func() bool { return alice.acked("before") })
	_, epoch := leaseOf(t, dsn, room)

	proxy.cut()
	for i := range 5 {
		alice.say(t, cid("during", i))
	}
	eventually(t, 5*time.Second, "live chat during the outage", func() bool { return bob.saw(cid("during", 4)) })
	if alice.acked(cid("during", 0)) {
		t.Fatal("acked during the outage: it cannot be stored")
	}
	// A newcomer through the other node cannot be placed while the
	// database is away; its client keeps trying.
	type joined struct {
		p   *peer
		err error
	}
	carolDone := make(chan joined, 1)
	go func() {
		p, err := dialPeerRetrying(t, other.Keys, other.URL(), room, "carol", 30*time.Second)
		carolDone <- joined{p, err}
	}()
	time.Sleep(testTTL + testRenew)
	proxy.restore()

	j := <-carolDone
	if j.err != nil {
		t.Fatalf("carol never got in after the outage: %v", j.err)
	}
	carol := j.p
	eventually(t, 20*time.Second, "every message acked after the outage", func() bool {
		for i := range 5 {
			if !alice.acked(cid("during", i)) {
				return false
			}
		}
		return true
	})
	carol.say(t, "after")
	eventually(t, 10*time.Second, "chat after the outage", func() bool { return carol.acked("after") && alice.saw("after") })
	owner, e := leaseOf(t, dsn, room)
	for _, p := range []*peer{alice, bob, carol} {
		if h := nodeOf(nodes, p.landed()); h == nil || h.Node.ID() != owner {
			t.Fatalf("%s is on %s, the lease names node %s: two hosts", p.id, p.landed(), owner)
		}
	}
	stored := checkStored(t, storedMessages(t, dsn, room))
	if len(stored) != 7 {
		t.Fatalf("%d messages stored, want 7", len(stored))
	}
	if e == epoch && nodeOf(nodes, alice.landed()) != host {
		t.Fatal("the room moved without a new epoch")
	}
	t.Logf("after the outage: epoch %d -> %d", epoch, e)
}
