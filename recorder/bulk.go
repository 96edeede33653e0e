package recorder

// Bulk inserts for the writer's hot path: messages, their recipients, and
// the outbox rows the Outbox returned for the batch (plan.go inserts them
// together).
//
// PostgreSQL, first attempt of a batch: COPY messages FROM STDIN in pgx's
// binary format, on the transaction's own connection (sql.Conn.Raw). COPY
// inserts rows in bulk and skips ON CONFLICT's speculative insertion: the
// server spends about a third less per row than on the INSERT below. It
// has no ON CONFLICT, so a row already stored fails it with a unique
// violation; the writer then replays the batch at once with the INSERT
// (plan.replay), which skips such rows. A batch whose commit outcome was
// unknown is a replay too. So replays stay idempotent and a duplicate
// fails only its own change, as before.
//
// PostgreSQL, replays and small batches (COPY costs extra round trips):
// one INSERT ... SELECT FROM unnest($1::text[], ...) per table and batch:
// a fixed, small statement (pgx caches its prepared form) with one array
// parameter per column in pgx's binary encoding. A multi-row VALUES list
// with ~19,000 parameters costs far more to bind and to plan. ON CONFLICT
// (id) DO NOTHING names the arbiter index: much cheaper than a bare DO
// NOTHING, which checks every unique index. A second message with the same
// (room, sender, client id) is a unique violation: that change alone fails
// (chat is expected to look ByClientID first).
//
// SQLite: one prepared single-row INSERT ... ON CONFLICT DO NOTHING per
// table, executed for every row inside the transaction. At chat rates a
// transaction often holds one message, and GORM built a new statement for
// it every time (reflection, SQL text): about a tenth of the
// transaction's CPU. The pure-Go driver (glebarez/go-sqlite) still has
// SQLite parse the statement on every Exec (its prepared statements are
// not kept), another tenth; the C driver keeps them. Most of the rest is
// BEGIN and the commit's WAL writes. Binding one row also avoids the
// pure-Go driver's binding time, quadratic in the parameters of a
// statement.

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"gorm.io/gorm"
)

// copyMinRows: below it, COPY's extra round trips cost more than it saves.
const copyMinRows = 32

var messageColumns = []string{"id", "room", "seq", "session_id", "meeting_id", "sender", "sender_name", "kind",
	"text", "private", "recipients", "reply_to", "client_id", "attachment_id", "created_at", "edited_at",
	"deleted", "deleted_at", "deleted_by", "epoch", "e2ee"}

// messageValues is a row in messageColumns' order.
func messageValues(r *MessageRow, dst []any) []any {
	return append(dst[:0], r.ID, r.Room, r.Seq, r.SessionID, r.MeetingID, r.Sender, r.SenderName, r.Kind,
		r.Text, r.Private, r.Recipients, r.ReplyTo, r.ClientID, r.AttachmentID, r.CreatedAt, r.EditedAt,
		r.Deleted, r.DeletedAt, r.DeletedBy, r.Epoch, r.E2EE)
}

// sqliteStmts are the writer's prepared statements (SQLite).
type sqliteStmts struct {
	message, recipient, outbox *sql.Stmt
}

func (s *sqliteStmts) close() {
	for _, st := range []*sql.Stmt{s.message, s.recipient, s.outbox} {
		if st != nil {
			st.Close()
		}
	}
}

// prepare prepares the statements once (on the writer goroutine).
func (s *sqliteStmts) prepare(ctx context.Context, db *gorm.DB) error {
	if s.message != nil {
		return nil
	}
	sqlDB, err := db.DB()
	if err != nil {
		return err
	}
	msg, err := sqlDB.PrepareContext(ctx, `INSERT INTO messages (`+strings.Join(messageColumns, ", ")+`)
		VALUES (?`+strings.Repeat(", ?", len(messageColumns)-1)+`) ON CONFLICT (id) DO NOTHING`)
	if err != nil {
		return err
	}
	rcpt, err := sqlDB.PrepareContext(ctx, `INSERT INTO message_recipients (message_id, identity) VALUES (?, ?)
		ON CONFLICT DO NOTHING`)
	if err != nil {
		msg.Close()
		return err
	}
	out, err := sqlDB.PrepareContext(ctx, `INSERT INTO webhook_outbox (`+strings.Join(outboxColumns, ", ")+`)
		VALUES (?`+strings.Repeat(", ?", len(outboxColumns)-1)+`)`)
	if err != nil {
		msg.Close()
		rcpt.Close()
		return err
	}
	s.message, s.recipient, s.outbox = msg, rcpt, out
	return nil
}

// txContext is the transaction's context.
func txContext(tx *gorm.DB) context.Context {
	if ctx := tx.Statement.Context; ctx != nil {
		return ctx
	}
	return context.Background()
}

// rawExec runs a statement on the transaction's connection, bypassing
// GORM's argument expansion (it would turn a slice into a value list).
func rawExec(tx *gorm.DB, query string, args ...any) error {
	pool := tx.Statement.ConnPool
	if pool == nil {
		return fmt.Errorf("recorder: no connection pool")
	}
	_, err := pool.ExecContext(txContext(tx), query, args...)
	return err
}

// insertMessages inserts rows in tx; conn is tx's connection (PostgreSQL)
// and replay says whether the batch may already be (partly) stored.
func (w *writer) insertMessages(tx *gorm.DB, conn *sql.Conn, rows []MessageRow, replay bool) error {
	if tx.Dialector.Name() != "postgres" {
		return w.sqliteMessages(tx, rows)
	}
	if conn != nil && !replay && len(rows) >= copyMinRows {
		return copyMessages(txContext(tx), conn, rows)
	}
	n := len(rows)
	var (
		id, room, session, meeting, sender, senderName, kind, text = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		recipients, replyTo, clientID, attachment, deletedBy       = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		seq, epoch                                                 = make([]int64, n), make([]int64, n)
		private, deleted                                           = make([]bool, n), make([]bool, n)
		created                                                    = make([]time.Time, n)
		edited, deletedAt                                          = make([]*time.Time, n), make([]*time.Time, n)
		envelope                                                   = make([]*string, n)
	)
	for i := range rows {
		r := &rows[i]
		id[i], room[i], seq[i], session[i], meeting[i] = r.ID, r.Room, r.Seq, r.SessionID, r.MeetingID
		sender[i], senderName[i], kind[i], text[i], private[i] = r.Sender, r.SenderName, r.Kind, r.Text, r.Private
		recipients[i], replyTo[i], clientID[i], attachment[i] = r.Recipients, r.ReplyTo, r.ClientID, r.AttachmentID
		created[i], edited[i], deleted[i], deletedAt[i], deletedBy[i] = r.CreatedAt, r.EditedAt, r.Deleted, r.DeletedAt, r.DeletedBy
		epoch[i] = r.Epoch
		envelope[i] = r.E2EE
	}
	// recipients (the 11th) is jsonb: unnest's text is cast.
	return rawExec(tx, `INSERT INTO messages (`+strings.Join(messageColumns, ", ")+`)
		SELECT c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11::jsonb, c12, c13, c14, c15, c16, c17, c18, c19, c20, c21
		FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::text[],
			$8::text[], $9::text[], $10::boolean[], $11::text[], $12::text[], $13::text[], $14::text[],
			$15::timestamptz[], $16::timestamptz[], $17::boolean[], $18::timestamptz[], $19::text[], $20::bigint[],
			$21::jsonb[])
			AS u(c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11, c12, c13, c14, c15, c16, c17, c18, c19, c20, c21)
		ON CONFLICT (id) DO NOTHING`,
		id, room, seq, session, meeting, sender, senderName, kind, text, private, recipients, replyTo, clientID,
		attachment, created, edited, deleted, deletedAt, deletedBy, epoch, envelope)
}

// copyMessages inserts rows with COPY on conn, inside its transaction.
func copyMessages(ctx context.Context, conn *sql.Conn, rows []MessageRow) error {
	return conn.Raw(func(dc any) error {
		sc, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("recorder: COPY needs pgx, the driver is %T", dc)
		}
		_, err := sc.Conn().CopyFrom(ctx, pgx.Identifier{"messages"}, messageColumns, &messageSource{rows: rows, i: -1})
		return err
	})
}

// messageSource feeds rows to CopyFrom.
type messageSource struct {
	rows []MessageRow
	i    int
	vals []any
}

func (s *messageSource) Next() bool {
	s.i++
	return s.i < len(s.rows)
}

func (s *messageSource) Values() ([]any, error) {
	s.vals = messageValues(&s.rows[s.i], s.vals)
	return s.vals, nil
}

func (s *messageSource) Err() error { return nil }

func (w *writer) insertRecipients(tx *gorm.DB, rows []MessageRecipient) error {
	if tx.Dialector.Name() != "postgres" {
		return w.sqliteInsert(tx, func(s *sqliteStmts) *sql.Stmt { return s.recipient }, func(st *sql.Stmt) error {
			for _, r := range rows {
				if err := w.execPrepared(tx, st, []any{r.MessageID, r.Identity}); err != nil {
					return err
				}
			}
			return nil
		})
	}
	ids, who := make([]string, len(rows)), make([]string, len(rows))
	for i, r := range rows {
		ids[i], who[i] = r.MessageID, r.Identity
	}
	return rawExec(tx, `INSERT INTO message_recipients (message_id, identity)
		SELECT * FROM unnest($1::text[], $2::text[]) ON CONFLICT DO NOTHING`, ids, who)
}

var outboxColumns = []string{"id", "event_type", "payload", "endpoint", "status", "attempts", "next_attempt_at",
	"last_error", "created_at", "delivered_at"}

// insertOutbox inserts the outbox rows the Outbox returned (new ULIDs: no
// conflict is possible, as with the single inserts before).
func (w *writer) insertOutbox(tx *gorm.DB, rows []OutboxEvent) error {
	if tx.Dialector.Name() != "postgres" {
		return w.sqliteInsert(tx, func(s *sqliteStmts) *sql.Stmt { return s.outbox }, func(st *sql.Stmt) error {
			for i := range rows {
				e := &rows[i]
				if err := w.execPrepared(tx, st, []any{e.ID, e.EventType, e.Payload, e.Endpoint, e.Status,
					e.Attempts, e.NextAttemptAt, e.LastError, e.CreatedAt, e.DeliveredAt}); err != nil {
					return err
				}
			}
			return nil
		})
	}
	n := len(rows)
	id, typ, payload, endpoint, status, lastErr := make([]string, n), make([]string, n), make([]string, n),
		make([]string, n), make([]string, n), make([]string, n)
	attempts := make([]int64, n)
	next, created := make([]time.Time, n), make([]time.Time, n)
	delivered := make([]*time.Time, n)
	for i := range rows {
		e := &rows[i]
		id[i], typ[i], payload[i], endpoint[i], status[i], lastErr[i] = e.ID, e.EventType, e.Payload, e.Endpoint, e.Status, e.LastError
		attempts[i], next[i], created[i], delivered[i] = int64(e.Attempts), e.NextAttemptAt, e.CreatedAt, e.DeliveredAt
	}
	return rawExec(tx, `INSERT INTO webhook_outbox (`+strings.Join(outboxColumns, ", ")+`)
		SELECT * FROM unnest($1::text[], $2::text[], $3::jsonb[], $4::text[], $5::text[], $6::bigint[],
			$7::timestamptz[], $8::text[], $9::timestamptz[], $10::timestamptz[])`,
		id, typ, payload, endpoint, status, attempts, next, lastErr, created, delivered)
}

// sqliteMessages inserts rows one by one (one row per Exec measured
// faster than multi-row statements of 8 to 40 rows: the driver binds in
// time quadratic in a statement's parameters).
func (w *writer) sqliteMessages(tx *gorm.DB, rows []MessageRow) error {
	return w.sqliteInsert(tx, func(s *sqliteStmts) *sql.Stmt { return s.message }, func(st *sql.Stmt) error {
		args := make([]any, 0, len(messageColumns))
		for i := range rows {
			args = messageValues(&rows[i], args)
			if err := w.execPrepared(tx, st, args); err != nil {
				return err
			}
		}
		return nil
	})
}

// sqliteInsert runs insert with the prepared statement which picks, bound
// to tx.
func (w *writer) sqliteInsert(tx *gorm.DB, which func(*sqliteStmts) *sql.Stmt, insert func(*sql.Stmt) error) error {
	sqlTx, ok := tx.Statement.ConnPool.(*sql.Tx)
	if !ok {
		return fmt.Errorf("recorder: the writer's transaction is a %T", tx.Statement.ConnPool)
	}
	ctx := txContext(tx)
	if err := w.sqlite.prepare(ctx, w.r.db); err != nil {
		return err
	}
	st := sqlTx.StmtContext(ctx, which(&w.sqlite))
	defer st.Close()
	return insert(st)
}

// execPrepared executes st with args, then the test fault hook.
func (w *writer) execPrepared(tx *gorm.DB, st *sql.Stmt, args []any) error {
	if _, err := st.ExecContext(txContext(tx), args...); err != nil {
		return err
	}
	if hook := w.r.afterExec; hook != nil {
		return hook()
	}
	return nil
}
