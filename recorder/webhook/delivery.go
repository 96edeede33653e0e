package webhook

// The delivery loops. Each endpoint has its own: it claims only that
// endpoint's due rows, at most as many as it has idle workers
// (Config.Workers), and sends each on a goroutine of its own. An endpoint
// that never answers ties up its own workers for Config.Timeout per
// attempt and nobody else's: shared workers let one hung receiver delay
// every other endpoint's deliveries by tens of seconds
// (TestHungEndpointDelaysOnlyItself).

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/backchannel-rtc/backchannel/recorder"
)

// OutboxSending is the status of a row claimed by a worker; its
// next_attempt_at is then the end of the worker's lease.
const OutboxSending = "sending"

type endpoint struct {
	Endpoint
	wh *standardwebhooks.Webhook
	// wake (cap 1) tells its loop to look for due rows now: a batch with
	// rows for it committed, a worker became idle, or a row was redelivered.
	wake chan struct{}
}

func (e *endpoint) signal() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// Delivery derives events (Events, as the recorder's Outbox), delivers
// them (Start) and serves the admin API (Register). Several Delivery
// instances, in one process or in several servers sharing a PostgreSQL,
// may drain one outbox.
type Delivery struct {
	cfg  Config
	log  *slog.Logger
	eps  []Endpoint
	byID map[string]*endpoint
	ids  []string

	mu       sync.Mutex
	disabled map[string]bool
	base     string

	db     *gorm.DB
	pg     bool
	node   string        // this cluster node's id (SetNode); empty on a single node
	ttl    time.Duration // how long a node's heartbeat stays fresh
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// New validates cfg. Events works at once; delivery starts with Start.
func New(cfg Config) (*Delivery, error) {
	cfg.defaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	d := &Delivery{cfg: cfg, log: cfg.Logger, eps: cfg.Endpoints, byID: map[string]*endpoint{},
		disabled: map[string]bool{}, base: cfg.PublicURL}
	for _, e := range cfg.Endpoints {
		wh, err := standardwebhooks.NewWebhook(e.Secret)
		if err != nil {
			return nil, fmt.Errorf("%w: endpoint %q: %v", ErrConfig, e.ID, err)
		}
		d.byID[e.ID] = &endpoint{Endpoint: e, wh: wh, wake: make(chan struct{}, 1)}
		d.ids = append(d.ids, e.ID)
	}
	return d, nil
}

// Endpoints are the configured endpoints.
func (d *Delivery) Endpoints() []Endpoint { return d.eps }

// SetBaseURL sets the base of chatDownloadUrl when Config.PublicURL is
// empty (the server's own address).
func (d *Delivery) SetBaseURL(u string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cfg.PublicURL == "" {
		d.base = u
	}
}

func (d *Delivery) baseURL() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.base
}

func (d *Delivery) isDisabled(id string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.disabled[id]
}

// Notify wakes every endpoint's loop without blocking (an outbox row may
// be due).
func (d *Delivery) Notify() {
	for _, e := range d.byID {
		e.signal()
	}
}

// notify wakes the loop of endpoint id, if it is configured here.
func (d *Delivery) notify(id string) {
	if e := d.byID[id]; e != nil {
		e.signal()
	}
}

// SetNode makes this Delivery a cluster node's (before Start): the rows it
// claims carry node, and a row claimed by a node whose heartbeat in
// cluster_nodes is older than ttl (it died mid-attempt) is claimed again
// once it has been held for ttl, instead of after the whole Lease
// (Timeout + 30s by default). A node that only looked dead may still
// finish its attempt: the receiver then gets the event twice, under the
// same webhook-id, as with any retry.
func (d *Delivery) SetNode(node string, ttl time.Duration) {
	d.node, d.ttl = node, ttl
}

// Start records the configured endpoints and starts the workers on db (the
// recorder's database, migrated by recorder.Open: its tables included).
func (d *Delivery) Start(db *gorm.DB) error {
	d.db, d.pg = db, db.Dialector.Name() == "postgres"
	if err := d.syncEndpoints(); err != nil {
		return err
	}
	if len(d.ids) == 0 {
		return nil // nothing to deliver: no polling at all (the API still answers)
	}
	d.ctx, d.cancel = context.WithCancel(context.Background())
	d.wg.Add(1 + len(d.ids))
	go d.refresh()
	for _, id := range d.ids {
		go d.run(d.byID[id])
	}
	return nil
}

// Close stops the workers. Attempts in flight are cancelled and their rows
// handed back (pending, due now, the attempt not counted), so nothing is
// lost; the next start (or another server) sends them.
func (d *Delivery) Close() {
	if d.cancel == nil {
		return
	}
	d.cancel()
	d.wg.Wait()
}

// syncEndpoints records each configured endpoint; one whose URL changed
// since it was disabled is enabled again (a new receiver).
func (d *Delivery) syncEndpoints() error {
	now := time.Now().UTC()
	for _, e := range d.eps {
		var st EndpointState
		if err := d.db.Where("id = ?", e.ID).Limit(1).Find(&st).Error; err != nil {
			return fmt.Errorf("webhook: endpoints: %w", err)
		}
		var err error
		switch {
		case st.ID == "":
			err = d.db.Clauses(clause.OnConflict{DoNothing: true}).
				Create(&EndpointState{ID: e.ID, URL: e.URL, UpdatedAt: now}).Error
		case st.URL != e.URL:
			err = d.db.Model(&EndpointState{}).Where("id = ?", e.ID).Updates(map[string]any{
				"url": e.URL, "disabled": false, "disabled_at": nil, "disabled_reason": "", "updated_at": now}).Error
		}
		if err != nil {
			return fmt.Errorf("webhook: endpoints: %w", err)
		}
	}
	if err := d.loadDisabled(); err != nil {
		return err
	}
	// Rows written for a disabled endpoint before its state was known
	// (recovery at start-up runs the hook before Start) fail as its
	// pending rows did when it was disabled.
	var off []string
	d.mu.Lock()
	for id := range d.disabled {
		off = append(off, id)
	}
	d.mu.Unlock()
	if len(off) == 0 {
		return nil
	}
	return d.db.Model(&recorder.OutboxEvent{}).Where("endpoint IN ? AND status = ?", off, recorder.OutboxPending).
		Updates(map[string]any{"status": recorder.OutboxFailed, "last_error": "endpoint disabled"}).Error
}

func (d *Delivery) loadDisabled() error {
	var ids []string
	if err := d.db.Model(&EndpointState{}).Where("disabled = ?", true).Pluck("id", &ids).Error; err != nil {
		return err
	}
	m := make(map[string]bool, len(ids))
	for _, id := range ids {
		m[id] = true
	}
	d.mu.Lock()
	d.disabled = m
	d.mu.Unlock()
	return nil
}

// refresh reloads which endpoints are disabled (another server may have
// had a 410, or an admin enabled one) every PollInterval.
func (d *Delivery) refresh() {
	defer d.wg.Done()
	t := time.NewTicker(d.cfg.PollInterval)
	defer t.Stop()
	for {
		select {
		case <-d.ctx.Done():
			return
		case <-t.C:
		}
		if err := d.loadDisabled(); err != nil && d.ctx.Err() == nil {
			d.log.Warn("webhook: endpoint state", "err", err)
		}
	}
}

// run is endpoint e's loop: it claims as many of e's due rows as e has
// idle workers, hands each to a goroutine, and sleeps until woken, until
// e's next row falls due or for PollInterval.
func (d *Delivery) run(e *endpoint) {
	defer d.wg.Done()
	var inflight sync.WaitGroup
	defer inflight.Wait()
	free := make(chan struct{}, d.cfg.Workers) // a token per idle worker
	for range d.cfg.Workers {
		free <- struct{}{}
	}
	for d.ctx.Err() == nil {
		n := len(free)
		var rows []recorder.OutboxEvent
		var err error
		disabled := d.isDisabled(e.ID)
		if n > 0 && !disabled {
			rows, err = d.claim(e.ID, n)
			if err != nil && d.ctx.Err() == nil {
				d.log.Warn("webhook: claiming outbox rows", "endpoint", e.ID, "err", err)
			}
		}
		for i := range rows {
			<-free
			inflight.Add(1)
			go func(row recorder.OutboxEvent) {
				defer inflight.Done()
				d.deliver(row)
				free <- struct{}{}
				e.signal()
			}(rows[i])
		}
		if n > 0 && len(rows) == n {
			continue // maybe more are due
		}
		wait := d.cfg.PollInterval
		if err == nil && n > 0 && !disabled {
			if due, ok := d.nextDue(e.ID); ok {
				wait = min(wait, max(time.Until(due), time.Millisecond))
			}
		}
		t := time.NewTimer(wait)
		select {
		case <-d.ctx.Done():
		case <-e.wake:
		case <-t.C:
		}
		t.Stop()
	}
}

// nextDue is when endpoint id's earliest pending row falls due.
func (d *Delivery) nextDue(id string) (time.Time, bool) {
	var row recorder.OutboxEvent
	err := d.db.WithContext(d.ctx).Select("next_attempt_at").
		Where("endpoint = ? AND status IN ?", id, []string{recorder.OutboxPending, OutboxSending}).
		Order("next_attempt_at").Limit(1).Find(&row).Error
	if err != nil || row.NextAttemptAt.IsZero() {
		return time.Time{}, false
	}
	return row.NextAttemptAt, true
}

// claim reserves up to n due rows of endpoint id in one short
// transaction: pending rows due now and sending rows whose lease ran out,
// unless the endpoint is disabled. On PostgreSQL the SELECT takes row locks with
// SKIP LOCKED, so concurrent claimers (other workers, other servers) each
// get different rows and never wait on each other; on SQLite the
// transaction holds the database's write lock. The claimed rows become
// status sending, next_attempt_at the lease's end, attempts + 1; the
// attempt count is the fencing token finish checks.
func (d *Delivery) claim(id string, n int) ([]recorder.OutboxEvent, error) {
	var rows []recorder.OutboxEvent
	now := time.Now().UTC()
	// Not d.ctx: a shutdown cancelling the commit could leave rows
	// claimed that this worker then believes it did not get (they would
	// wait for their lease to run out). Claimed rows are handed back.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := d.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		q := tx.Where("endpoint = ?", id).Where(d.claimable(tx, now)).
			Where("endpoint NOT IN (?)", tx.Model(&EndpointState{}).Select("id").Where("disabled = ?", true)).
			Order("next_attempt_at, id").Limit(n)
		if d.pg {
			q = q.Clauses(clause.Locking{Strength: "UPDATE", Options: "SKIP LOCKED"})
		}
		if err := q.Find(&rows).Error; err != nil {
			return err
		}
		if len(rows) == 0 {
			return nil
		}
		ids := make([]string, len(rows))
		for i := range rows {
			ids[i] = rows[i].ID
		}
		return tx.Model(&recorder.OutboxEvent{}).Where("id IN ?", ids).Updates(map[string]any{
			"status": OutboxSending, "next_attempt_at": now.Add(d.cfg.Lease), "attempts": gorm.Expr("attempts + 1"),
			"claimed_by": d.node,
		}).Error
	})
	if err != nil {
		return nil, err
	}
	for i := range rows {
		if rows[i].Status == OutboxSending {
			d.tookBack(rows[i], now)
		}
		rows[i].Attempts++
	}
	return rows, nil
}

// tookBack counts and logs a row claim took from a worker that stopped
// mid-attempt: its lease ran out, or its cluster node is dead.
func (d *Delivery) tookBack(row recorder.OutboxEvent, now time.Time) {
	reason := "lease"
	if row.NextAttemptAt.After(now) {
		reason = "dead_node"
	}
	reclaimed.WithLabelValues(reason).Inc()
	d.log.Info("webhook: sending a delivery again that another worker left mid-attempt", "delivery", row.ID,
		"endpoint", row.Endpoint, "type", row.EventType, "reason", reason, "node", row.ClaimedBy)
}

// claimable is the condition on rows claim may take: pending rows due now,
// sending rows whose lease ran out and, on a cluster node, sending rows
// held for at least the node TTL by another node that is no longer live
// (its heartbeat, on the database's clock, is older than the TTL).
func (d *Delivery) claimable(tx *gorm.DB, now time.Time) *gorm.DB {
	db := tx.Session(&gorm.Session{NewDB: true})
	c := db.Where("status IN ? AND next_attempt_at <= ?", []string{recorder.OutboxPending, OutboxSending}, now)
	if d.node == "" || d.ttl <= 0 || !d.pg {
		return c // clusters run on PostgreSQL only (the SQL below is its)
	}
	live := db.Model(&recorder.ClusterNode{}).Select("id").
		Where("heartbeat_at > now() - make_interval(secs => ?)", d.ttl.Seconds())
	return c.Or("status = ? AND claimed_by NOT IN ? AND next_attempt_at <= ? AND claimed_by NOT IN (?)",
		OutboxSending, []string{"", d.node}, now.Add(d.cfg.Lease-d.ttl), live)
}
