package export

// Where the CSV export reads from: the scope's messages in seq order,
// merged by WriteCSV with a second ordered stream, the "marks" (pins and
// reactions), and with each file message's attachment.
//
// The messages are every row, so their stream is tuned: raw values, no
// reflection, no string per cell. The marks are joined to the scope's
// messages once, as a set, and sorted by seq: looking them up per chunk of
// messages costs an index probe per message (~1 µs on PostgreSQL, more
// than reading the message itself), while one set query lets the database
// hash-join, or probe from the (few) reactions instead.
//
// PostgreSQL: the messages stream as one query on their own connection, so
// the server produces rows while the CSV is written (paging them through a
// cursor stopped it at every page: ~400,000 instead of ~600,000 rows/s);
// rows are decoded in place from pgx's buffer, never copied. The
// attachment comes in the message's row (a subquery run only for file
// messages). The marks stream on a second connection. Both share one
// exported snapshot (REPEATABLE READ, READ ONLY): the export is consistent.
//
// SQLite (sqlite.go): the messages on two connections, in
// alternate chunks, the marks and attachments on a third, so that
// SQLite's C code runs on both CPUs (on one connection, every call takes
// that connection's lock); the read transactions begin at the same
// commit.
//
// The connections are held for the whole export, including while a slow
// client reads: Exporter.slots caps how many exports stream at once, so
// they never take every connection from the writer and the chat reads.

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/backchannel-rtc/backchannel/recorder"
)

// exportRow is one message as the export reads it. Its byte slices belong
// to the source: valid until the next row.
type exportRow struct {
	id, sender, sessionID, meetingID, senderName, kind, text, recipients, replyTo, attachmentID []byte

	createdAt time.Time
	edited    bool
	deleted   bool
	encrypted bool // end-to-end encrypted: text is empty, the envelope is not exported
	seq       int64
	att       []byte // PostgreSQL: the attachment, a binary record (NULL if none)
}

// exportMark is a pin (reaction false) or a reaction of message seq; emoji
// and identity are valid until the next mark.
type exportMark struct {
	seq             int64
	reaction        bool
	emoji, identity []byte
}

// exportSource yields the streams. fn may call mark and attachment.
type exportSource interface {
	each(fn func(m *exportRow) error) error
	mark() (exportMark, bool, error)
	// attachment returns m's attachment row (nil if it has none); the row
	// is reused by the next call.
	attachment(m *exportRow) (*recorder.AttachmentRow, error)
}

// exportQueries returns the queries for scope column col, with the scope
// value as parameter p; extra adds columns to the messages. Exporting a
// session, its id is not read back: it is the scope value.
func exportQueries(col, p, extra string) (messages, marks, attachments string) {
	sessionCol := "session_id"
	if col == "session_id" {
		sessionCol = "''"
	}
	messages = `SELECT id, sender, ` + sessionCol + `, meeting_id, sender_name, kind, text, recipients::text, reply_to,
		attachment_id, created_at, edited_at IS NOT NULL, deleted, seq, e2ee IS NOT NULL` + extra + `
		FROM messages m WHERE ` + col + ` = ` + p + ` AND seq > 0 ORDER BY seq`
	// k orders a pin before the reactions of its message; reactions are in
	// loadExtras' order (created_at, emoji, identity).
	marks = `SELECT seq, k, emoji, identity FROM (
		SELECT m.seq, 0 AS k, m.created_at AS at, '' AS emoji, '' AS identity
			FROM pins p JOIN messages m ON m.id = p.message_id WHERE m.` + col + ` = ` + p + ` AND m.seq > 0
		UNION ALL
		SELECT m.seq, 1, r.created_at, r.emoji, r.identity
			FROM reactions r JOIN messages m ON m.id = r.message_id WHERE m.` + col + ` = ` + p + ` AND m.seq > 0
		) x ORDER BY seq, k, at, emoji, identity`
	attachments = `SELECT m.seq, a.id, a.room, a.uploader, a.name, a.content_type, a.size, a.hash, a.image,
		a.width, a.height, a.created_at
		FROM messages m JOIN attachments a ON a.id = m.attachment_id
		WHERE m.` + col + ` = ` + p + ` AND m.seq > 0 AND m.attachment_id <> '' ORDER BY m.seq`
	return
}

// pgAttachmentColumn is the attachment of a file message, as a record
// (decoded by decodePgAttachment).
const pgAttachmentColumn = `, CASE WHEN m.attachment_id <> '' AND m.kind IN ('image', 'file') AND NOT m.deleted THEN
	(SELECT ROW(a.id, a.room, a.uploader, a.name, a.content_type, a.size, a.hash, a.image, a.width, a.height,
		a.created_at) FROM attachments a WHERE a.id = m.attachment_id) END`

// newSlots bounds the exports streaming at once to a quarter of the
// connection pool (see above); maxConns 0 means an unlimited pool.
func newSlots(maxConns int) chan struct{} {
	if maxConns <= 0 {
		maxConns = 16
	}
	return make(chan struct{}, max(1, maxConns/4))
}

// withExportSource opens the streams for col = val and runs fn.
func (x *Exporter) withExportSource(ctx context.Context, col, val string, fn func(exportSource) error) error {
	select {
	case x.slots <- struct{}{}:
		defer func() { <-x.slots }()
	case <-ctx.Done():
		return ctx.Err()
	}
	sqlDB, err := x.db.DB()
	if err != nil {
		return err
	}
	if x.db.Dialector.Name() != "postgres" {
		return sqliteExport(ctx, sqlDB, col, val, fn)
	}
	conn, err := sqlDB.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	extra, err := sqlDB.Conn(ctx)
	if err != nil {
		return err
	}
	defer extra.Close()
	return conn.Raw(func(mdc any) error {
		return extra.Raw(func(xdc any) error {
			mc, ok1 := mdc.(*stdlib.Conn)
			xc, ok2 := xdc.(*stdlib.Conn)
			if !ok1 || !ok2 {
				return fmt.Errorf("export: needs the pgx driver, not %T", mdc)
			}
			return pgExport(ctx, mc.Conn(), xc.Conn(), col, val, fn)
		})
	})
}

// ---- PostgreSQL through pgx ----

// pgExport streams the messages on mc and the marks on xc, in one
// snapshot.
func pgExport(ctx context.Context, mc, xc *pgx.Conn, col, val string, fn func(exportSource) error) error {
	ro := pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}
	// Read only: rolling back just ends a transaction. A failed rollback
	// closes the connection, so the pool discards it.
	rollback := func(tx pgx.Tx) {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = tx.Rollback(rctx)
	}
	// The queries are described then executed as the unnamed statement:
	// planned for this scope value, never a cached generic plan. The rest
	// take no parameter: one round trip each.
	describe, simple := pgx.QueryExecModeDescribeExec, pgx.QueryExecModeSimpleProtocol
	xtx, err := xc.BeginTx(ctx, ro)
	if err != nil {
		return err
	}
	defer rollback(xtx)
	var snapshot string
	if err := xtx.QueryRow(ctx, "SELECT pg_export_snapshot()", simple).Scan(&snapshot); err != nil {
		return err
	}
	mtx, err := mc.BeginTx(ctx, ro)
	if err != nil {
		return err
	}
	defer rollback(mtx)
	// JIT compiling these plain scans costs more than it saves.
	for _, q := range []struct {
		tx  pgx.Tx
		sql string
	}{
		{mtx, "SET TRANSACTION SNAPSHOT '" + strings.ReplaceAll(snapshot, "'", "''") + "'"},
		{mtx, "SET LOCAL jit = off"},
		{xtx, "SET LOCAL jit = off"},
	} {
		if _, err := q.tx.Exec(ctx, q.sql, simple); err != nil {
			return err
		}
	}
	msgs, marks, _ := exportQueries(col, "$1", pgAttachmentColumn)
	// The marks first: their sort must finish before their first row.
	mrows, err := xtx.Query(ctx, marks, describe, val)
	if err != nil {
		return err
	}
	defer mrows.Close()
	rows, err := mtx.Query(ctx, msgs, describe, pgx.QueryResultFormats{pgx.BinaryFormatCode}, val)
	if err != nil {
		return err
	}
	defer rows.Close()
	if err := checkMessageFields(rows.FieldDescriptions()); err != nil {
		return err
	}
	s := &pgSource{rows: rows, marks: mrows}
	if col == "session_id" {
		s.session = []byte(val)
	}
	return fn(s)
}

type pgSource struct {
	rows, marks pgx.Rows
	session     []byte // set when exporting a session
	row         exportRow
	att         recorder.AttachmentRow
}

// PostgreSQL type OIDs of the message columns.
const (
	oidBool        = 16
	oidInt8        = 20
	oidText        = 25
	oidBPChar      = 1042
	oidVarchar     = 1043
	oidTimestamptz = 1184
	oidRecord      = 2249
)

// messageOIDs is the type of each message column (0: any text type).
var messageOIDs = [16]uint32{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, oidTimestamptz, oidBool, oidBool, oidInt8, oidBool, oidRecord}

func checkMessageFields(fds []pgconn.FieldDescription) error {
	if len(fds) != len(messageOIDs) {
		return fmt.Errorf("export: %d message columns", len(fds))
	}
	for i, fd := range fds {
		want := messageOIDs[i]
		ok := fd.Format == pgx.BinaryFormatCode && (fd.DataTypeOID == want ||
			want == 0 && (fd.DataTypeOID == oidText || fd.DataTypeOID == oidVarchar || fd.DataTypeOID == oidBPChar))
		if !ok {
			return fmt.Errorf("export: column %s has type %d", fd.Name, fd.DataTypeOID)
		}
	}
	return nil
}

func (s *pgSource) each(fn func(m *exportRow) error) error {
	m := &s.row
	for s.rows.Next() {
		// Binary values, decoded in place: text is its bytes.
		v := s.rows.RawValues()
		if len(v) != 16 || len(v[10]) != 8 || len(v[11]) != 1 || len(v[12]) != 1 || len(v[13]) != 8 || len(v[14]) != 1 {
			return fmt.Errorf("export: unexpected message values")
		}
		m.id, m.sender, m.sessionID, m.meetingID, m.senderName = v[0], v[1], v[2], v[3], v[4]
		m.kind, m.text, m.recipients, m.replyTo, m.attachmentID = v[5], v[6], v[7], v[8], v[9]
		if s.session != nil {
			m.sessionID = s.session
		}
		m.createdAt = pgTime(int64(binary.BigEndian.Uint64(v[10])))
		m.edited, m.deleted = v[11][0] != 0, v[12][0] != 0
		m.seq = int64(binary.BigEndian.Uint64(v[13]))
		m.encrypted = v[14][0] != 0
		m.att = v[15]
		if err := fn(m); err != nil {
			return err
		}
	}
	return s.rows.Err()
}

// pgTime decodes a binary timestamptz (microseconds since 2000-01-01 UTC)
// as pgx does.
func pgTime(us int64) time.Time {
	const y2k = 946684800 // Unix seconds
	return time.Unix(y2k+us/1e6, (us%1e6)*1e3)
}

func (s *pgSource) mark() (exportMark, bool, error) {
	if !s.marks.Next() {
		return exportMark{}, false, s.marks.Err()
	}
	var m exportMark
	var k int32
	var emoji, identity pgtype.DriverBytes
	if err := s.marks.Scan(&m.seq, &k, &emoji, &identity); err != nil {
		return m, false, err
	}
	m.reaction, m.emoji, m.identity = k == 1, emoji, identity
	return m, true, nil
}

func (s *pgSource) attachment(m *exportRow) (*recorder.AttachmentRow, error) {
	if m.att == nil {
		return nil, nil
	}
	s.att = recorder.AttachmentRow{}
	if err := decodePgAttachment(m.att, &s.att); err != nil {
		return nil, fmt.Errorf("export: attachment: %w", err)
	}
	return &s.att, nil
}

// decodePgAttachment decodes pgAttachmentColumn's record (binary format:
// a field count, then each field's type OID, length and value).
func decodePgAttachment(b []byte, a *recorder.AttachmentRow) error {
	text := [5]*string{&a.ID, &a.Room, &a.Uploader, &a.Name, &a.ContentType}
	if len(b) < 4 || binary.BigEndian.Uint32(b) != 11 {
		return errors.New("not an 11-field record")
	}
	b = b[4:]
	for i := 0; i < 11; i++ {
		if len(b) < 8 {
			return errors.New("short record")
		}
		oid, n := binary.BigEndian.Uint32(b), int32(binary.BigEndian.Uint32(b[4:]))
		b = b[8:]
		if n < 0 || int(n) > len(b) {
			return fmt.Errorf("field %d: length %d", i, n)
		}
		v := b[:n]
		b = b[n:]
		isText := oid == oidVarchar || oid == oidText || oid == oidBPChar
		switch {
		case i <= 4 && isText: // id, room, uploader, name, content_type
			*text[i] = string(v)
		case i == 6 && isText:
			a.Hash = string(v)
		case (i == 5 || i == 8 || i == 9) && oid == oidInt8 && n == 8:
			x := int64(binary.BigEndian.Uint64(v))
			switch i {
			case 5:
				a.Size = x
			case 8:
				a.Width = int(x)
			default:
				a.Height = int(x)
			}
		case i == 7 && oid == oidBool && n == 1:
			a.Image = v[0] != 0
		case i == 10 && oid == oidTimestamptz && n == 8:
			a.CreatedAt = pgTime(int64(binary.BigEndian.Uint64(v)))
		default:
			return fmt.Errorf("field %d: type %d", i, oid)
		}
	}
	return nil
}
