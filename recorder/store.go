package recorder

// The read side of chat.Store. Every read goes to the database, so it sees
// exactly the changes whose done callback has run. (Attachment also stamps
// the upload it resolves, for the upload sweeper.) Messages are read as
// rows and then hydrated with their reactions, pin and attachment in three
// set queries, never one query per message.

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"time"

	"gorm.io/gorm"

	"github.com/backchannel-rtc/backchannel/chat"
	"github.com/backchannel-rtc/backchannel/protocol/e2ee"
)

// MaxHistory is the most messages one History call returns.
const MaxHistory = 1000

func marshalJSON(v any) ([]byte, error) { return json.Marshal(v) }

// encodeList is the JSON array of l ("[]" when empty: valid JSON for
// PostgreSQL's jsonb column).
func encodeList(l []string) string {
	if len(l) == 0 {
		return "[]"
	}
	b, _ := json.Marshal(l)
	return string(b)
}

func decodeList(s string) []string {
	if s == "" {
		return nil
	}
	var l []string
	if json.Unmarshal([]byte(s), &l) != nil || len(l) == 0 {
		return nil
	}
	return l
}

// encodeEnvelope is the stored form of an e2ee envelope: its JSON, as chat
// validated it (PostgreSQL's jsonb keeps the same value, not the bytes).
func encodeEnvelope(env *e2ee.Envelope) *string {
	b, err := json.Marshal(env)
	if err != nil {
		return nil // cannot happen: strings and a slice of them
	}
	s := string(b)
	return &s
}

// decodeEnvelope reads a stored envelope back. Stored data is not
// refused: an envelope that no longer parses still marks the message
// encrypted, and the client shows "can't decrypt" rather than an empty
// message in clear.
func decodeEnvelope(s string) *e2ee.Envelope {
	var env e2ee.Envelope
	_ = json.Unmarshal([]byte(s), &env)
	return &env
}

// visibleTo restricts a messages query to what viewer may see.
func visibleTo(q *gorm.DB, viewer string) *gorm.DB {
	if viewer == "" {
		return q
	}
	return q.Where("(messages.private = ? OR messages.sender = ? OR EXISTS (SELECT 1 FROM message_recipients mr WHERE mr.message_id = messages.id AND mr.identity = ?))",
		false, viewer, viewer)
}

// LastSeq implements chat.Store.
func (r *Recorder) LastSeq(ctx context.Context, room string) (int64, error) {
	var v *int64
	err := r.db.WithContext(ctx).Model(&MessageRow{}).Where("room = ?", room).Select("MAX(seq)").Scan(&v).Error
	if err != nil || v == nil {
		return 0, err
	}
	return *v, nil
}

// History implements chat.Store.
func (r *Recorder) History(ctx context.Context, room, viewer string, before int64, limit int) ([]chat.Message, error) {
	if limit <= 0 {
		return nil, nil
	}
	limit = min(limit, MaxHistory)
	q := r.db.WithContext(ctx).Model(&MessageRow{}).Where("room = ?", room)
	if before > 0 {
		q = q.Where("seq < ?", before)
	}
	var rows []MessageRow
	if err := visibleTo(q, viewer).Order("seq DESC").Limit(limit).Find(&rows).Error; err != nil {
		return nil, err
	}
	slices.Reverse(rows)
	return r.hydrate(ctx, rows)
}

// Pinned implements chat.Store.
func (r *Recorder) Pinned(ctx context.Context, room, viewer string) ([]chat.Message, error) {
	q := r.db.WithContext(ctx).Model(&MessageRow{}).
		Where("messages.room = ? AND EXISTS (SELECT 1 FROM pins p WHERE p.message_id = messages.id)", room)
	var rows []MessageRow
	if err := visibleTo(q, viewer).Order("seq").Find(&rows).Error; err != nil {
		return nil, err
	}
	return r.hydrate(ctx, rows)
}

// Muted implements chat.Store.
func (r *Recorder) Muted(ctx context.Context, room string) ([]string, error) {
	var ids []string
	err := r.db.WithContext(ctx).Model(&RoomMute{}).Where("room = ?", room).Order("identity").Pluck("identity", &ids).Error
	return ids, err
}

// Message implements chat.Store.
func (r *Recorder) Message(ctx context.Context, room, id string) (*chat.Message, error) {
	return r.one(ctx, r.db.Where("room = ? AND id = ?", room, id))
}

// ByClientID implements chat.Store.
func (r *Recorder) ByClientID(ctx context.Context, room, sender, clientID string) (*chat.Message, error) {
	if clientID == "" {
		return nil, chat.ErrNotFound
	}
	return r.one(ctx, r.db.Where("room = ? AND sender = ? AND client_id = ?", room, sender, clientID))
}

func (r *Recorder) one(ctx context.Context, q *gorm.DB) (*chat.Message, error) {
	var rows []MessageRow
	if err := q.WithContext(ctx).Limit(1).Find(&rows).Error; err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, chat.ErrNotFound
	}
	ms, err := r.hydrate(ctx, rows)
	if err != nil {
		return nil, err
	}
	return &ms[0], nil
}

// Attachment implements chat.Store.
func (r *Recorder) Attachment(ctx context.Context, room, id string) (*chat.Attachment, error) {
	// Stamped before it is read: the message about to name it is then
	// safe from the upload sweeper for a whole grace (recorder/attachments).
	db := r.db.WithContext(ctx)
	touch := db.Model(&AttachmentRow{}).Where("room = ? AND id = ?", room, id).Update("used_at", time.Now().UTC())
	if touch.Error != nil {
		return nil, touch.Error
	}
	if touch.RowsAffected == 0 {
		return nil, chat.ErrNotFound
	}
	var a AttachmentRow
	err := db.Where("room = ? AND id = ?", room, id).Take(&a).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, chat.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return a.chat(), nil
}

func (a *AttachmentRow) chat() *chat.Attachment {
	return &chat.Attachment{ID: a.ID, Room: a.Room, Uploader: a.Uploader, Name: a.Name,
		ContentType: a.ContentType, Size: a.Size, Image: a.Image, Width: a.Width, Height: a.Height}
}

// extras are what hydrate adds to message rows.
type extras struct {
	reactions   map[string][]chat.Reaction
	pinned      map[string]bool
	attachments map[string]*AttachmentRow
}

// loadExtras fetches reactions, pins and attachments of rows in three
// queries.
func loadExtras(ctx context.Context, db *gorm.DB, rows []MessageRow) (extras, error) {
	x := extras{reactions: map[string][]chat.Reaction{}, pinned: map[string]bool{}, attachments: map[string]*AttachmentRow{}}
	if len(rows) == 0 {
		return x, nil
	}
	ids := make([]string, 0, len(rows))
	var attIDs []string
	for i := range rows {
		ids = append(ids, rows[i].ID)
		if rows[i].AttachmentID != "" {
			attIDs = append(attIDs, rows[i].AttachmentID)
		}
	}
	db = db.WithContext(ctx)
	var reacts []Reaction
	if err := db.Where("message_id IN ?", ids).Order("message_id, created_at, emoji, identity").Find(&reacts).Error; err != nil {
		return x, err
	}
	for _, re := range reacts {
		list := x.reactions[re.MessageID]
		i := slices.IndexFunc(list, func(c chat.Reaction) bool { return c.Emoji == re.Emoji })
		if i < 0 {
			list = append(list, chat.Reaction{Emoji: re.Emoji})
			i = len(list) - 1
		}
		list[i].Identities = append(list[i].Identities, re.Identity)
		x.reactions[re.MessageID] = list
	}
	var pins []string
	if err := db.Model(&Pin{}).Where("message_id IN ?", ids).Pluck("message_id", &pins).Error; err != nil {
		return x, err
	}
	for _, id := range pins {
		x.pinned[id] = true
	}
	if len(attIDs) > 0 {
		var atts []AttachmentRow
		if err := db.Where("id IN ?", attIDs).Find(&atts).Error; err != nil {
			return x, err
		}
		for i := range atts {
			x.attachments[atts[i].ID] = &atts[i]
		}
	}
	return x, nil
}

func (r *Recorder) hydrate(ctx context.Context, rows []MessageRow) ([]chat.Message, error) {
	x, err := loadExtras(ctx, r.db, rows)
	if err != nil {
		return nil, err
	}
	out := make([]chat.Message, len(rows))
	for i := range rows {
		out[i] = rows[i].message(x)
	}
	return out, nil
}

func (row *MessageRow) message(x extras) chat.Message {
	m := chat.Message{
		ID: row.ID, Room: row.Room, Seq: row.Seq, Sender: row.Sender, SenderName: row.SenderName,
		Kind: chat.Kind(row.Kind), Text: row.Text, To: decodeList(row.Recipients), ReplyTo: row.ReplyTo,
		ClientID: row.ClientID, CreatedAt: row.CreatedAt.UTC(), Deleted: row.Deleted,
		Pinned: x.pinned[row.ID], Reactions: x.reactions[row.ID],
	}
	if row.EditedAt != nil {
		t := row.EditedAt.UTC()
		m.EditedAt = &t
	}
	if row.E2EE != nil && !row.Deleted {
		m.E2EE = decodeEnvelope(*row.E2EE)
	}
	if a := x.attachments[row.AttachmentID]; a != nil && !row.Deleted {
		m.Attachment = a.chat()
	}
	if m.Deleted {
		m.Text, m.Attachment = "", nil
	}
	return m
}
