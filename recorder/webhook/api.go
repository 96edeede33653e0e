package webhook

// The admin API over the outbox: list deliveries, read one with its
// attempt log, redeliver one, list endpoints and enable a disabled one.
// Authorisation as the recorder's admin endpoints (Bearer token with the
// roomAdmin grant), and the token must not be limited to a room: webhooks
// span every room. Answers use the same envelope: {"success":true,"data":…}
// or {"success":false,"error":{"code":…,"message":…}}.

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"gorm.io/gorm"

	"github.com/backchannel-rtc/backchannel/auth"
	"github.com/backchannel-rtc/backchannel/recorder"
	"github.com/backchannel-rtc/backchannel/recorder/envelope"
)

// Register adds the webhook endpoints to mux (patterns under
// /v1/webhooks/). keys verifies admin tokens.
func (d *Delivery) Register(mux *http.ServeMux, keys auth.KeyProvider) {
	admin := func(h http.HandlerFunc) http.HandlerFunc {
		return func(w http.ResponseWriter, req *http.Request) {
			who, err := keys.Verify(auth.FromRequest(req))
			if err != nil {
				w.Header().Set("WWW-Authenticate", `Bearer realm="backchannel"`)
				envelope.Error(w, http.StatusUnauthorized, err.Error())
				return
			}
			if !who.Grant.RoomAdmin || who.Grant.Room != "" {
				envelope.Error(w, http.StatusForbidden, "webhooks need a roomAdmin token that is not limited to a room")
				return
			}
			if d.db == nil {
				envelope.Error(w, http.StatusServiceUnavailable, "webhook delivery is not running")
				return
			}
			h(w, req)
		}
	}
	mux.HandleFunc("GET /v1/webhooks/deliveries", admin(d.list))
	mux.HandleFunc("GET /v1/webhooks/deliveries/{id}", admin(d.get))
	mux.HandleFunc("POST /v1/webhooks/deliveries/{id}/redeliver", admin(d.redeliver))
	mux.HandleFunc("GET /v1/webhooks/endpoints", admin(d.endpoints))
	mux.HandleFunc("POST /v1/webhooks/endpoints/{id}/enable", admin(d.enable))
}

func (d *Delivery) fail(w http.ResponseWriter, req *http.Request, err error) {
	d.log.Error("webhook api", "path", req.URL.Path, "err", err)
	envelope.Error(w, http.StatusInternalServerError, "internal error")
}

// DeliveryJSON is one outbox row as the API shows it.
type DeliveryJSON struct {
	ID            string          `json:"id"`
	WebhookID     string          `json:"webhookId"`
	EventType     string          `json:"eventType"`
	Endpoint      string          `json:"endpoint"`
	Status        string          `json:"status"`
	Attempts      int             `json:"attempts"`
	NextAttemptAt *time.Time      `json:"nextAttemptAt,omitempty"`
	LastError     string          `json:"lastError,omitempty"`
	CreatedAt     time.Time       `json:"createdAt"`
	DeliveredAt   *time.Time      `json:"deliveredAt,omitempty"`
	Payload       json.RawMessage `json:"payload,omitempty"`
	AttemptLog    []AttemptJSON   `json:"attemptLog,omitempty"`
}

// AttemptJSON is one logged attempt.
type AttemptJSON struct {
	Number     int       `json:"number"`
	StartedAt  time.Time `json:"startedAt"`
	DurationMS int64     `json:"durationMs"`
	StatusCode int       `json:"statusCode,omitempty"`
	Result     string    `json:"result"`
	Error      string    `json:"error,omitempty"`
}

func deliveryJSON(row *recorder.OutboxEvent, withPayload bool) DeliveryJSON {
	var st stored
	_ = json.Unmarshal([]byte(row.Payload), &st)
	out := DeliveryJSON{ID: row.ID, WebhookID: st.WebhookID, EventType: row.EventType, Endpoint: row.Endpoint,
		Status: row.Status, Attempts: row.Attempts, LastError: row.LastError, CreatedAt: row.CreatedAt.UTC(),
		DeliveredAt: row.DeliveredAt}
	if row.Status == recorder.OutboxPending || row.Status == OutboxSending {
		t := row.NextAttemptAt.UTC()
		out.NextAttemptAt = &t
	}
	if withPayload && json.Valid([]byte(st.Body)) {
		out.Payload = json.RawMessage(st.Body)
	}
	return out
}

// list: GET /v1/webhooks/deliveries?status=&event=&endpoint=&cursor=&limit=
// newest first; cursor is the last id of the previous page.
func (d *Delivery) list(w http.ResponseWriter, req *http.Request) {
	q := req.URL.Query()
	limit, err := strconv.Atoi(q.Get("limit"))
	if err != nil {
		limit = 100
	}
	limit = max(1, min(500, limit))
	db := d.db.WithContext(req.Context()).Model(&recorder.OutboxEvent{})
	if s := q.Get("status"); s != "" {
		switch s {
		case recorder.OutboxPending, OutboxSending, recorder.OutboxDelivered, recorder.OutboxFailed:
		default:
			envelope.Error(w, http.StatusBadRequest, "status is one of pending, sending, delivered, failed")
			return
		}
		db = db.Where("status = ?", s)
	}
	if e := q.Get("event"); e != "" {
		db = db.Where("event_type = ?", e)
	}
	if e := q.Get("endpoint"); e != "" {
		db = db.Where("endpoint = ?", e)
	}
	if c := q.Get("cursor"); c != "" {
		db = db.Where("id < ?", c)
	}
	var rows []recorder.OutboxEvent
	if err := db.Order("id DESC").Limit(limit).Find(&rows).Error; err != nil {
		d.fail(w, req, err)
		return
	}
	out := make([]DeliveryJSON, 0, len(rows))
	for i := range rows {
		out = append(out, deliveryJSON(&rows[i], false))
	}
	next := ""
	if len(rows) == limit {
		next = rows[len(rows)-1].ID
	}
	envelope.Data(w, map[string]any{"deliveries": out, "nextCursor": next})
}

func (d *Delivery) row(w http.ResponseWriter, req *http.Request) (*recorder.OutboxEvent, bool) {
	var rows []recorder.OutboxEvent
	if err := d.db.WithContext(req.Context()).Where("id = ?", req.PathValue("id")).Limit(1).Find(&rows).Error; err != nil {
		d.fail(w, req, err)
		return nil, false
	}
	if len(rows) == 0 || rows[0].Endpoint == "" {
		envelope.Error(w, http.StatusNotFound, "delivery not found")
		return nil, false
	}
	return &rows[0], true
}

// get: GET /v1/webhooks/deliveries/{id}, with the body and attempt log.
func (d *Delivery) get(w http.ResponseWriter, req *http.Request) {
	row, ok := d.row(w, req)
	if !ok {
		return
	}
	var atts []Attempt
	if err := d.db.WithContext(req.Context()).Where("delivery_id = ?", row.ID).Order("id").Find(&atts).Error; err != nil {
		d.fail(w, req, err)
		return
	}
	out := deliveryJSON(row, true)
	out.AttemptLog = make([]AttemptJSON, 0, len(atts))
	for _, a := range atts {
		out.AttemptLog = append(out.AttemptLog, AttemptJSON{a.Number, a.StartedAt.UTC(), a.DurationMS, a.StatusCode, a.Result, a.Error})
	}
	envelope.Data(w, out)
}

// redeliver: POST /v1/webhooks/deliveries/{id}/redeliver. The row goes
// back to pending, due now, with a fresh retry schedule; the body and
// webhook-id are unchanged (receivers deduplicate on webhook-id).
func (d *Delivery) redeliver(w http.ResponseWriter, req *http.Request) {
	row, ok := d.row(w, req)
	if !ok {
		return
	}
	if _, known := d.byID[row.Endpoint]; !known {
		envelope.Error(w, http.StatusConflict, "endpoint "+strconv.Quote(row.Endpoint)+" is not configured on this server")
		return
	}
	if d.isDisabled(row.Endpoint) {
		envelope.Error(w, http.StatusConflict, "endpoint "+strconv.Quote(row.Endpoint)+" is disabled; enable it first")
		return
	}
	res := d.db.WithContext(req.Context()).Model(&recorder.OutboxEvent{}).
		Where("id = ? AND status <> ?", row.ID, OutboxSending).
		Updates(map[string]any{"status": recorder.OutboxPending, "next_attempt_at": time.Now().UTC(),
			"attempts": 0, "delivered_at": gorm.Expr("NULL")})
	if res.Error != nil {
		d.fail(w, req, res.Error)
		return
	}
	if res.RowsAffected == 0 {
		envelope.Error(w, http.StatusConflict, "an attempt is in progress; try again when it ends")
		return
	}
	d.notify(row.Endpoint)
	row, _ = d.row(w, req)
	if row != nil {
		envelope.Data(w, deliveryJSON(row, false))
	}
}

// EndpointJSON is an endpoint as the API shows it (never its secret).
type EndpointJSON struct {
	ID             string     `json:"id"`
	URL            string     `json:"url"`
	Events         []string   `json:"events"`
	PrivateChat    bool       `json:"privateChat"`
	Disabled       bool       `json:"disabled"`
	DisabledAt     *time.Time `json:"disabledAt,omitempty"`
	DisabledReason string     `json:"disabledReason,omitempty"`
}

func (d *Delivery) endpoints(w http.ResponseWriter, req *http.Request) {
	var states []EndpointState
	if err := d.db.WithContext(req.Context()).Where("id IN ?", append(d.ids, "")).Find(&states).Error; err != nil {
		d.fail(w, req, err)
		return
	}
	byID := map[string]EndpointState{}
	for _, s := range states {
		byID[s.ID] = s
	}
	out := make([]EndpointJSON, 0, len(d.eps))
	for _, e := range d.eps {
		s := byID[e.ID]
		ev := e.Events
		if len(ev) == 0 {
			for _, t := range EventTypes {
				if e.Wants(t) {
					ev = append(ev, t)
				}
			}
		}
		out = append(out, EndpointJSON{ID: e.ID, URL: e.URL, Events: ev, PrivateChat: e.PrivateChat,
			Disabled: s.Disabled, DisabledAt: s.DisabledAt, DisabledReason: s.DisabledReason})
	}
	envelope.Data(w, map[string]any{"endpoints": out})
}

// enable: POST /v1/webhooks/endpoints/{id}/enable re-enables an endpoint a
// 410 disabled. Deliveries failed meanwhile stay failed (redeliver them
// one by one if wanted).
func (d *Delivery) enable(w http.ResponseWriter, req *http.Request) {
	id := req.PathValue("id")
	if _, ok := d.byID[id]; !ok {
		envelope.Error(w, http.StatusNotFound, "endpoint not found")
		return
	}
	if err := d.db.WithContext(req.Context()).Model(&EndpointState{}).Where("id = ?", id).Updates(map[string]any{
		"disabled": false, "disabled_at": gorm.Expr("NULL"), "disabled_reason": "", "updated_at": time.Now().UTC()}).Error; err != nil {
		d.fail(w, req, err)
		return
	}
	d.mu.Lock()
	delete(d.disabled, id)
	d.mu.Unlock()
	d.notify(id)
	envelope.Data(w, map[string]any{"id": id, "disabled": false})
}
