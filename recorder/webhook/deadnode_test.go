package webhook_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/backchannel-rtc/backchannel/recorder"
	"github.com/backchannel-rtc/backchannel/recorder/recordertest"
	"github.com/backchannel-rtc/backchannel/recorder/webhook"
)

// TestDeadNodesClaimIsTakenBack: on a cluster (PostgreSQL), a row another
// node was sending when it died is sent again as soon as that node's
// heartbeat is older than the node TTL and the row has been held that
// long, not after the delivery lease (an hour here). Rows held by a live
// node, and a dead node's claim younger than the TTL, are left alone
// until then.
func TestDeadNodesClaimIsTakenBack(t *testing.T) {
	rcfg := recorder.Config{DSN: recordertest.Postgres(t), DataDir: t.TempDir(), Logger: quiet}
	rcv := newReceiver(t)
	rcv.set(http.StatusOK, 0)
	const lease = time.Hour
	const ttl = 2 * time.Second
	wcfg := webhook.Config{Endpoints: []webhook.Endpoint{rcv.endpoint("e")}, Logger: quiet,
		PollInterval: 20 * time.Millisecond, Lease: lease}
	d, err := webhook.New(wcfg)
	if err != nil {
		t.Fatal(err)
	}
	rcfg.Outbox = d // the rows are written; this Delivery never starts
	rec, err := recorder.Open(rcfg)
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Close()
	s := &stack{rec: rec, d: d}
	s.write(t, joinC("r", "a"))
	s.write(t, joinC("r", "b"))
	db := rec.DB()
	var rows []recorder.OutboxEvent
	if err := db.Order("id").Find(&rows).Error; err != nil {
		t.Fatal(err)
	}
	if len(rows) < 3 {
		t.Fatalf("%d outbox rows, want at least 3", len(rows))
	}
	// Two nodes on the database's clock: one dead for a minute, one whose
	// heartbeat stays fresh for the whole test.
	for _, n := range []struct{ id, beat string }{{"deadnode", "now() - interval '1 minute'"}, {"livenode", "now() + interval '1 hour'"}} {
		if err := db.Exec(`INSERT INTO cluster_nodes (id, url, secret_check, started_at, heartbeat_at)
			VALUES (?, ?, 'x', now(), `+n.beat+`)`, n.id, "http://"+n.id).Error; err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now().UTC()
	claim := func(id, node string, claimedAt time.Time) {
		t.Helper()
		if err := db.Model(&recorder.OutboxEvent{}).Where("id = ?", id).Updates(map[string]any{
			"status": webhook.OutboxSending, "attempts": 1, "claimed_by": node,
			"next_attempt_at": claimedAt.Add(lease)}).Error; err != nil {
			t.Fatal(err)
		}
	}
	stale, live, fresh := rows[0].ID, rows[1].ID, rows[2].ID
	claim(stale, "deadnode", now.Add(-time.Minute)) // claimed a minute ago by the dead node
	claim(live, "livenode", now.Add(-time.Minute))  // the same, by a live node
	claim(fresh, "deadnode", now)                   // claimed just now by the dead node

	other, err := webhook.New(wcfg)
	if err != nil {
		t.Fatal(err)
	}
	other.SetNode("thisnode", ttl)
	tookBack := counter(t, "backchannel_webhook_reclaimed_total", "dead_node")
	start := time.Now()
	if err := other.Start(db); err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	delivered := func(id string) bool {
		var row recorder.OutboxEvent
		return db.Where("id = ?", id).Take(&row).Error == nil && row.Status == recorder.OutboxDelivered
	}
	eventually(t, 5*time.Second, "the dead node's old claim delivered", func() bool { return delivered(stale) })
	if took := time.Since(start); took > ttl {
		t.Errorf("the dead node's old claim took %v; it was claimable at once", took)
	}
	if time.Since(start) < ttl-500*time.Millisecond && delivered(fresh) {
		t.Error("the dead node's fresh claim was taken before it had been held for the node TTL")
	}
	eventually(t, ttl+5*time.Second, "the dead node's fresh claim delivered once held for the TTL", func() bool { return delivered(fresh) })
	if took := time.Since(start); took < ttl-500*time.Millisecond {
		t.Errorf("the dead node's fresh claim was taken after %v, before the node TTL (%v)", took, ttl)
	}
	time.Sleep(300 * time.Millisecond)
	if delivered(live) {
		t.Error("a live node's claim was taken before its lease ran out")
	}
	var row recorder.OutboxEvent
	db.Where("id = ?", stale).Take(&row)
	if row.ClaimedBy != "thisnode" || row.Attempts != 2 {
		t.Errorf("the taken-back row: claimed by %q after %d attempts, want thisnode and 2", row.ClaimedBy, row.Attempts)
	}
	if n := len(rcv.got()); n != 2 {
		t.Errorf("%d requests, want the dead node's two rows once each", n)
	}
	if n := counter(t, "backchannel_webhook_reclaimed_total", "dead_node") - tookBack; n != 2 {
		t.Errorf("backchannel_webhook_reclaimed_total{reason=dead_node} rose by %v, want 2", n)
	}
}
