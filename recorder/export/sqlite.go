package export

// The export's streams on SQLite. Two goroutines read the messages on two
// connections, in alternate chunks of seqs, ahead of the CSV writer
// (readahead.go); the marks and attachments stream on a third. On
// one connection every call takes that connection's lock, so all of
// SQLite's work ran on one CPU; now it runs on both. The read
// transactions begin at the same commit (sqliteSnapshot), so the export
// is consistent, as on PostgreSQL.
//
// Each message comes back as ONE blob: "<seq> <flags> " (flags: 1 edited,
// 2 deleted, 4 end-to-end encrypted), then its text columns, each as "<byte length>:<bytes>". The
// pure-Go SQLite takes a mutex on every call; reading fourteen columns,
// with the driver asking each text column's declared type, made the
// mutexes alone about half the export's time, and one blob per row reads
// 2.5 times faster. On the C SQLite, building the blob is most of what a
// row costs, so it has as few parts as it can: the scope's own column is
// not read back, and seq and the flags need no length (fourteen
// length-prefixed columns read 20 % slower). The drivers turn created_at
// (text) into a time; sqliteTime does what they do.

import (
	"bytes"
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/backchannel-rtc/backchannel/recorder"
)

// sqliteMessageFields are the length-prefixed parts of a message's blob,
// in this order, less the scope column (session_id when exporting a
// session: it is the scope's value).
var sqliteMessageFields = [...]string{"id", "sender", "session_id", "meeting_id", "sender_name", "kind", "text",
	"recipients", "reply_to", "attachment_id", "created_at"}

// sqliteMessagesQuery selects the messages of col = ?1 as blobs, with
// seqs from ?2 (at least 1) to before ?3. (With "seq > 0" beside them,
// SQLite began every chunk's range at that bound, which is known when the
// statement is prepared, and scanned from the session's start.)
func sqliteMessagesQuery(col string) string {
	parts := []string{"seq || ' ' || ((edited_at IS NOT NULL) + 2 * (deleted <> 0) + 4 * (e2ee IS NOT NULL)) || ' '"}
	for _, f := range sqliteMessageFields {
		if f == col {
			continue
		}
		parts = append(parts, "length(CAST(("+f+") AS BLOB)) || ':' || ("+f+")")
	}
	return `SELECT CAST(` + strings.Join(parts, " || ") + ` AS BLOB)
		FROM messages m WHERE ` + col + ` = ?1 AND seq >= ?2 AND seq < ?3 ORDER BY seq`
}

func sqliteExport(ctx context.Context, db *sql.DB, col, val string, fn func(exportSource) error) error {
	_, marks, atts := exportQueries(col, "?1", "")
	// The scope column, when it is a field, is not read back but filled in.
	s := &sqlSource{scope: []byte(val), scopeField: slices.Index(sqliteMessageFields[:], col)}
	// Two connections read the messages, a third the marks and attachments.
	var conns [3]*sql.Conn
	for i := range conns {
		c, err := db.Conn(ctx)
		if err != nil {
			return err
		}
		defer c.Close()
		conns[i] = c
	}
	conn, second, extra := conns[0], conns[1], conns[2]
	end, err := sqliteSnapshot(ctx, db, conns[:]...)
	if err != nil {
		return err
	}
	defer end()
	// The messages' seqs, for the readers' chunks.
	var lo, hi sql.NullInt64
	if err := conn.QueryRowContext(ctx, `SELECT min(seq), max(seq) FROM messages WHERE `+col+` = ?1 AND seq > 0`,
		val).Scan(&lo, &hi); err != nil {
		return err
	}
	s.read = func(fn func(row []byte) error) error {
		if !lo.Valid {
			return nil
		}
		return readAhead(ctx, []*sql.Conn{conn, second}, sqliteMessagesQuery(col), val, lo.Int64, hi.Int64, fn)
	}
	if s.marks, err = extra.QueryContext(ctx, marks, val); err != nil {
		return err
	}
	defer s.marks.Close()
	if s.atts, err = extra.QueryContext(ctx, atts, val); err != nil {
		return err
	}
	defer s.atts.Close()
	return fn(s)
}

// sqliteSnapshot begins a read transaction on each of conns, all at the
// same commit: one more connection holds the write lock meanwhile (BEGIN
// IMMEDIATE, for well under a millisecond; it writes nothing, so a
// read-only database works too), so no commit falls between them. end
// rolls them back; a connection whose rollback fails is discarded.
func sqliteSnapshot(ctx context.Context, db *sql.DB, conns ...*sql.Conn) (end func(), err error) {
	var begun []*sql.Conn
	end = func() {
		for _, c := range begun {
			rollback(ctx, c)
		}
	}
	lock, err := db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	defer lock.Close()
	if _, err := lock.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		return nil, err
	}
	defer rollback(ctx, lock)
	for _, c := range conns {
		if _, err := c.ExecContext(ctx, "BEGIN"); err != nil {
			end()
			return nil, err
		}
		begun = append(begun, c)
		// A deferred transaction takes its snapshot at its first read.
		var n int
		if err := c.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_schema").Scan(&n); err != nil {
			end()
			return nil, err
		}
	}
	return end, nil
}

// rollback ends c's transaction, or discards c.
func rollback(ctx context.Context, c *sql.Conn) {
	if _, err := c.ExecContext(context.WithoutCancel(ctx), "ROLLBACK"); err != nil {
		_ = c.Raw(func(any) error { return driver.ErrBadConn })
	}
}

type sqlSource struct {
	read            func(fn func(row []byte) error) error // the messages
	marks, atts     *sql.Rows
	scope           []byte // the scope's value
	scopeField      int    // its index in sqliteMessageFields, or -1
	row             exportRow
	emoji, identity sql.RawBytes
	att             recorder.AttachmentRow
	attSeq          int64 // seq of att; 0: none read yet
	attsEnd         bool
}

var errBadRow = errors.New("export: malformed message row")

func (s *sqlSource) each(fn func(m *exportRow) error) error {
	m := &s.row
	var f [len(sqliteMessageFields)][]byte
	return s.read(func(b []byte) error {
		sp := bytes.IndexByte(b, ' ')
		if sp < 1 || len(b) < sp+3 || b[sp+2] != ' ' || b[sp+1] < '0' || b[sp+1] > '7' {
			return errBadRow
		}
		var err error
		if m.seq, err = strconv.ParseInt(string(b[:sp]), 10, 64); err != nil {
			return fmt.Errorf("export: seq: %w", err)
		}
		flags := b[sp+1] - '0'
		m.edited, m.deleted, m.encrypted = flags&1 != 0, flags&2 != 0, flags&4 != 0
		b = b[sp+3:]
		for i := range f {
			if i == s.scopeField {
				f[i] = s.scope
				continue
			}
			var ok bool
			if f[i], b, ok = lengthPrefixed(b); !ok {
				return errBadRow
			}
		}
		if len(b) != 0 {
			return errBadRow
		}
		m.id, m.sender, m.sessionID, m.meetingID, m.senderName = f[0], f[1], f[2], f[3], f[4]
		m.kind, m.text, m.recipients, m.replyTo, m.attachmentID = f[5], f[6], f[7], f[8], f[9]
		if m.createdAt, err = sqliteTime(f[10]); err != nil {
			return err
		}
		return fn(m)
	})
}

// digits reads a short unsigned decimal (at most 9 digits).
func digits(p []byte) (int, bool) {
	if len(p) == 0 || len(p) > 9 {
		return 0, false
	}
	v := 0
	for _, c := range p {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	return v, true
}

// sqliteTimeFormats are the drivers', in their order (glebarez/go-sqlite's
// and mattn/go-sqlite3's lists are the same).
var sqliteTimeFormats = []string{
	"2006-01-02 15:04:05.999999999-07:00",
	"2006-01-02T15:04:05.999999999-07:00",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05",
	"2006-01-02T15:04:05",
	"2006-01-02 15:04",
	"2006-01-02T15:04",
	"2006-01-02",
}

// sqliteTime parses a stored time as the pure-Go driver does for a
// DATETIME column (the C driver parses the same formats, except
// time.String()'s, and gives the zero time where none applies). What the
// writer stores (UTC, "2006-01-02 15:04:05.999999999+00:00") is read
// directly.
func sqliteTime(b []byte) (time.Time, error) {
	if t, ok := sqliteUTC(b); ok {
		return t, nil
	}
	s := string(b)
	// The driver first tries time.Time.String()'s format.
	ts := s
	if x := strings.Index(s, "m="); x > 0 {
		ts = s[:x]
	}
	if t, err := time.Parse("2006-01-02 15:04:05.999999999 -0700 MST", strings.TrimSpace(ts)); err == nil {
		return t, nil
	}
	ts = strings.TrimSuffix(s, "Z")
	for _, f := range sqliteTimeFormats {
		if t, err := time.ParseInLocation(f, ts, time.UTC); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("export: unsupported time %q", s)
}

// sqliteUTC parses "YYYY-MM-DD HH:MM:SS[.fraction]+00:00", or reports
// false (the general path then decides, as the driver would).
func sqliteUTC(b []byte) (time.Time, bool) {
	n := len(b)
	if n < 25 || string(b[n-6:]) != "+00:00" || b[4] != '-' || b[7] != '-' || b[10] != ' ' || b[13] != ':' || b[16] != ':' {
		return time.Time{}, false
	}
	num := digits
	year, ok1 := num(b[0:4])
	month, ok2 := num(b[5:7])
	day, ok3 := num(b[8:10])
	hour, ok4 := num(b[11:13])
	minute, ok5 := num(b[14:16])
	sec, ok6 := num(b[17:19])
	if !ok1 || !ok2 || !ok3 || !ok4 || !ok5 || !ok6 || month < 1 || month > 12 || day < 1 || hour > 23 ||
		minute > 59 || sec > 59 || day > time.Date(year, time.Month(month+1), 0, 0, 0, 0, 0, time.UTC).Day() {
		return time.Time{}, false
	}
	ns := 0
	if frac := b[19 : n-6]; len(frac) > 0 {
		if frac[0] != '.' || len(frac) < 2 || len(frac) > 10 {
			return time.Time{}, false
		}
		v, ok := num(frac[1:])
		if !ok {
			return time.Time{}, false
		}
		for i := len(frac) - 1; i < 9; i++ {
			v *= 10
		}
		ns = v
	}
	return time.Date(year, time.Month(month), day, hour, minute, sec, ns, time.UTC), true
}

func (s *sqlSource) mark() (exportMark, bool, error) {
	if !s.marks.Next() {
		return exportMark{}, false, s.marks.Err()
	}
	var m exportMark
	var k int
	if err := s.marks.Scan(&m.seq, &k, &s.emoji, &s.identity); err != nil {
		return m, false, err
	}
	m.reaction, m.emoji, m.identity = k == 1, s.emoji, s.identity
	return m, true, nil
}

// attachment advances the attachments stream to m.
func (s *sqlSource) attachment(m *exportRow) (*recorder.AttachmentRow, error) {
	for !s.attsEnd && s.attSeq < m.seq {
		if !s.atts.Next() {
			s.attsEnd = true
			return nil, s.atts.Err()
		}
		s.att = recorder.AttachmentRow{}
		a := &s.att
		if err := s.atts.Scan(&s.attSeq, &a.ID, &a.Room, &a.Uploader, &a.Name, &a.ContentType, &a.Size, &a.Hash,
			&a.Image, &a.Width, &a.Height, &a.CreatedAt); err != nil {
			return nil, err
		}
	}
	if s.attSeq == m.seq {
		return &s.att, nil
	}
	return nil, nil
}

// lengthPrefixed splits "<byte length>:<bytes>" off the front of b.
func lengthPrefixed(b []byte) (field, rest []byte, ok bool) {
	colon := bytes.IndexByte(b, ':')
	n, ok := digits(b[:max(colon, 0)])
	if colon < 1 || !ok || n > len(b)-colon-1 {
		return nil, nil, false
	}
	return b[colon+1 : colon+1+n : colon+1+n], b[colon+1+n:], true
}
