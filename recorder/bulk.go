package recorder

// Bulk inserts for the writer's hot path (messages and their recipients).
//
// PostgreSQL: one INSERT ... SELECT FROM unnest($1::text[], ...) per table
// and batch: a fixed, small statement (pgx caches its prepared form) with
// one array parameter per column in pgx's binary encoding. A multi-row
// VALUES list with ~19,000 parameters costs far more to bind and to plan.
//
// Replaying a batch skips messages already stored (ON CONFLICT (id) DO
// NOTHING: naming the arbiter index is much cheaper on PostgreSQL than a
// bare DO NOTHING, which checks every unique index). A second message with
// the same (room, sender, client id) is a unique violation: that change
// alone fails (chat is expected to look ByClientID first).
//
// SQLite: multi-row INSERTs through GORM in chunks of sqliteChunk rows; the
// driver binds parameters in time quadratic in their number per
// statement, so small statements inside the one transaction are fastest.

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

const sqliteChunk = 40

// rawExec runs a statement on the transaction's connection, bypassing
// GORM's argument expansion (it would turn a slice into a value list).
func rawExec(tx *gorm.DB, query string, args ...any) error {
	pool := tx.Statement.ConnPool
	if pool == nil {
		return fmt.Errorf("recorder: no connection pool")
	}
	ctx := tx.Statement.Context
	if ctx == nil {
		ctx = context.Background()
	}
	_, err := pool.ExecContext(ctx, query, args...)
	return err
}

func insertMessages(tx *gorm.DB, rows []MessageRow) error {
	if tx.Dialector.Name() != "postgres" {
		return tx.Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "id"}}, DoNothing: true}).
			CreateInBatches(&rows, sqliteChunk).Error
	}
	n := len(rows)
	var (
		id, room, session, meeting, sender, senderName, kind, text = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		recipients, replyTo, clientID, attachment, deletedBy       = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		seq                                                        = make([]int64, n)
		private, deleted                                           = make([]bool, n), make([]bool, n)
		created                                                    = make([]time.Time, n)
		edited, deletedAt                                          = make([]*time.Time, n), make([]*time.Time, n)
	)
	for i := range rows {
		r := &rows[i]
		id[i], room[i], seq[i], session[i], meeting[i] = r.ID, r.Room, r.Seq, r.SessionID, r.MeetingID
		sender[i], senderName[i], kind[i], text[i], private[i] = r.Sender, r.SenderName, r.Kind, r.Text, r.Private
		recipients[i], replyTo[i], clientID[i], attachment[i] = r.Recipients, r.ReplyTo, r.ClientID, r.AttachmentID
		created[i], edited[i], deleted[i], deletedAt[i], deletedBy[i] = r.CreatedAt, r.EditedAt, r.Deleted, r.DeletedAt, r.DeletedBy
	}
	return rawExec(tx, `INSERT INTO messages (id, room, seq, session_id, meeting_id, sender, sender_name, kind, text,
		private, recipients, reply_to, client_id, attachment_id, created_at, edited_at, deleted, deleted_at, deleted_by)
		SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::text[],
			$8::text[], $9::text[], $10::boolean[], $11::text[], $12::text[], $13::text[], $14::text[],
			$15::timestamptz[], $16::timestamptz[], $17::boolean[], $18::timestamptz[], $19::text[])
		ON CONFLICT (id) DO NOTHING`,
		id, room, seq, session, meeting, sender, senderName, kind, text, private, recipients, replyTo, clientID,
		attachment, created, edited, deleted, deletedAt, deletedBy)
}

func insertRecipients(tx *gorm.DB, rows []MessageRecipient) error {
	if tx.Dialector.Name() != "postgres" {
		return tx.Clauses(clause.OnConflict{DoNothing: true}).CreateInBatches(&rows, 200).Error
	}
	ids, who := make([]string, len(rows)), make([]string, len(rows))
	for i, r := range rows {
		ids[i], who[i] = r.MessageID, r.Identity
	}
	return rawExec(tx, `INSERT INTO message_recipients (message_id, identity)
		SELECT * FROM unnest($1::text[], $2::text[]) ON CONFLICT DO NOTHING`, ids, who)
}
