package webhook

// From a recorder.Batch to outbox rows. Events runs inside the recorder's
// write transaction, after the batch's rows, and returns the rows; the
// writer inserts them in that transaction, so they commit or roll back
// with the batch. It must stay cheap and keep no state across calls (a
// rolled-back batch is replayed through it unchanged). Committed wakes the
// delivery loops once the rows are visible.

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/oklog/ulid/v2"
	"gorm.io/gorm"

	"github.com/backchannel-rtc/backchannel/chat"
	"github.com/backchannel-rtc/backchannel/protocol"
	"github.com/backchannel-rtc/backchannel/protocol/e2ee"
	"github.com/backchannel-rtc/backchannel/recorder"
	"github.com/backchannel-rtc/backchannel/recorder/links"
)

// Body is what an endpoint receives.
type Body struct {
	Type      string    `json:"type"`
	Timestamp time.Time `json:"timestamp"`
	Data      any       `json:"data"`
}

// stored is an outbox row's payload: the webhook-id shared by every
// endpoint's row and every attempt of the event, and the exact body (a
// string, so its bytes round-trip unchanged: they are what is signed).
type stored struct {
	WebhookID string `json:"webhookId"`
	Body      string `json:"body"`
}

// Participant names a participant in events.
type Participant struct {
	Identity string `json:"identity"`
	Name     string `json:"name,omitempty"`
}

// MeetingData is the data of meeting.started and meeting.ended.
type MeetingData struct {
	MeetingID string     `json:"meetingId"`
	SessionID string     `json:"sessionId"`
	Room      string     `json:"room"`
	StartedAt time.Time  `json:"startedAt"`
	EndedAt   *time.Time `json:"endedAt,omitempty"`
	EndReason string     `json:"endReason,omitempty"`
}

// ChatSyncedData is the data of meeting.chatSynced. Its fields share
// RealtimeKit's names, but not its body's shape (docs/webhooks.md).
type ChatSyncedData struct {
	MeetingID       string    `json:"meetingId"`
	SessionID       string    `json:"sessionId"`
	Room            string    `json:"room"`
	StartedAt       time.Time `json:"startedAt"`
	EndedAt         time.Time `json:"endedAt"`
	ChatDownloadURL string    `json:"chatDownloadUrl"`
	// ChatDownloadURLExpiry is RFC 3339 in milliseconds, as the chat-replay
	// API's chat_download_url_expiry and RealtimeKit's examples write it.
	ChatDownloadURLExpiry string `json:"chatDownloadUrlExpiry"`
}

// ParticipantData is the data of participant.joined and participant.left.
type ParticipantData struct {
	MeetingID   string      `json:"meetingId"`
	SessionID   string      `json:"sessionId"`
	Room        string      `json:"room"`
	Participant Participant `json:"participant"`
	JoinedAt    *time.Time  `json:"joinedAt,omitempty"`
	LeftAt      *time.Time  `json:"leftAt,omitempty"`
}

// Message is a chat message in chat.message.created.
type Message struct {
	ID     string      `json:"id"`
	Seq    int64       `json:"seq"`
	Sender Participant `json:"sender"`
	Kind   chat.Kind   `json:"kind"`
	Text   string      `json:"text"`
	// E2EE is an end-to-end encrypted message's envelope, as chat
	// stored it (Text is then empty): receivers get ciphertext only.
	E2EE       *e2ee.Envelope   `json:"e2ee,omitempty"`
	ReplyTo    string           `json:"replyTo,omitempty"`
	Attachment *chat.Attachment `json:"attachment,omitempty"`
	CreatedAt  time.Time        `json:"createdAt"`
	Private    bool             `json:"private"`
	Recipients []string         `json:"recipients,omitempty"`
}

// MessageData is the data of chat.message.created.
type MessageData struct {
	MeetingID string  `json:"meetingId"`
	SessionID string  `json:"sessionId"`
	Room      string  `json:"room"`
	Message   Message `json:"message"`
}

var _ recorder.Outbox = (*Delivery)(nil)

// Events implements recorder.Outbox: it derives the batch's events and
// returns one outbox row per (event, endpoint that wants it). tx is the
// batch's transaction (a leave's name is read from it).
func (d *Delivery) Events(tx *gorm.DB, b *recorder.Batch) ([]recorder.OutboxEvent, error) {
	if len(d.eps) == 0 {
		return nil, nil
	}
	e := emitter{d: d, now: time.Now().UTC()}
	started := map[string]recorder.Session{}
	for _, s := range b.Started {
		started[s.ID] = s
	}
	ended := map[string]recorder.Session{}
	last := map[string]int{} // session id -> index of its last change
	for i, sid := range b.SessionIDs {
		if sid != "" {
			last[sid] = i
		}
	}
	// Sessions closed without a change of theirs in the batch (left open by
	// a crash, closed by the next join) end first.
	for _, s := range b.Ended {
		if _, ok := last[s.ID]; !ok {
			e.ended(s)
		} else {
			ended[s.ID] = s
		}
	}
	for i, c := range b.Changes {
		sid, mid := b.SessionIDs[i], b.MeetingIDs[i]
		if s, ok := started[sid]; ok {
			e.started(s)
			delete(started, sid)
		}
		if sid != "" {
			switch c.Kind {
			case chat.ChangeJoin:
				at := c.At.UTC()
				e.emit(ParticipantJoined, at, false, ParticipantData{MeetingID: mid, SessionID: sid, Room: c.Room,
					Participant: Participant{c.Identity, c.Name}, JoinedAt: &at})
			case chat.ChangeLeave:
				at := c.At.UTC()
				if c.Name == "" { // a leave carries no name: the join's
					var names []string
					if err := tx.Model(&recorder.Participant{}).Where("session_id = ? AND identity = ?", sid, c.Identity).
						Limit(1).Pluck("name", &names).Error; err != nil {
						return nil, err
					}
					if len(names) > 0 {
						c.Name = names[0]
					}
				}
				e.emit(ParticipantLeft, at, false, ParticipantData{MeetingID: mid, SessionID: sid, Room: c.Room,
					Participant: Participant{c.Identity, c.Name}, LeftAt: &at})
			case chat.ChangeMessage:
				if m := c.Message; m != nil {
					e.emit(ChatMessageCreated, m.CreatedAt.UTC(), m.Private(), MessageData{MeetingID: mid, SessionID: sid,
						Room: c.Room, Message: message(m)})
				}
			}
		}
		if s, ok := ended[sid]; ok && last[sid] == i {
			e.ended(s)
		}
	}
	for _, s := range b.Started { // opened and never touched: not expected
		if _, ok := started[s.ID]; ok {
			e.started(s)
		}
	}
	if e.err != nil {
		return nil, e.err
	}
	return e.rows, nil
}

// Committed implements recorder.Outbox: rows became visible, so the loops
// of their endpoints look for them now rather than at their next poll.
func (d *Delivery) Committed(rows []recorder.OutboxEvent) {
	for i := range rows {
		d.notify(rows[i].Endpoint)
	}
}

func message(m *chat.Message) Message {
	out := Message{ID: m.ID, Seq: m.Seq, Sender: Participant{m.Sender, m.SenderName}, Kind: m.Kind,
		Text: m.Text, E2EE: m.E2EE, ReplyTo: m.ReplyTo, Attachment: m.Attachment, CreatedAt: m.CreatedAt.UTC(), Private: m.Private()}
	if out.Kind == "" {
		out.Kind = chat.KindText
	}
	if m.Private() {
		out.Recipients = append([]string(nil), m.To...)
	}
	return out
}

type emitter struct {
	d    *Delivery
	now  time.Time
	rows []recorder.OutboxEvent
	err  error
}

func (e *emitter) started(s recorder.Session) {
	e.emit(MeetingStarted, s.StartedAt.UTC(), false, MeetingData{MeetingID: s.MeetingID, SessionID: s.ID,
		Room: s.Room, StartedAt: s.StartedAt.UTC()})
}

// ended emits meeting.ended and meeting.chatSynced. The hook runs after
// every row of the batch and the writer keeps each room's changes in order,
// so when this transaction commits every message of the session is
// durable: chatSynced is true at commit.
func (e *emitter) ended(s recorder.Session) {
	end := e.now
	if s.EndedAt != nil {
		end = s.EndedAt.UTC()
	}
	e.emit(MeetingEnded, end, false, MeetingData{MeetingID: s.MeetingID, SessionID: s.ID, Room: s.Room,
		StartedAt: s.StartedAt.UTC(), EndedAt: &end, EndReason: s.EndReason})
	link, exp := links.SessionChatURL(e.d.baseURL(), e.d.cfg.APISecret, s.ID, e.now.Add(e.d.cfg.ChatURLTTL))
	e.emit(MeetingChatSynced, e.now, false, ChatSyncedData{MeetingID: s.MeetingID, SessionID: s.ID, Room: s.Room,
		StartedAt: s.StartedAt.UTC(), EndedAt: end, ChatDownloadURL: link,
		ChatDownloadURLExpiry: exp.UTC().Format(protocol.TimeFormat)})
}

// emit enqueues one event for every endpoint that wants it (private: only
// those that asked for private chat).
func (e *emitter) emit(typ string, at time.Time, private bool, data any) {
	if e.err != nil {
		return
	}
	var body string
	id := ""
	for i := range e.d.eps {
		ep := &e.d.eps[i]
		if !ep.Wants(typ) || (private && !ep.PrivateChat) || e.d.isDisabled(ep.ID) {
			continue
		}
		if id == "" {
			var b strings.Builder
			enc := json.NewEncoder(&b)
			enc.SetEscapeHTML(false) // URLs keep their "&"
			if e.err = enc.Encode(Body{Type: typ, Timestamp: at, Data: data}); e.err != nil {
				return
			}
			body = strings.TrimSuffix(b.String(), "\n")
			id = "msg_" + ulid.Make().String()
		}
		row, err := recorder.NewOutboxEvent(typ, stored{WebhookID: id, Body: body}, ep.ID)
		if e.err = err; err != nil {
			return
		}
		e.rows = append(e.rows, row)
		enqueued.WithLabelValues(typ).Inc()
	}
}
