package recorder

// The server API: post-meeting reads for room admins, the RealtimeKit
// compatible chat-replay endpoints, and the signed CSV download they hand
// out. Register adds exactly these patterns to the server's mux (which also
// carries /v1/rtc and the rest). docs/api.md documents every endpoint.
//
// Admin endpoints take `Authorization: Bearer <token>` whose grant has
// roomAdmin (401 missing or invalid token, 403 no roomAdmin). A token whose
// grant names a room sees only that room's meetings; one without a room
// sees all. Answers use RealtimeKit's envelope: {"success":true,"data":…}
// or {"success":false,"error":{"code":…,"message":…}}.

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
)

// APIConfig tunes the HTTP API.
type APIConfig struct {
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
	// Now is the clock (tests); default time.Now.
	Now func() time.Time
}

type api struct {
	r    *Recorder
	keys auth.KeyProvider
	cfg  APIConfig
	sig  signer
	log  *slog.Logger
}

// Register adds the recorder's endpoints to mux (patterns under /v1/).
func (r *Recorder) Register(mux *http.ServeMux, keys auth.KeyProvider, cfg APIConfig) {
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
	a := &api{r: r, keys: keys, cfg: cfg, sig: newSigner(keys.APISecret), log: r.log}
	mux.HandleFunc("POST /v1/rooms/{room}/attachments", a.upload)
	mux.HandleFunc("GET /v1/attachments/{id}/url", a.attachmentURL)
	mux.HandleFunc("GET /v1/attachments/{id}", a.download)
	mux.HandleFunc("GET /v1/meetings", a.admin(a.listMeetings))
	mux.HandleFunc("GET /v1/meetings/{id}", a.admin(a.getMeeting))
	mux.HandleFunc("GET /v1/sessions/{id}/messages", a.admin(a.sessionMessages))
	mux.HandleFunc("GET /v1/meetings/{id}/messages/search", a.admin(a.search))
	mux.HandleFunc("GET /v1/sessions/{id}/chat", a.admin(a.sessionChat))
	mux.HandleFunc("GET /v1/meetings/{id}/chat", a.admin(a.meetingChat))
	mux.HandleFunc("GET /v1/chat-replay/sessions/{id}", a.replayCSV)
	mux.HandleFunc("GET /v1/chat-replay/meetings/{id}", a.replayCSV)
}

// Handler returns a mux with only the recorder's endpoints.
func (r *Recorder) Handler(keys auth.KeyProvider, cfg APIConfig) http.Handler {
	mux := http.NewServeMux()
	r.Register(mux, keys, cfg)
	return mux
}

// WriteJSON, WriteData and WriteError answer in the API's envelope:
// {"success":true,"data":…} or {"success":false,"error":{"code","message"}}.
// The webhook API answers with them too.
func WriteJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func WriteData(w http.ResponseWriter, data any) {
	WriteJSON(w, http.StatusOK, map[string]any{"success": true, "data": data})
}

func WriteError(w http.ResponseWriter, code int, msg string) {
	WriteJSON(w, code, map[string]any{"success": false, "error": map[string]any{"code": code, "message": msg}})
}

func (a *api) fail(w http.ResponseWriter, req *http.Request, err error) {
	a.log.Error("recorder api", "path", req.URL.Path, "err", err)
	WriteError(w, http.StatusInternalServerError, "internal error")
}

// baseURL is where absolute URLs point.
func (a *api) baseURL(req *http.Request) string {
	if a.cfg.PublicURL != "" {
		return a.cfg.PublicURL
	}
	scheme := "http"
	if req.TLS != nil || req.Header.Get("X-Forwarded-Proto") == "https" {
		scheme = "https"
	}
	return scheme + "://" + req.Host
}

type adminHandler func(w http.ResponseWriter, req *http.Request, who auth.Identity)

func (a *api) admin(h adminHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, req *http.Request) {
		who, err := a.keys.Verify(auth.FromRequest(req))
		if err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="backchannel"`)
			WriteError(w, http.StatusUnauthorized, err.Error())
			return
		}
		if !who.Grant.RoomAdmin {
			WriteError(w, http.StatusForbidden, "token lacks the roomAdmin grant")
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
			WriteError(w, http.StatusForbidden, "token is for another room")
			return
		}
		room = who.Grant.Room
	}
	limit := clampInt(q.Get("limit"), 100, 1, 500)
	db := a.r.db.WithContext(req.Context()).Model(&Meeting{})
	if room != "" {
		db = db.Where("room = ?", room)
	}
	if c := q.Get("cursor"); c != "" {
		db = db.Where("id < ?", c)
	}
	var ms []Meeting
	if err := db.Order("id DESC").Limit(limit).Find(&ms).Error; err != nil {
		a.fail(w, req, err)
		return
	}
	out := make([]meetingJSON, 0, len(ms))
	for _, m := range ms {
		mj := meetingJSON{ID: m.ID, Room: m.Room, CreatedAt: m.CreatedAt.UTC()}
		a.r.db.Model(&Session{}).Where("meeting_id = ?", m.ID).Count(&mj.SessionCount)
		var open int64
		a.r.db.Model(&Session{}).Where("meeting_id = ? AND ended_at IS NULL", m.ID).Count(&open)
		mj.Live = open > 0
		out = append(out, mj)
	}
	next := ""
	if len(ms) == limit {
		next = ms[len(ms)-1].ID
	}
	WriteData(w, map[string]any{"meetings": out, "nextCursor": next})
}

// loadByID loads the {id} row an admin may see, or answers 404 (also for
// a room the token does not cover: never tell that it exists).
func loadByID[T any](a *api, w http.ResponseWriter, req *http.Request, who auth.Identity, what string, room func(*T) string) (*T, bool) {
	var v T
	err := a.r.db.WithContext(req.Context()).Where("id = ?", req.PathValue("id")).Take(&v).Error
	if errors.Is(err, gorm.ErrRecordNotFound) || (err == nil && !mayAdmin(who, room(&v))) {
		WriteError(w, http.StatusNotFound, what+" not found")
		return nil, false
	}
	if err != nil {
		a.fail(w, req, err)
		return nil, false
	}
	return &v, true
}

func (a *api) meeting(w http.ResponseWriter, req *http.Request, who auth.Identity) (*Meeting, bool) {
	return loadByID(a, w, req, who, "meeting", func(m *Meeting) string { return m.Room })
}

func (a *api) session(w http.ResponseWriter, req *http.Request, who auth.Identity) (*Session, bool) {
	return loadByID(a, w, req, who, "session", func(s *Session) string { return s.Room })
}

func (a *api) getMeeting(w http.ResponseWriter, req *http.Request, who auth.Identity) {
	m, ok := a.meeting(w, req, who)
	if !ok {
		return
	}
	db := a.r.db.WithContext(req.Context())
	var ss []Session
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
		db.Model(&MessageRow{}).Where("session_id = ?", s.ID).Count(&sj.MessageCount)
		var ps []Participant
		if err := db.Where("session_id = ?", s.ID).Order("joined_at, identity").Find(&ps).Error; err != nil {
			a.fail(w, req, err)
			return
		}
		for _, p := range ps {
			sj.Participants = append(sj.Participants, participantJSON{p.Identity, p.Name, p.JoinedAt.UTC(), p.LeftAt})
		}
		out = append(out, sj)
	}
	WriteData(w, map[string]any{
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

func (a *api) messagesJSON(req *http.Request, rows []MessageRow) ([]messageJSON, error) {
	x, err := loadExtras(req.Context(), a.r.db, rows)
	if err != nil {
		return nil, err
	}
	out := make([]messageJSON, 0, len(rows))
	for i := range rows {
		mj := messageJSON{Message: rows[i].message(x), SessionID: rows[i].SessionID, MeetingID: rows[i].MeetingID}
		if mj.Attachment != nil {
			mj.AttachmentURL = a.attachmentLink(req, mj.Attachment.ID, "", a.cfg.AttachmentURLTTL)
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
	var rows []MessageRow
	if err := a.r.db.WithContext(req.Context()).Where("session_id = ? AND seq > ?", s.ID, after).
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
	WriteData(w, map[string]any{"messages": msgs, "nextCursor": next})
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
		WriteError(w, http.StatusBadRequest, "bad cursor")
		return 0, false
	}
	return v, true
}

// MaxSearchQuery is the longest search string used (longer is cut).
const MaxSearchQuery = 200

// likeEscape makes s a literal for LIKE ... ESCAPE '\'.
func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

func (a *api) search(w http.ResponseWriter, req *http.Request, who auth.Identity) {
	m, ok := a.meeting(w, req, who)
	if !ok {
		return
	}
	q := req.URL.Query()
	text := strings.TrimSpace(q.Get("q"))
	if text == "" || !utf8.ValidString(text) {
		WriteError(w, http.StatusBadRequest, "q is required")
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
	var rows []MessageRow
	if err := a.r.db.WithContext(req.Context()).
		Where(`room = ? AND seq > ? AND deleted = ? AND LOWER(text) LIKE ? ESCAPE '\'`,
			m.Room, after, false, "%"+likeEscape(strings.ToLower(text))+"%").
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
	WriteData(w, map[string]any{"query": text, "messages": msgs, "nextCursor": next})
}

// chatLink answers a chat-replay request with a signed download URL.
func (a *api) chatLink(w http.ResponseWriter, req *http.Request, path string) {
	exp := a.cfg.Now().Add(a.cfg.ChatURLTTL).UTC().Truncate(time.Second)
	link := a.baseURL(req) + path + "?" + a.sig.sign(exp, path).Encode()
	WriteData(w, map[string]any{
		"chat_download_url":        link,
		"chat_download_url_expiry": exp.Format(time.RFC3339),
	})
}

func (a *api) sessionChat(w http.ResponseWriter, req *http.Request, who auth.Identity) {
	if s, ok := a.session(w, req, who); ok {
		a.chatLink(w, req, "/v1/chat-replay/sessions/"+s.ID)
	}
}

func (a *api) meetingChat(w http.ResponseWriter, req *http.Request, who auth.Identity) {
	if m, ok := a.meeting(w, req, who); ok {
		a.chatLink(w, req, "/v1/chat-replay/meetings/"+m.ID)
	}
}

// replayCSV serves a signed chat download.
func (a *api) replayCSV(w http.ResponseWriter, req *http.Request) {
	if err := a.sig.check(req.URL.Query(), a.cfg.Now(), req.URL.Path); err != nil {
		WriteError(w, http.StatusForbidden, err.Error())
		return
	}
	id := req.PathValue("id")
	scope := CSVScope{SessionID: id}
	var n int64
	table := &Session{}
	if strings.HasPrefix(req.URL.Path, "/v1/chat-replay/meetings/") {
		scope = CSVScope{MeetingID: id}
		a.r.db.WithContext(req.Context()).Model(&Meeting{}).Where("id = ?", id).Count(&n)
	} else {
		a.r.db.WithContext(req.Context()).Model(table).Where("id = ?", id).Count(&n)
	}
	if n == 0 {
		WriteError(w, http.StatusNotFound, "not found")
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
	opts := CSVOptions{
		BOM: req.URL.Query().Get("bom") == "1",
		AttachmentURL: func(at *AttachmentRow) string {
			return base + "/v1/attachments/" + at.ID + "?" + a.attachmentQuery(at.ID, "", exp)
		},
		Flush: func() {
			if flusher != nil {
				flusher.Flush()
			}
		},
	}
	if _, err := a.r.WriteCSV(req.Context(), w, scope, opts); err != nil {
		// Headers are gone: abort the connection so the client sees a
		// truncated download rather than a short "complete" file.
		a.log.Error("recorder: csv export failed", "id", id, "err", err)
		panic(http.ErrAbortHandler)
	}
}
