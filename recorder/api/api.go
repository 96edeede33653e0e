package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"gorm.io/gorm"

	"github.com/backchannel-rtc/backchannel/auth"
	"github.com/backchannel-rtc/backchannel/chat"
	"github.com/backchannel-rtc/backchannel/recorder"
	"github.com/backchannel-rtc/backchannel/recorder/attachments"
	"github.com/backchannel-rtc/backchannel/recorder/envelope"
	"github.com/backchannel-rtc/backchannel/recorder/export"
	"github.com/backchannel-rtc/backchannel/recorder/links"
)

// Config tunes the HTTP API.
type Config struct {
	// PublicURL is the base of absolute URLs handed out (e.g.
	// "https://meet.example.com"); "" uses the request's scheme and Host.
	PublicURL string
	// ChatURLTTL is how long a chat download URL works (default 1h).
	ChatURLTTL time.Duration
	// AttachmentURLTTL is how long an attachment URL from
	// /v1/attachments/{id}/url works (default 1h).
	AttachmentURLTTL time.Duration
	// CSVAttachmentURLTTL is how long the file URLs inside a CSV work
	// (default 7 days: a downloaded CSV stays useful for a while).
	CSVAttachmentURLTTL time.Duration
	// MaxUploadBytes caps an attachment (default 25 MiB).
	MaxUploadBytes int64
	// UploadRate, UploadBurst and UploadRoomQuota limit uploads (see
	// attachments.Config; zero: no limit).
	UploadRate      float64
	UploadBurst     int
	UploadRoomQuota int64
	// UploadGrace is how long an upload no message references is kept
	// (attachments.Config.Grace; 0: forever).
	UploadGrace time.Duration
	// Now is the clock (tests); default time.Now.
	Now func() time.Time
}

type api struct {
	r    *recorder.Recorder
	db   *gorm.DB
	x    *export.Exporter
	keys auth.KeyProvider
	cfg  Config
	sig  links.Signer
	log  *slog.Logger
}

// Register adds the recorder's endpoints to mux (patterns under /v1/),
// the attachment endpoints (recorder/attachments) included. The returned
// Service's Close stops the upload sweeper.
func Register(mux *http.ServeMux, r *recorder.Recorder, keys auth.KeyProvider, cfg Config) (*attachments.Service, error) {
	if cfg.ChatURLTTL <= 0 {
		cfg.ChatURLTTL = time.Hour
	}
	if cfg.AttachmentURLTTL <= 0 {
		cfg.AttachmentURLTTL = time.Hour
	}
	if cfg.CSVAttachmentURLTTL <= 0 {
		cfg.CSVAttachmentURLTTL = 7 * 24 * time.Hour
	}
	if cfg.MaxUploadBytes <= 0 {
		cfg.MaxUploadBytes = 25 << 20
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	cfg.PublicURL = strings.TrimRight(cfg.PublicURL, "/")
	x, err := export.New(r)
	if err != nil {
		return nil, err
	}
	a := &api{r: r, db: r.DB(), x: x, keys: keys, cfg: cfg, sig: links.NewSigner(keys.APISecret), log: r.Logger()}
	att := attachments.Register(mux, r, keys, attachments.Config{PublicURL: cfg.PublicURL, URLTTL: cfg.AttachmentURLTTL,
		MaxUploadBytes: cfg.MaxUploadBytes, UploadRate: cfg.UploadRate, UploadBurst: cfg.UploadBurst,
		RoomQuota: cfg.UploadRoomQuota, Grace: cfg.UploadGrace, Now: cfg.Now})
	mux.HandleFunc("GET /v1/meetings", a.admin(a.listMeetings))
	mux.HandleFunc("GET /v1/meetings/{id}", a.admin(a.getMeeting))
	mux.HandleFunc("GET /v1/sessions/{id}/messages", a.admin(a.sessionMessages))
	mux.HandleFunc("GET /v1/meetings/{id}/messages/search", a.admin(a.search))
	mux.HandleFunc("GET /v1/sessions/{id}/chat", a.admin(a.sessionChat))
	mux.HandleFunc("GET /v1/meetings/{id}/chat", a.admin(a.meetingChat))
	mux.HandleFunc("GET /v1/chat-replay/sessions/{id}", a.replayCSV)
	mux.HandleFunc("GET /v1/chat-replay/meetings/{id}", a.replayCSV)
	return att, nil
}

// Handler returns a mux with only the recorder's endpoints.
func Handler(r *recorder.Recorder, keys auth.KeyProvider, cfg Config) (http.Handler, error) {
	mux := http.NewServeMux()
	// No grace here, so no sweeper to stop.
	cfg.UploadGrace = 0
	if _, err := Register(mux, r, keys, cfg); err != nil {
		return nil, err
	}
	return mux, nil
}

func (a *api) fail(w http.ResponseWriter, req *http.Request, err error) {
	a.log.Error("recorder api", "path", req.URL.Path, "err", err)
	envelope.Error(w, http.StatusInternalServerError, "internal error")
}

// baseURL is where absolute URLs point.
func (a *api) baseURL(req *http.Request) string { return links.BaseURL(req, a.cfg.PublicURL) }

type adminHandler func(w http.ResponseWriter, req *http.Request, who auth.Identity)

func (a *api) admin(h adminHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, req *http.Request) {
		who, err := a.keys.Verify(auth.FromRequest(req))
		if err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="backchannel"`)
			envelope.Error(w, http.StatusUnauthorized, err.Error())
			return
		}
		if !who.Grant.RoomAdmin {
			envelope.Error(w, http.StatusForbidden, "token lacks the roomAdmin grant")
			return
		}
		h(w, req, who)
	}
}

// mayAdmin reports whether an admin token covers room.
func mayAdmin(who auth.Identity, room string) bool {
	return who.Grant.Room == "" || who.Grant.Room == room
}

// clampInt parses a query integer and clamps it to lo..hi (def if absent
// or unparsable).
func clampInt(s string, def, lo, hi int) int {
	v, err := strconv.Atoi(s)
	if err != nil {
		v = def
	}
	return max(lo, min(hi, v))
}

type meetingJSON struct {
	ID           string    `json:"id"`
	Room         string    `json:"room"`
	CreatedAt    time.Time `json:"createdAt"`
	SessionCount int64     `json:"sessionCount"`
	Live         bool      `json:"live"`
}

type participantJSON struct {
	Identity string     `json:"identity"`
	Name     string     `json:"name"`
	JoinedAt time.Time  `json:"joinedAt"`
	LeftAt   *time.Time `json:"leftAt"`
}

type sessionJSON struct {
	ID           string            `json:"id"`
	MeetingID    string            `json:"meetingId"`
	Room         string            `json:"room"`
	StartedAt    time.Time         `json:"startedAt"`
	EndedAt      *time.Time        `json:"endedAt"`
	EndReason    string            `json:"endReason,omitempty"`
	MessageCount int64             `json:"messageCount"`
	Participants []participantJSON `json:"participants"`
}

func (a *api) listMeetings(w http.ResponseWriter, req *http.Request, who auth.Identity) {
	q := req.URL.Query()
	room := q.Get("room")
	if who.Grant.Room != "" {
		if room != "" && room != who.Grant.Room {
			envelope.Error(w, http.StatusForbidden, "token is for another room")
			return
		}
		room = who.Grant.Room
	}
	limit := clampInt(q.Get("limit"), 100, 1, 500)
	db := a.db.WithContext(req.Context()).Model(&recorder.Meeting{})
	if room != "" {
		db = db.Where("room = ?", room)
	}
	if c := q.Get("cursor"); c != "" {
		db = db.Where("id < ?", c)
	}
	var ms []recorder.Meeting
	if err := db.Order("id DESC").Limit(limit).Find(&ms).Error; err != nil {
		a.fail(w, req, err)
		return
	}
	out := make([]meetingJSON, 0, len(ms))
	for _, m := range ms {
		mj := meetingJSON{ID: m.ID, Room: m.Room, CreatedAt: m.CreatedAt.UTC()}
		a.db.Model(&recorder.Session{}).Where("meeting_id = ?", m.ID).Count(&mj.SessionCount)
		var open int64
		a.db.Model(&recorder.Session{}).Where("meeting_id = ? AND ended_at IS NULL", m.ID).Count(&open)
		mj.Live = open > 0
		out = append(out, mj)
	}
	next := ""
	if len(ms) == limit {
		next = ms[len(ms)-1].ID
	}
	envelope.Data(w, map[string]any{"meetings": out, "nextCursor": next})
}

// loadByID loads the {id} row an admin may see, or answers 404 (also for
// a room the token does not cover: never tell that it exists).
func loadByID[T any](a *api, w http.ResponseWriter, req *http.Request, who auth.Identity, what string, room func(*T) string) (*T, bool) {
	var v T
	err := a.db.WithContext(req.Context()).Where("id = ?", req.PathValue("id")).Take(&v).Error
	if errors.Is(err, gorm.ErrRecordNotFound) || (err == nil && !mayAdmin(who, room(&v))) {
		envelope.Error(w, http.StatusNotFound, what+" not found")
		return nil, false
	}
	if err != nil {
		a.fail(w, req, err)
		return nil, false
	}
	return &v, true
}

func (a *api) meeting(w http.ResponseWriter, req *http.Request, who auth.Identity) (*recorder.Meeting, bool) {
	return loadByID(a, w, req, who, "meeting", func(m *recorder.Meeting) string { return m.Room })
}

func (a *api) session(w http.ResponseWriter, req *http.Request, who auth.Identity) (*recorder.Session, bool) {
	return loadByID(a, w, req, who, "session", func(s *recorder.Session) string { return s.Room })
}

func (a *api) getMeeting(w http.ResponseWriter, req *http.Request, who auth.Identity) {
	m, ok := a.meeting(w, req, who)
	if !ok {
		return
	}
	db := a.db.WithContext(req.Context())
	var ss []recorder.Session
	if err := db.Where("meeting_id = ?", m.ID).Order("id").Find(&ss).Error; err != nil {
		a.fail(w, req, err)
		return
	}
	out := make([]sessionJSON, 0, len(ss))
	live := false
	for _, s := range ss {
		sj := sessionJSON{ID: s.ID, MeetingID: s.MeetingID, Room: s.Room, StartedAt: s.StartedAt.UTC(),
			EndedAt: s.EndedAt, EndReason: s.EndReason, Participants: []participantJSON{}}
		live = live || s.EndedAt == nil
		db.Model(&recorder.MessageRow{}).Where("session_id = ?", s.ID).Count(&sj.MessageCount)
		var ps []recorder.Participant
		if err := db.Where("session_id = ?", s.ID).Order("joined_at, identity").Find(&ps).Error; err != nil {
			a.fail(w, req, err)
			return
		}
		for _, p := range ps {
			sj.Participants = append(sj.Participants, participantJSON{p.Identity, p.Name, p.JoinedAt.UTC(), p.LeftAt})
		}
		out = append(out, sj)
	}
	envelope.Data(w, map[string]any{
		"meeting":  meetingJSON{ID: m.ID, Room: m.Room, CreatedAt: m.CreatedAt.UTC(), SessionCount: int64(len(ss)), Live: live},
		"sessions": out,
	})
}

// messageJSON is the admin view of a message: private recipients included.
type messageJSON struct {
	chat.Message
	SessionID     string `json:"sessionId"`
	MeetingID     string `json:"meetingId"`
	AttachmentURL string `json:"attachmentUrl,omitempty"`
}

// MarshalJSON writes the message as protocol does (its times in
// protocol.TimeFormat), kind and text always included (chat packets leave
// them out at their defaults; this API's object keeps them), and then the
// admin fields: the embedded Message's own MarshalJSON would otherwise be
// promoted and drop them.
func (m messageJSON) MarshalJSON() ([]byte, error) {
	b, err := m.Message.MarshalJSONWithDefaults()
	if err != nil {
		return nil, err
	}
	extra, err := json.Marshal(struct {
		SessionID     string `json:"sessionId"`
		MeetingID     string `json:"meetingId"`
		AttachmentURL string `json:"attachmentUrl,omitempty"`
	}{m.SessionID, m.MeetingID, m.AttachmentURL})
	if err != nil {
		return nil, err
	}
	// Both are objects, the message never empty: join them.
	return append(append(b[:len(b)-1], ','), extra[1:]...), nil
}

func (a *api) messagesJSON(req *http.Request, rows []recorder.MessageRow) ([]messageJSON, error) {
	msgs, err := a.r.Messages(req.Context(), rows)
	if err != nil {
		return nil, err
	}
	out := make([]messageJSON, 0, len(rows))
	exp := a.cfg.Now().Add(a.cfg.AttachmentURLTTL)
	for i := range rows {
		mj := messageJSON{Message: msgs[i], SessionID: rows[i].SessionID, MeetingID: rows[i].MeetingID}
		if mj.Attachment != nil {
			mj.AttachmentURL = a.baseURL(req) + links.AttachmentPath(mj.Attachment.ID) + "?" +
				a.sig.AttachmentQuery(mj.Attachment.ID, "", exp)
		}
		out = append(out, mj)
	}
	return out, nil
}

func (a *api) sessionMessages(w http.ResponseWriter, req *http.Request, who auth.Identity) {
	s, ok := a.session(w, req, who)
	if !ok {
		return
	}
	q := req.URL.Query()
	limit := clampInt(q.Get("limit"), 100, 1, 500)
	after, ok := seqCursor(w, q)
	if !ok {
		return
	}
	var rows []recorder.MessageRow
	if err := a.db.WithContext(req.Context()).Where("session_id = ? AND seq > ?", s.ID, after).
		Order("seq").Limit(limit).Find(&rows).Error; err != nil {
		a.fail(w, req, err)
		return
	}
	msgs, err := a.messagesJSON(req, rows)
	if err != nil {
		a.fail(w, req, err)
		return
	}
	next := ""
	if len(rows) == limit {
		next = strconv.FormatInt(rows[len(rows)-1].Seq, 10)
	}
	envelope.Data(w, map[string]any{"messages": msgs, "nextCursor": next})
}

// seqCursor reads a page cursor that is a message seq (0 without one);
// a bad one is answered with 400.
func seqCursor(w http.ResponseWriter, q url.Values) (int64, bool) {
	c := q.Get("cursor")
	if c == "" {
		return 0, true
	}
	v, err := strconv.ParseInt(c, 10, 64)
	if err != nil || v < 0 {
		envelope.Error(w, http.StatusBadRequest, "bad cursor")
		return 0, false
	}
	return v, true
}

// MaxSearchQuery is the longest search string used (longer is cut).
const MaxSearchQuery = 200

func (a *api) search(w http.ResponseWriter, req *http.Request, who auth.Identity) {
	m, ok := a.meeting(w, req, who)
	if !ok {
		return
	}
	q := req.URL.Query()
	text := strings.TrimSpace(q.Get("q"))
	if text == "" || !utf8.ValidString(text) {
		envelope.Error(w, http.StatusBadRequest, "q is required")
		return
	}
	if utf8.RuneCountInString(text) > MaxSearchQuery {
		text = string([]rune(text)[:MaxSearchQuery])
	}
	limit := clampInt(q.Get("limit"), 50, 1, 500)
	after, ok := seqCursor(w, q)
	if !ok {
		return
	}
	var rows []recorder.MessageRow
	// Through an index on both databases (recorder/search.go, TestSearchUsesIndex).
	if err := a.r.SearchQuery(a.db.WithContext(req.Context()), m.Room, text, after, limit).Find(&rows).Error; err != nil {
		a.fail(w, req, err)
		return
	}
	msgs, err := a.messagesJSON(req, rows)
	if err != nil {
		a.fail(w, req, err)
		return
	}
	next := ""
	if len(rows) == limit {
		next = strconv.FormatInt(rows[len(rows)-1].Seq, 10)
	}
	envelope.Data(w, map[string]any{"query": text, "messages": msgs, "nextCursor": next})
}

// rfc3339Millis is RFC 3339 with milliseconds, as RealtimeKit writes
// chat_download_url_expiry ("2025-03-15T11:00:00.000Z").
const rfc3339Millis = "2006-01-02T15:04:05.000Z07:00"

// chatLink answers a chat-replay request with a signed download URL.
func (a *api) chatLink(w http.ResponseWriter, req *http.Request, path string) {
	exp := a.cfg.Now().Add(a.cfg.ChatURLTTL).UTC().Truncate(time.Second)
	link := a.baseURL(req) + path + "?" + a.sig.Replay(path, exp).Encode()
	envelope.Data(w, map[string]any{
		"chat_download_url":        link,
		"chat_download_url_expiry": exp.Format(rfc3339Millis),
	})
}

func (a *api) sessionChat(w http.ResponseWriter, req *http.Request, who auth.Identity) {
	if s, ok := a.session(w, req, who); ok {
		a.chatLink(w, req, links.SessionReplayPath(s.ID))
	}
}

func (a *api) meetingChat(w http.ResponseWriter, req *http.Request, who auth.Identity) {
	if m, ok := a.meeting(w, req, who); ok {
		a.chatLink(w, req, links.MeetingReplayPath(m.ID))
	}
}

// replayCSV serves a signed chat download.
func (a *api) replayCSV(w http.ResponseWriter, req *http.Request) {
	if err := a.sig.CheckReplay(req.URL.Query(), a.cfg.Now(), req.URL.Path); err != nil {
		envelope.Error(w, http.StatusForbidden, err.Error())
		return
	}
	id := req.PathValue("id")
	scope := export.Scope{SessionID: id}
	var n int64
	table := &recorder.Session{}
	if strings.HasPrefix(req.URL.Path, "/v1/chat-replay/meetings/") {
		scope = export.Scope{MeetingID: id}
		a.db.WithContext(req.Context()).Model(&recorder.Meeting{}).Where("id = ?", id).Count(&n)
	} else {
		a.db.WithContext(req.Context()).Model(table).Where("id = ?", id).Count(&n)
	}
	if n == 0 {
		envelope.Error(w, http.StatusNotFound, "not found")
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/csv; charset=utf-8")
	h.Set("Content-Disposition", fmt.Sprintf(`attachment; filename="chat-%s.csv"`, id))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "private, no-store")
	flusher, _ := w.(http.Flusher)
	base := a.baseURL(req)
	exp := a.cfg.Now().Add(a.cfg.CSVAttachmentURLTTL)
	opts := export.Options{
		BOM: req.URL.Query().Get("bom") == "1",
		AttachmentURL: func(at *recorder.AttachmentRow) string {
			return base + links.AttachmentPath(at.ID) + "?" + a.sig.AttachmentQuery(at.ID, "", exp)
		},
		Flush: func() {
			if flusher != nil {
				flusher.Flush()
			}
		},
	}
	if _, err := a.x.WriteCSV(req.Context(), w, scope, opts); err != nil {
		// Headers are gone: abort the connection so the client sees a
		// truncated download rather than a short "complete" file.
		a.log.Error("recorder: csv export failed", "id", id, "err", err)
		panic(http.ErrAbortHandler)
	}
}
