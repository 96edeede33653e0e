package recorder

// The chat-replay CSV: RealtimeKit's ten columns first, ours after. The
// export streams from the database in keyset-paginated chunks (seq > last,
// ordered by seq, using the (session_id, seq) or (meeting_id, seq) index)
// (a meeting's rows by room) with one buffer of csvChunk rows reused throughout, so memory stays
// constant however long the meeting; the output is flushed after every
// chunk.
//
// Payload of IMAGE_MESSAGE / FILE_MESSAGE rows: RealtimeKit puts a URL to
// the file. We put a signed download URL when the caller can build one
// (CSVOptions.AttachmentURL), else "attachment:<id>". Text of a message
// that also carries a file is not in the CSV (RealtimeKit has no column for
// it). Deleted messages appear as tombstones: empty payload, deleted=true.

import (
	"bufio"
	"context"
	"encoding/csv"
	"io"
	"strconv"
	"strings"

	"github.com/backchannel-rtc/backchannel/chat"
)

// CSVHeader is the chat-replay header, exactly.
var CSVHeader = []string{
	"id", "participantId", "sessionId", "meetingId", "displayName", "pinned", "isEdited",
	"payloadType", "payload", "createdAt",
	"recipients", "replyTo", "reactions", "deleted", "seq",
}

// CSVScope selects what to export: one session, or every session of a
// meeting (set exactly one).
type CSVScope struct {
	SessionID string
	MeetingID string
}

// CSVOptions tune an export.
type CSVOptions struct {
	// BOM starts the file with a UTF-8 byte order mark (for Excel).
	BOM bool
	// AttachmentURL returns the payload of an image or file message; nil
	// writes "attachment:<id>".
	AttachmentURL func(a *AttachmentRow) string
	// Progress, if set, is called after every chunk with the rows so far.
	Progress func(rows int)
	// Flush, if set, is called after every chunk (e.g. http.Flusher).
	Flush func()
}

const csvChunk = 1000

// csvTime is RFC 3339 with milliseconds, always UTC ("Z").
const csvTime = "2006-01-02T15:04:05.000Z07:00"

// neutralise defuses cells a spreadsheet would run as a formula, as OWASP
// advises: prefix a single quote.
func neutralise(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// newCSVWriter writes RFC 4180 records with CRLF record ends.
func newCSVWriter(w io.Writer) *csv.Writer {
	cw := csv.NewWriter(w)
	cw.UseCRLF = true
	return cw
}

// writeRow neutralises every cell of rec (in place) and writes it. Line
// breaks inside a cell become LF: encoding/csv with UseCRLF writes an LF as
// CRLF and silently drops a CR, so without this "a\rb" would be exported
// as "ab", and "a\r\nb" would come back as "a\nb" anyway.
func writeRow(cw *csv.Writer, rec []string) error {
	for j := range rec {
		rec[j] = normaliseBreaks(neutralise(rec[j]))
	}
	return cw.Write(rec)
}

// normaliseBreaks turns CRLF and lone CR into LF.
func normaliseBreaks(s string) string {
	if !strings.Contains(s, "\r") {
		return s
	}
	return strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\r", "\n")
}

func payloadType(k string) string {
	switch chat.Kind(k) {
	case chat.KindImage:
		return "IMAGE_MESSAGE"
	case chat.KindFile:
		return "FILE_MESSAGE"
	}
	return "TEXT_MESSAGE"
}

// formatReactions gives "👍:alice|bob;🎉:carol".
func formatReactions(rs []chat.Reaction) string {
	var b strings.Builder
	for i, r := range rs {
		if i > 0 {
			b.WriteByte(';')
		}
		b.WriteString(r.Emoji)
		b.WriteByte(':')
		b.WriteString(strings.Join(r.Identities, "|"))
	}
	return b.String()
}

// WriteCSV streams the chat of scope to w and returns the rows written
// (without the header).
func (r *Recorder) WriteCSV(ctx context.Context, w io.Writer, scope CSVScope, o CSVOptions) (int, error) {
	bw := bufio.NewWriterSize(w, 64<<10)
	if o.BOM {
		bw.WriteString("\uFEFF")
	}
	cw := newCSVWriter(bw)
	if err := cw.Write(CSVHeader); err != nil {
		return 0, err
	}
	col, val := "session_id", scope.SessionID
	if scope.SessionID == "" {
		// A meeting is its room: use the (room, seq) index.
		var m Meeting
		if err := r.db.WithContext(ctx).Where("id = ?", scope.MeetingID).Take(&m).Error; err != nil {
			return 0, err
		}
		col, val = "room", m.Room
	}
	rows := make([]MessageRow, 0, csvChunk)
	rec := make([]string, len(CSVHeader))
	n := 0
	var last int64
	for {
		rows = rows[:0]
		if err := r.db.WithContext(ctx).Where(col+" = ? AND seq > ?", val, last).
			Order("seq").Limit(csvChunk).Find(&rows).Error; err != nil {
			return n, err
		}
		if len(rows) == 0 {
			break
		}
		x, err := loadExtras(ctx, r.db, rows)
		if err != nil {
			return n, err
		}
		for i := range rows {
			m := &rows[i]
			payload := m.Text
			if m.Kind == string(chat.KindImage) || m.Kind == string(chat.KindFile) {
				payload = ""
				if a := x.attachments[m.AttachmentID]; a != nil && !m.Deleted {
					if o.AttachmentURL != nil {
						payload = o.AttachmentURL(a)
					} else {
						payload = "attachment:" + a.ID
					}
				}
			}
			if m.Deleted {
				payload = ""
			}
			rec[0] = m.ID
			rec[1] = m.Sender
			rec[2] = m.SessionID
			rec[3] = m.MeetingID
			rec[4] = m.SenderName
			rec[5] = strconv.FormatBool(x.pinned[m.ID])
			rec[6] = strconv.FormatBool(m.EditedAt != nil)
			rec[7] = payloadType(m.Kind)
			rec[8] = payload
			rec[9] = m.CreatedAt.UTC().Format(csvTime)
			rec[10] = strings.Join(decodeList(m.Recipients), ";")
			rec[11] = m.ReplyTo
			rec[12] = formatReactions(x.reactions[m.ID])
			rec[13] = strconv.FormatBool(m.Deleted)
			rec[14] = strconv.FormatInt(m.Seq, 10)
			if err := writeRow(cw, rec); err != nil {
				return n, err
			}
			n++
		}
		last = rows[len(rows)-1].Seq
		cw.Flush()
		if err := cw.Error(); err != nil {
			return n, err
		}
		if err := bw.Flush(); err != nil {
			return n, err
		}
		if o.Flush != nil {
			o.Flush()
		}
		if o.Progress != nil {
			o.Progress(n)
		}
		if len(rows) < csvChunk {
			break
		}
		clear(rows) // let the previous chunk's strings go
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return n, err
	}
	return n, bw.Flush()
}
