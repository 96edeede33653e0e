package webhook

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/backchannel-rtc/backchannel/recorder"
)

// OutboxSending is the status of a row claimed by a worker; its
// next_attempt_at is then the end of the worker's lease.
const OutboxSending = "sending"

var (
	deliveries = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "backchannel_webhook_deliveries_total",
		Help: "Webhook deliveries that ended: delivered, failed (attempts exhausted) or gone (410, endpoint disabled).",
	}, []string{"result"})
	attempts = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "backchannel_webhook_attempts_total",
		Help: "Webhook delivery attempts by outcome: 2xx, 3xx, 4xx, 5xx, timeout, network.",
	}, []string{"outcome"})
	retries = promauto.NewCounter(prometheus.CounterOpts{
		Name: "backchannel_webhook_retries_scheduled_total",
		Help: "Failed webhook attempts that were scheduled for another try.",
	})
	attemptSeconds = promauto.NewHistogram(prometheus.HistogramOpts{
		Name:    "backchannel_webhook_attempt_duration_seconds",
		Help:    "Duration of webhook delivery attempts.",
		Buckets: prometheus.ExponentialBuckets(0.005, 3, 9),
	})
	enqueued = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "backchannel_webhook_events_enqueued_total",
		Help: "Outbox rows written, by event type (counted when written; a rolled-back batch is written again).",
	}, []string{"type"})
)

type endpoint struct {
	Endpoint
	wh *standardwebhooks.Webhook
}

// Delivery derives events (Hook), delivers them (Start) and serves the
// admin API (Register). Several Delivery instances, in one process or in
// several servers sharing a PostgreSQL, may drain one outbox.
type Delivery struct {
	cfg  Config
	log  *slog.Logger
	eps  []Endpoint
	byID map[string]*endpoint
	ids  []string
	wake chan struct{}

	mu       sync.Mutex
	disabled map[string]bool
	base     string

	db     *gorm.DB
	pg     bool
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	free   chan struct{} // a token per idle worker
}

// New validates cfg. The Hook works at once; delivery starts with Start.
func New(cfg Config) (*Delivery, error) {
	cfg.defaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	d := &Delivery{cfg: cfg, log: cfg.Logger, eps: cfg.Endpoints, byID: map[string]*endpoint{},
		wake: make(chan struct{}, 1), disabled: map[string]bool{}, base: cfg.PublicURL}
	for _, e := range cfg.Endpoints {
		wh, err := standardwebhooks.NewWebhook(e.Secret)
		if err != nil {
			return nil, fmt.Errorf("%w: endpoint %q: %v", ErrConfig, e.ID, err)
		}
		d.byID[e.ID] = &endpoint{Endpoint: e, wh: wh}
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

// Notify wakes the workers without blocking (an outbox row may be due).
func (d *Delivery) Notify() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// Start migrates the webhook tables, records the configured endpoints and
// starts the workers on db (the recorder's database).
func (d *Delivery) Start(db *gorm.DB) error {
	if err := Migrate(db); err != nil {
		return err
	}
	d.db, d.pg = db, db.Dialector.Name() == "postgres"
	if err := d.syncEndpoints(); err != nil {
		return err
	}
	if len(d.ids) == 0 {
		return nil // nothing to deliver: no polling at all (the API still answers)
	}
	d.ctx, d.cancel = context.WithCancel(context.Background())
	d.free = make(chan struct{}, d.cfg.Workers)
	for range d.cfg.Workers {
		d.free <- struct{}{}
	}
	d.wg.Add(1)
	go d.run()
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

// run is the dispatcher: it claims as many due rows as there are idle
// workers, hands each to a goroutine, and sleeps until woken, until the
// next row falls due or for PollInterval.
func (d *Delivery) run() {
	defer d.wg.Done()
	var inflight sync.WaitGroup
	defer inflight.Wait()
	lastRefresh := time.Now()
	quick := 0 // quick re-polls left after a wake-up
	for d.ctx.Err() == nil {
		if time.Since(lastRefresh) >= d.cfg.PollInterval {
			if err := d.loadDisabled(); err != nil && d.ctx.Err() == nil {
				d.log.Warn("webhook: endpoint state", "err", err)
			}
			lastRefresh = time.Now()
		}
		n := len(d.free)
		var rows []recorder.OutboxEvent
		var err error
		if n > 0 && len(d.ids) > 0 {
			rows, err = d.claim(n)
			if err != nil && d.ctx.Err() == nil {
				d.log.Warn("webhook: claiming outbox rows", "err", err)
			}
		}
		for i := range rows {
			<-d.free
			inflight.Add(1)
			go func(row recorder.OutboxEvent) {
				defer inflight.Done()
				d.deliver(row)
				d.free <- struct{}{}
				d.Notify()
			}(rows[i])
		}
		if n > 0 && len(rows) == n {
			continue // maybe more are due
		}
		wait := d.cfg.PollInterval
		if len(rows) == 0 && quick > 0 {
			// A batch that woke us may not be visible yet (PostgreSQL:
			// the hook notifies before its commit); look again soon.
			wait = min(wait, time.Duration(4-quick)*10*time.Millisecond)
			quick--
		} else if err == nil && n > 0 {
			if due, ok := d.nextDue(); ok {
				wait = min(wait, max(time.Until(due), time.Millisecond))
			}
		}
		t := time.NewTimer(wait)
		select {
		case <-d.ctx.Done():
		case <-d.wake:
			quick = 3
		case <-t.C:
		}
		t.Stop()
	}
}

// nextDue is when the earliest pending row of ours falls due.
func (d *Delivery) nextDue() (time.Time, bool) {
	var row recorder.OutboxEvent
	err := d.db.WithContext(d.ctx).Select("next_attempt_at").
		Where("endpoint IN ? AND status IN ?", d.ids, []string{recorder.OutboxPending, OutboxSending}).
		Order("next_attempt_at").Limit(1).Find(&row).Error
	if err != nil || row.NextAttemptAt.IsZero() {
		return time.Time{}, false
	}
	return row.NextAttemptAt, true
}

// claim reserves up to n due rows in one short transaction: pending rows
// due now and sending rows whose lease ran out, of configured endpoints
// that are not disabled. On PostgreSQL the SELECT takes row locks with
// SKIP LOCKED, so concurrent claimers (other workers, other servers) each
// get different rows and never wait on each other; on SQLite the
// transaction holds the database's write lock. The claimed rows become
// status sending, next_attempt_at the lease's end, attempts + 1; the
// attempt count is the fencing token finish checks.
func (d *Delivery) claim(n int) ([]recorder.OutboxEvent, error) {
	var rows []recorder.OutboxEvent
	now := time.Now().UTC()
	// Not d.ctx: a shutdown cancelling the commit could leave rows
	// claimed that this worker then believes it did not get (they would
	// wait for their lease to run out). Claimed rows are handed back.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := d.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		q := tx.Where("endpoint IN ? AND status IN ? AND next_attempt_at <= ?", d.ids,
			[]string{recorder.OutboxPending, OutboxSending}, now).
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
		}).Error
	})
	if err != nil {
		return nil, err
	}
	for i := range rows {
		rows[i].Attempts++
	}
	return rows, nil
}

// outcome is what one attempt gave.
type outcome struct {
	status     int
	err        error
	retryAfter time.Duration
	detail     string
}

// deliver makes one attempt and records it.
func (d *Delivery) deliver(row recorder.OutboxEvent) {
	ep := d.byID[row.Endpoint]
	var st stored
	if err := json.Unmarshal([]byte(row.Payload), &st); err != nil || st.WebhookID == "" {
		d.finish(row, "", time.Now(), 0, outcome{err: fmt.Errorf("unreadable outbox payload: %v", err)}, true)
		return
	}
	start := time.Now()
	oc := d.post(ep, st)
	if d.ctx.Err() != nil && oc.status == 0 {
		d.release(row, st.WebhookID, start)
		return
	}
	d.finish(row, st.WebhookID, start, time.Since(start), oc, false)
}

func (d *Delivery) post(ep *endpoint, st stored) outcome {
	ctx, cancel := context.WithTimeout(d.ctx, d.cfg.Timeout)
	defer cancel()
	ts := time.Now()
	body := []byte(st.Body)
	sig, err := ep.wh.Sign(st.WebhookID, ts, body)
	if err != nil {
		return outcome{err: err}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ep.URL, bytes.NewReader(body))
	if err != nil {
		return outcome{err: err}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Backchannel-Webhooks/1")
	req.Header.Set(standardwebhooks.HeaderWebhookID, st.WebhookID)
	req.Header.Set(standardwebhooks.HeaderWebhookTimestamp, strconv.FormatInt(ts.Unix(), 10))
	req.Header.Set(standardwebhooks.HeaderWebhookSignature, sig)
	resp, err := d.cfg.Client.Do(req)
	if err != nil {
		return outcome{err: err}
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	oc := outcome{status: resp.StatusCode, detail: strings.TrimSpace(string(snippet))}
	oc.retryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
	return oc
}

// parseRetryAfter reads seconds or an HTTP date (0: none).
func parseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(strings.TrimSpace(v)); err == nil {
		return max(time.Duration(s)*time.Second, 0)
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0)
	}
	return 0
}

func classify(oc outcome) string {
	switch {
	case oc.status >= 200 && oc.status < 600:
		return fmt.Sprintf("%dxx", oc.status/100)
	case errors.Is(oc.err, context.DeadlineExceeded):
		return "timeout"
	default:
		var ne net.Error
		if errors.As(oc.err, &ne) && ne.Timeout() {
			return "timeout"
		}
		return "network"
	}
}

// delay is the wait before the next attempt when made attempts were made:
// the schedule's, jittered, or Retry-After when that is longer; false when
// no attempt is left.
func (d *Delivery) delay(made int, retryAfter time.Duration) (time.Duration, bool) {
	s := d.cfg.Schedule
	if made >= len(s) {
		return 0, false
	}
	w := s[made]
	if j := d.cfg.Jitter; j > 0 && w > 0 {
		w += time.Duration((rand.Float64()*2 - 1) * j * float64(w))
	}
	if retryAfter > w {
		// Honoured up to the schedule's longest delay, or an hour if that
		// is shorter, so a wild header cannot park a delivery for ever.
		limit := time.Hour
		for _, x := range s {
			limit = max(limit, x)
		}
		w = min(retryAfter, limit)
	}
	return w, true
}

// finish records an attempt and moves the row on: delivered, pending for
// another attempt, or failed. The update is fenced on (status sending,
// attempts): if the lease ran out and another worker claimed the row, this
// worker's result is logged but the row is left to that worker.
func (d *Delivery) finish(row recorder.OutboxEvent, webhookID string, start time.Time, took time.Duration, oc outcome, broken bool) {
	now := time.Now().UTC()
	att := Attempt{ID: ulid.Make().String(), DeliveryID: row.ID, WebhookID: webhookID, Endpoint: row.Endpoint,
		Number: row.Attempts, StartedAt: start.UTC(), DurationMS: took.Milliseconds(), StatusCode: oc.status}
	upd := map[string]any{}
	errText := ""
	switch {
	case oc.err != nil:
		errText = oc.err.Error()
	case oc.status < 200 || oc.status > 299:
		errText = fmt.Sprintf("HTTP %d", oc.status)
		if oc.detail != "" {
			errText += ": " + oc.detail
		}
	}
	if !broken {
		attempts.WithLabelValues(classify(oc)).Inc()
		attemptSeconds.Observe(took.Seconds())
	}
	gone := oc.err == nil && oc.status == http.StatusGone
	switch {
	case broken:
		att.Result = ResultFailed
		upd = map[string]any{"status": recorder.OutboxFailed, "last_error": errText}
	case errText == "":
		att.Result = ResultDelivered
		upd = map[string]any{"status": recorder.OutboxDelivered, "delivered_at": now, "last_error": ""}
	case gone:
		att.Result = ResultGone
		errText += " (endpoint disabled)"
		upd = map[string]any{"status": recorder.OutboxFailed, "last_error": errText}
	default:
		if w, ok := d.delay(row.Attempts, oc.retryAfter); ok {
			att.Result = ResultRetry
			upd = map[string]any{"status": recorder.OutboxPending, "next_attempt_at": now.Add(w), "last_error": errText}
		} else {
			att.Result = ResultFailed
			upd = map[string]any{"status": recorder.OutboxFailed, "last_error": errText}
		}
	}
	att.Error = errText
	fenced := true
	err := d.db.Transaction(func(tx *gorm.DB) error {
		if err := tx.Create(&att).Error; err != nil {
			return err
		}
		res := tx.Model(&recorder.OutboxEvent{}).
			Where("id = ? AND status = ? AND attempts = ?", row.ID, OutboxSending, row.Attempts).Updates(upd)
		if res.Error != nil {
			return res.Error
		}
		fenced = res.RowsAffected == 1
		if gone && fenced {
			return d.disable(tx, row.Endpoint, errText, now)
		}
		return nil
	})
	log := d.log.With("delivery", row.ID, "webhook_id", webhookID, "type", row.EventType,
		"endpoint", row.Endpoint, "attempt", row.Attempts)
	if err != nil {
		// The lease runs out and the row is claimed again.
		log.Error("webhook: recording an attempt failed", "result", att.Result, "err", err)
		return
	}
	if !fenced {
		log.Warn("webhook: lease lost during the attempt; another worker owns the row now", "result", att.Result)
		return
	}
	switch att.Result {
	case ResultDelivered:
		deliveries.WithLabelValues(ResultDelivered).Inc()
		log.Debug("webhook: delivered", "status", oc.status, "took", took)
	case ResultRetry:
		retries.Inc()
		log.Info("webhook: attempt failed, will retry", "err", errText, "next", upd["next_attempt_at"])
	case ResultGone:
		deliveries.WithLabelValues(ResultGone).Inc()
		log.Warn("webhook: endpoint answered 410 Gone: disabled", "url", d.byID[row.Endpoint].URL)
	default:
		deliveries.WithLabelValues(ResultFailed).Inc()
		log.Error("webhook: delivery failed, giving up", "err", errText)
	}
}

// disable marks an endpoint disabled (410 Gone) and fails its pending
// rows: a receiver that said it is gone gets nothing more until it is
// enabled again (API, or a new URL in the configuration).
func (d *Delivery) disable(tx *gorm.DB, id, reason string, now time.Time) error {
	if err := tx.Model(&EndpointState{}).Where("id = ?", id).Updates(map[string]any{
		"disabled": true, "disabled_at": now, "disabled_reason": reason, "updated_at": now}).Error; err != nil {
		return err
	}
	if err := tx.Model(&recorder.OutboxEvent{}).Where("endpoint = ? AND status = ?", id, recorder.OutboxPending).
		Updates(map[string]any{"status": recorder.OutboxFailed, "last_error": "endpoint disabled: " + reason}).Error; err != nil {
		return err
	}
	d.mu.Lock()
	d.disabled[id] = true
	d.mu.Unlock()
	return nil
}

// release hands a row back after a shutdown cut its attempt short.
func (d *Delivery) release(row recorder.OutboxEvent, webhookID string, start time.Time) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := d.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Create(&Attempt{ID: ulid.Make().String(), DeliveryID: row.ID, WebhookID: webhookID,
			Endpoint: row.Endpoint, Number: row.Attempts, StartedAt: start.UTC(),
			DurationMS: time.Since(start).Milliseconds(), Result: ResultAborted, Error: "server shutting down"}).Error; err != nil {
			return err
		}
		return tx.Model(&recorder.OutboxEvent{}).
			Where("id = ? AND status = ? AND attempts = ?", row.ID, OutboxSending, row.Attempts).
			Updates(map[string]any{"status": recorder.OutboxPending, "next_attempt_at": time.Now().UTC(),
				"attempts": gorm.Expr("attempts - 1")}).Error
	})
	if err != nil {
		d.log.Warn("webhook: handing back a row at shutdown failed (its lease will run out)", "delivery", row.ID, "err", err)
	}
}

func decodeSecret(s string) ([]byte, error) {
	return base64.StdEncoding.DecodeString(strings.TrimPrefix(s, "whsec_"))
}
