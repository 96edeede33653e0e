package webhook_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/backchannel-rtc/backchannel/chat"
	"github.com/backchannel-rtc/backchannel/recorder"
	"github.com/backchannel-rtc/backchannel/recorder/webhook"
)

// TestRefusedThenAcceptedAcrossRestart: the receiver answers 500 while a
// meeting happens; the recorder and the delivery component are closed and
// reopened on the same database; the receiver starts accepting and every
// event arrives, once per webhook-id, with nothing left pending.
func TestRefusedThenAcceptedAcrossRestart(t *testing.T) {
	backends(t, func(t *testing.T, rcfg recorder.Config) {
		rcv := newReceiver(t)
		rcv.set(http.StatusInternalServerError, 0)
		all := rcv.endpoint("all", webhook.EventTypes...)
		all.PrivateChat = true
		wcfg := webhook.Config{Endpoints: []webhook.Endpoint{all}, Schedule: fastSchedule(400), PollInterval: 20 * time.Millisecond}
		s := open(t, rcfg, wcfg)
		meeting(t, s, "standup")
		s.write(t, joinC("standup", "carol")) // a second session, still open
		s.write(t, msg("standup", "carol", "anyone?"))
		eventually(t, 10*time.Second, "a few refused attempts", func() bool { return rcv.hitCount() >= 20 })
		s.close()
		if n := len(rcv.got()); n != 0 {
			t.Fatalf("%d events accepted while refusing", n)
		}
		var pending int64
		rcv.set(http.StatusOK, 0)
		s = open(t, rcfg, wcfg)
		s.rec.DB().Model(&recorder.OutboxEvent{}).Where("status <> ?", recorder.OutboxDelivered).Count(&pending)
		t.Logf("%d events pending after the restart, %d refused attempts before it", pending, rcv.hitCount())
		// 9 for the first session; the second: started, joined, message,
		// and, closed by the restart's recovery, ended and chatSynced.
		deadline := time.Now().Add(15 * time.Second)
		for len(rcv.got()) < 14 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if len(rcv.got()) < 14 {
			var rows []recorder.OutboxEvent
			s.rec.DB().Order("id").Find(&rows)
			for _, r := range rows {
				t.Logf("%s %s %s attempts %d next %v err %q", r.ID, r.EventType, r.Status, r.Attempts, r.NextAttemptAt, r.LastError)
			}
			t.Fatalf("%d events arrived after the restart", len(rcv.got()))
		}
		time.Sleep(200 * time.Millisecond)
		rcv.checkOnce(t)
		want := map[string]int{webhook.MeetingStarted: 2, webhook.ParticipantJoined: 3, webhook.ChatMessageCreated: 3,
			webhook.ParticipantLeft: 2, webhook.MeetingEnded: 2, webhook.MeetingChatSynced: 2}
		if g := byType(rcv.got()); !equalCounts(g, want) {
			t.Errorf("got %v, want %v", g, want)
		}
		eventually(t, 5*time.Second, "14 rows delivered", func() bool { return countStatus(t, s, recorder.OutboxDelivered) == 14 })
		reasons := map[any]int{}
		for _, r := range rcv.got() {
			if r.Type == webhook.MeetingEnded {
				reasons[r.Data["endReason"]]++
			}
		}
		if reasons["left"] != 1 || reasons["recovered"] != 1 {
			t.Errorf("meeting.ended reasons %v, want one left and one recovered", reasons)
		}
	})
}

// TestTwoDeliveriesDrainOneOutbox: two Delivery instances on separate
// connections (two servers sharing the database) drain one outbox of a few
// hundred events; each is sent exactly once.
func TestTwoDeliveriesDrainOneOutbox(t *testing.T) {
	backends(t, func(t *testing.T, rcfg recorder.Config) {
		rcv := newReceiver(t)
		rcv.set(http.StatusOK, 2*time.Millisecond)
		all := rcv.endpoint("all", webhook.EventTypes...)
		base := webhook.Config{Endpoints: []webhook.Endpoint{all}, Schedule: fastSchedule(5), PollInterval: 20 * time.Millisecond,
			Workers: 4, Logger: quiet, APISecret: "testsecret-0123456789"}
		// Fill the outbox first: a recorder with the hook, no delivery.
		d0, err := webhook.New(base)
		if err != nil {
			t.Fatal(err)
		}
		rcfg0 := rcfg
		rcfg0.Outbox = d0
		rec0, err := recorder.Open(rcfg0)
		if err != nil {
			t.Fatal(err)
		}
		const rooms = 40
		var wg sync.WaitGroup
		for i := range rooms {
			room := fmt.Sprintf("room-%d", i)
			for _, c := range []chat.Change{joinC(room, "a"), msg(room, "a", "hi"), leaveC(room, "a"), endC(room)} {
				wg.Add(1)
				rec0.Write(c, func(err error) {
					if err != nil {
						t.Error(err)
					}
					wg.Done()
				})
			}
		}
		wg.Wait()
		if err := rec0.Close(); err != nil {
			t.Fatal(err)
		}
		const events = rooms * 6 // started, joined, message, left, ended, chatSynced

		// Two servers: two recorders (connection pools) on one database,
		// a Delivery each, started together.
		var ds []*webhook.Delivery
		var recs []*recorder.Recorder
		for i := range 2 {
			rec, err := recorder.Open(rcfg)
			if err != nil {
				t.Fatal(err)
			}
			recs = append(recs, rec)
			cfg := base
			cfg.Client = &http.Client{Transport: tagged{fmt.Sprint(i)}}
			d, err := webhook.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			ds = append(ds, d)
		}
		for i, d := range ds {
			if err := d.Start(recs[i].DB()); err != nil {
				t.Fatal(err)
			}
		}
		defer func() {
			for i := range ds {
				ds[i].Close()
				recs[i].Close()
			}
		}()
		eventually(t, 30*time.Second, "every event delivered", func() bool { return len(rcv.got()) >= events })
		time.Sleep(300 * time.Millisecond)
		rcv.checkOnce(t)
		if n := len(rcv.got()); n != events {
			t.Errorf("%d events accepted, want %d", n, events)
		}
		var n int64
		count := func() bool {
			recs[0].DB().Model(&recorder.OutboxEvent{}).Where("status = ? AND attempts = 1", recorder.OutboxDelivered).Count(&n)
			return n == events
		}
		deadline := time.Now().Add(5 * time.Second)
		for !count() && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if n != events {
			var odd []recorder.OutboxEvent
			recs[0].DB().Where("attempts <> 1").Find(&odd)
			for _, r := range odd {
				var atts []webhook.Attempt
				recs[0].DB().Where("delivery_id = ?", r.ID).Find(&atts)
				t.Logf("row %s %s attempts %d: %+v", r.ID, r.Status, r.Attempts, atts)
			}
			t.Errorf("%d rows delivered at the first attempt, want %d", n, events)
		}
		tagsMu.Lock()
		t.Logf("requests per instance: %v", tags)
		tagsMu.Unlock()
	})
}

var (
	tagsMu sync.Mutex
	tags   = map[string]int{}
)

// tagged counts requests per Delivery instance.
type tagged struct{ name string }

func (tg tagged) RoundTrip(req *http.Request) (*http.Response, error) {
	tagsMu.Lock()
	tags[tg.name]++
	tagsMu.Unlock()
	return http.DefaultTransport.RoundTrip(req)
}

// TestRetryRules: Retry-After is honoured, timeouts are retried, exhausted
// deliveries are marked failed (logged, counted), and 410 disables the
// endpoint, which stays disabled across a restart.
func TestRetryRules(t *testing.T) {
	backends(t, func(t *testing.T, rcfg recorder.Config) {
		rcv := newReceiver(t)
		ep := rcv.endpoint("e")
		wcfg := webhook.Config{Endpoints: []webhook.Endpoint{ep}, Schedule: []time.Duration{0, 10 * time.Millisecond, 10 * time.Millisecond},
			PollInterval: 20 * time.Millisecond, Timeout: 150 * time.Millisecond, Jitter: -1}
		failedBefore := counter(t, "backchannel_webhook_deliveries_total", "failed")

		// Retry-After: 1 (second) holds the retry back that long.
		rcv.mu.Lock()
		rcv.status, rcv.header = http.StatusServiceUnavailable, http.Header{"Retry-After": {"1"}}
		rcv.mu.Unlock()
		s := open(t, rcfg, wcfg)
		start := time.Now()
		s.write(t, joinC("r", "a")) // meeting.started + participant.joined
		eventually(t, 5*time.Second, "first attempts", func() bool { return rcv.hitCount() >= 2 })
		rcv.mu.Lock()
		rcv.status, rcv.header = http.StatusOK, nil
		rcv.mu.Unlock()
		eventually(t, 5*time.Second, "retries after Retry-After", func() bool { return len(rcv.got()) == 2 })
		if el := time.Since(start); el < 900*time.Millisecond {
			t.Errorf("retried after %v despite Retry-After: 1", el)
		}

		// Timeouts: a receiver slower than Timeout on every attempt; the
		// delivery fails after the schedule's 3 attempts.
		rcv.set(http.StatusOK, time.Second)
		s.write(t, leaveC("r", "a"), endC("r")) // left, ended, chatSynced
		eventually(t, 10*time.Second, "three failed deliveries", func() bool { return countStatus(t, s, recorder.OutboxFailed) == 3 })
		var atts []webhook.Attempt
		s.rec.DB().Order("id").Find(&atts)
		timeouts := 0
		for _, a := range atts {
			if a.Result != webhook.ResultDelivered && strings.Contains(a.Error, "deadline") {
				timeouts++
			}
		}
		if timeouts != 9 {
			t.Errorf("%d timed-out attempts logged, want 9 (3 deliveries × 3 attempts): %+v", timeouts, atts)
		}
		if d := counter(t, "backchannel_webhook_deliveries_total", "failed") - failedBefore; d < 3 {
			t.Errorf("failed deliveries counter rose by %v, want 3", d)
		}

		// 410 Gone: the endpoint is disabled, persistently.
		rcv.set(http.StatusGone, 0)
		s.write(t, joinC("r", "b"))
		eventually(t, 5*time.Second, "endpoint disabled", func() bool {
			var st webhook.EndpointState
			s.rec.DB().Where("id = ?", "e").Find(&st)
			return st.Disabled && countStatus(t, s, webhook.OutboxSending)+countStatus(t, s, recorder.OutboxPending) == 0
		})
		hits := rcv.hitCount()
		s.close()
		rcv.set(http.StatusOK, 0)
		s = open(t, rcfg, wcfg)
		s.write(t, msg("r", "b", "nobody hears this"), leaveC("r", "b"), endC("r"))
		time.Sleep(300 * time.Millisecond)
		if h := rcv.hitCount(); h != hits {
			t.Errorf("a disabled endpoint got %d more requests", h-hits)
		}
		if n := countStatus(t, s, recorder.OutboxPending); n != 0 {
			t.Errorf("%d rows pending for a disabled endpoint", n)
		}
	})
}

// counter reads the series of one of the delivery counters whose label
// (each has one) has the value label, from a registry they are registered
// on as a server registers them.
func counter(t testing.TB, name, label string) float64 {
	reg := prometheus.NewRegistry()
	if err := webhook.RegisterMetrics(reg, nil); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetValue() == label {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

// TestLeaseExpiredIsReclaimed: a row left "sending" by a server that died
// mid-attempt is sent again once its lease runs out.
func TestLeaseExpiredIsReclaimed(t *testing.T) {
	backends(t, func(t *testing.T, rcfg recorder.Config) {
		rcv := newReceiver(t)
		rcv.set(http.StatusInternalServerError, 0)
		wcfg := webhook.Config{Endpoints: []webhook.Endpoint{rcv.endpoint("e")}, Schedule: fastSchedule(3),
			PollInterval: 20 * time.Millisecond}
		s := open(t, rcfg, wcfg)
		s.close() // outbox rows are written, nobody delivers
		s = func() *stack {
			d, _ := webhook.New(webhook.Config{Endpoints: wcfg.Endpoints, Logger: quiet})
			rcfg.Outbox = d
			rec, err := recorder.Open(rcfg)
			if err != nil {
				t.Fatal(err)
			}
			st := &stack{rec: rec, d: d}
			t.Cleanup(func() { rec.Close() })
			return st
		}()
		s.write(t, joinC("r", "a"))
		// A dead server's claim: sending, lease over, one attempt counted.
		if err := s.rec.DB().Model(&recorder.OutboxEvent{}).Where("1 = 1").Updates(map[string]any{
			"status": webhook.OutboxSending, "attempts": 1, "next_attempt_at": time.Now().UTC().Add(-time.Second)}).Error; err != nil {
			t.Fatal(err)
		}
		// And one whose lease is still running is left alone.
		var rows []recorder.OutboxEvent
		s.rec.DB().Order("id").Find(&rows)
		if len(rows) != 2 {
			t.Fatalf("%d outbox rows, want 2", len(rows))
		}
		s.rec.DB().Model(&recorder.OutboxEvent{}).Where("id = ?", rows[1].ID).
			Update("next_attempt_at", time.Now().UTC().Add(time.Hour))
		rcv.set(http.StatusOK, 0)
		tookBack := counter(t, "backchannel_webhook_reclaimed_total", "lease")
		d, err := webhook.New(webhook.Config{Endpoints: wcfg.Endpoints, Logger: quiet, PollInterval: 20 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		if err := d.Start(s.rec.DB()); err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		eventually(t, 5*time.Second, "the expired lease's row delivered", func() bool { return len(rcv.got()) == 1 })
		time.Sleep(200 * time.Millisecond)
		if n := len(rcv.got()); n != 1 {
			t.Errorf("%d delivered, want only the expired lease's row", n)
		}
		var row recorder.OutboxEvent
		eventually(t, 5*time.Second, "the reclaimed row marked delivered", func() bool {
			s.rec.DB().Where("id = ?", rows[0].ID).Take(&row)
			return row.Status == recorder.OutboxDelivered
		})
		if row.Attempts != 2 {
			t.Errorf("reclaimed row delivered after %d attempts, want 2", row.Attempts)
		}
		if n := counter(t, "backchannel_webhook_reclaimed_total", "lease") - tookBack; n != 1 {
			t.Errorf("backchannel_webhook_reclaimed_total{reason=lease} rose by %v, want 1", n)
		}
	})
}
