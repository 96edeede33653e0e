package app_test

import (
	"testing"
	"time"

	"github.com/backchannel-rtc/backchannel/internal/app"
	"github.com/backchannel-rtc/backchannel/recorder/recordertest"
)

// TestClusterJoinThroughAnyNode: three nodes on one PostgreSQL. Clients
// of one room join through each of them and all land on the room's one
// host, where group chat, private messages and history work.
func TestClusterJoinThroughAnyNode(t *testing.T) {
	dsn := recordertest.Postgres(t)
	nodes := []*app.App{startNode(t, dsn, nil), startNode(t, dsn, nil), startNode(t, dsn, nil)}
	room := "standup"
	alice := dialPeer(t, nodes[0].Keys, nodes[0].URL(), room, "alice")
	bob := dialPeer(t, nodes[1].Keys, nodes[1].URL(), room, "bob")
	carol := dialPeer(t, nodes[2].Keys, nodes[2].URL(), room, "carol")
	host := alice.landed()
	if bob.landed() != host || carol.landed() != host {
		t.Fatalf("one room on several nodes: alice %s, bob %s, carol %s", host, bob.landed(), carol.landed())
	}
	owner, _ := leaseOf(t, dsn, room)
	if h := nodeOf(nodes, host); h == nil || h.Node.ID() != owner {
		t.Fatalf("clients are on %s but the lease names node %s", host, owner)
	}

	alice.say(t, "hello-all")
	bob.say(t, "psst-carol", "carol")
	eventually(t, 10*time.Second, "group and private delivered", func() bool {
		return bob.saw("hello-all") && carol.saw("hello-all") && carol.saw("psst-carol") &&
			alice.acked("hello-all") && bob.acked("psst-carol")
	})
	if alice.saw("psst-carol") {
		t.Fatal("a private message reached someone it was not for")
	}
	// A late joiner through yet another node gets the group history.
	dave := dialPeer(t, nodes[2].Keys, nodes[0].URL(), room, "dave")
	if dave.landed() != host {
		t.Fatalf("dave landed on %s, the room is on %s", dave.landed(), host)
	}
	eventually(t, 10*time.Second, "history for the late joiner", func() bool { return dave.saw("hello-all") })
	if dave.saw("psst-carol") {
		t.Fatal("history leaked a private message")
	}
	checkStored(t, storedMessages(t, dsn, room))

	// Operators see it: the host owns one room, the nodes that sent
	// clients on count their redirects.
	hostNode := nodeOf(nodes, host)
	if v := metricValue(t, hostNode, "backchannel_cluster_rooms_owned"); v != 1 {
		t.Fatalf("host's backchannel_cluster_rooms_owned = %v", v)
	}
	var redirects float64
	for _, n := range nodes {
		redirects += metricValue(t, n, "backchannel_cluster_redirects_total")
	}
	if redirects < 2 {
		t.Fatalf("%v redirects counted, want at least bob's and carol's", redirects)
	}
}

// metricValue reads one unlabelled sample from a node's /metrics.
func metricValue(t *testing.T, a *app.App, name string) float64 {
	t.Helper()
	f := scrape(t, a)[name]
	if f == nil || len(f.GetMetric()) != 1 {
		t.Fatalf("%s missing from /metrics", name)
	}
	m := f.GetMetric()[0]
	if g := m.GetGauge(); g != nil {
		return g.GetValue()
	}
	return m.GetCounter().GetValue()
}
