package webhook

// One delivery attempt: POST the stored body, signed, with the attempt's
// deadline; then record it (webhook_attempts) and move the row on
// (delivered, retry at the schedule's next delay, failed, or gone), fenced
// on the claim so a worker whose lease ran out changes nothing.

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/oklog/ulid/v2"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"gorm.io/gorm"

	"github.com/backchannel-rtc/backchannel/recorder"
)

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
		attemptSeconds.WithLabelValues(row.Endpoint).Observe(took.Seconds())
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
