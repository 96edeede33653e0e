package export

// The chat-replay CSV: RealtimeKit's ten columns first, ours after. It
// streams a session's rows (a meeting's by room) in seq order from
// the (session_id, seq) or (room, seq) index, merged with their pins,
// reactions and attachments (source.go, sqlite.go), through one reused output buffer
// (csvrow.go), so memory stays constant however long the meeting. The
// output is flushed, and Progress reported, every csvChunk rows.
//
// Payload of IMAGE_MESSAGE / FILE_MESSAGE rows: RealtimeKit puts a URL to
// the file. We put a signed download URL when the caller can build one
// (Options.AttachmentURL), else "attachment:<id>". Text of a message
// that also carries a file is not in the CSV (RealtimeKit has no column for
// it). Deleted messages appear as tombstones: empty payload, deleted=true.

import (
	"context"
	"io"

	"gorm.io/gorm"

	"github.com/backchannel-rtc/backchannel/chat"
	"github.com/backchannel-rtc/backchannel/recorder"
)

// Header is the chat-replay header, exactly.
var Header = []string{
	"id", "participantId", "sessionId", "meetingId", "displayName", "pinned", "isEdited",
	"payloadType", "payload", "createdAt",
	"recipients", "replyTo", "reactions", "deleted", "seq", "encrypted",
}

// Scope selects what to export: one session, or every session of a
// meeting (set exactly one).
type Scope struct {
	SessionID string
	MeetingID string
}

// Options tune an export.
type Options struct {
	// BOM starts the file with a UTF-8 byte order mark (for Excel).
	BOM bool
	// AttachmentURL returns the payload of an image or file message; nil
	// writes "attachment:<id>".
	AttachmentURL func(a *recorder.AttachmentRow) string
	// Progress, if set, is called after every chunk with the rows so far.
	Progress func(rows int)
	// Flush, if set, is called after every chunk (e.g. http.Flusher).
	Flush func()
}

const csvChunk = 1000

// csvTime is RFC 3339 with milliseconds, always UTC ("Z").
const csvTime = "2006-01-02T15:04:05.000Z07:00"

// Exporter streams chat-replay CSVs from one database. Safe for
// concurrent use; one per process, so that its cap on concurrent exports
// holds.
type Exporter struct {
	db *gorm.DB
	// slots bounds the exports streaming at once (source.go).
	slots chan struct{}
}

// New returns an Exporter on the recorder's database.
func New(r *recorder.Recorder) (*Exporter, error) {
	db := r.DB()
	sqlDB, err := db.DB()
	if err != nil {
		return nil, err
	}
	return &Exporter{db: db, slots: newSlots(sqlDB.Stats().MaxOpenConnections)}, nil
}

// WriteCSV streams the chat of scope to w and returns the rows written
// (without the header).
func (x *Exporter) WriteCSV(ctx context.Context, w io.Writer, scope Scope, o Options) (int, error) {
	e := &csvExport{ctx: ctx, w: w, o: o, buf: make([]byte, 0, csvBuffer+4096)}
	if o.BOM {
		e.buf = append(e.buf, "\uFEFF"...)
	}
	for i, h := range Header {
		if i > 0 {
			e.buf = append(e.buf, ',')
		}
		e.buf = appendCellString(e.buf, h)
	}
	e.buf = append(e.buf, '\r', '\n')
	col, val, err := x.scopeColumn(ctx, scope)
	if err != nil {
		return 0, err
	}
	err = x.withExportSource(ctx, col, val, func(src exportSource) error {
		e.src = src
		return src.each(e.row)
	})
	if err != nil {
		return e.n, err
	}
	if e.n%csvChunk != 0 {
		if err := e.flush(); err != nil {
			return e.n, err
		}
		e.chunkDone()
	}
	return e.n, e.flush()
}

// csvBuffer is how much output is gathered before a Write.
const csvBuffer = 64 << 10

// csvExport merges the message stream with its marks and attachments and
// writes the rows.
type csvExport struct {
	ctx context.Context
	w   io.Writer
	o   Options
	src exportSource
	buf []byte
	n   int

	mark       exportMark
	markLoaded bool
	marksEnd   bool

	reactions []reactionMark
	arena     []byte // the reactions' bytes
	cell      []byte // a computed cell before encoding
}

func (e *csvExport) flush() error {
	if len(e.buf) == 0 {
		return nil
	}
	_, err := e.w.Write(e.buf)
	e.buf = e.buf[:0]
	return err
}

// chunkDone reports progress every csvChunk rows (and at the end), as the
// chunked export did.
func (e *csvExport) chunkDone() {
	if e.o.Flush != nil {
		e.o.Flush()
	}
	if e.o.Progress != nil {
		e.o.Progress(e.n)
	}
}

// marks reads the pins and reactions of message seq, skipping any of
// earlier messages.
func (e *csvExport) marks(seq int64) (pinned bool, err error) {
	e.reactions, e.arena = e.reactions[:0], e.arena[:0]
	for !e.marksEnd {
		if !e.markLoaded {
			var ok bool
			if e.mark, ok, err = e.src.mark(); err != nil {
				return false, err
			}
			e.markLoaded, e.marksEnd = ok, !ok
			continue
		}
		if e.mark.seq > seq {
			break
		}
		if e.mark.seq == seq {
			if !e.mark.reaction {
				pinned = true
			} else {
				a := len(e.arena)
				e.arena = append(e.arena, e.mark.emoji...)
				b := len(e.arena)
				e.arena = append(e.arena, e.mark.identity...)
				e.reactions = append(e.reactions, reactionMark{emoji: e.arena[a:b:b], identity: e.arena[b:len(e.arena):len(e.arena)]})
			}
		}
		e.markLoaded = false
	}
	// The arena may have moved while growing: point into its final copy.
	off := 0
	for i := range e.reactions {
		r := &e.reactions[i]
		ne, ni := len(r.emoji), len(r.identity)
		r.emoji = e.arena[off : off+ne : off+ne]
		r.identity = e.arena[off+ne : off+ne+ni : off+ne+ni]
		off += ne + ni
	}
	return pinned, nil
}

// row writes one message.
func (e *csvExport) row(m *exportRow) error {
	pinned, err := e.marks(m.seq)
	if err != nil {
		return err
	}
	b := e.buf
	b = appendCell(b, m.id)
	b = append(b, ',')
	b = appendCell(b, m.sender)
	b = append(b, ',')
	b = appendCell(b, m.sessionID)
	b = append(b, ',')
	b = appendCell(b, m.meetingID)
	b = append(b, ',')
	b = appendCell(b, m.senderName)
	b = append(b, ',')
	b = appendBool(b, pinned)
	b = append(b, ',')
	b = appendBool(b, m.edited)
	b = append(b, ',')
	// (string(bytes) == constant compares without allocating.)
	image, file := string(m.kind) == string(chat.KindImage), string(m.kind) == string(chat.KindFile)
	switch {
	case image:
		b = append(b, "IMAGE_MESSAGE,"...)
	case file:
		b = append(b, "FILE_MESSAGE,"...)
	default:
		b = append(b, "TEXT_MESSAGE,"...)
	}
	switch {
	case m.deleted:
	case m.encrypted:
		// End-to-end encrypted: the payload stays empty (text is too, and
		// a file's bytes are ciphertext); the envelope is the admin API's,
		// as an opaque field.
	case image || file:
		var att *recorder.AttachmentRow
		if len(m.attachmentID) > 0 {
			if att, err = e.src.attachment(m); err != nil {
				return err
			}
		}
		if att != nil {
			if e.o.AttachmentURL != nil {
				a := *att // the callback may keep it
				b = appendCellString(b, e.o.AttachmentURL(&a))
			} else {
				e.cell = append(append(e.cell[:0], "attachment:"...), att.ID...)
				b = appendCell(b, e.cell)
			}
		}
	default:
		b = appendCell(b, m.text)
	}
	b = append(b, ',')
	e.cell = appendCSVTime(e.cell[:0], m.createdAt)
	b = appendCell(b, e.cell)
	b = append(b, ',')
	e.cell = appendRecipients(e.cell[:0], m.recipients)
	b = appendCell(b, e.cell)
	b = append(b, ',')
	b = appendCell(b, m.replyTo)
	b = append(b, ',')
	e.cell = appendReactions(e.cell[:0], e.reactions)
	b = appendCell(b, e.cell)
	b = append(b, ',')
	b = appendBool(b, m.deleted)
	b = append(b, ',')
	e.cell = appendSeq(e.cell[:0], m.seq)
	b = appendCell(b, e.cell)
	b = append(b, ',')
	b = appendBool(b, m.encrypted)
	b = append(b, '\r', '\n')
	e.buf = b
	e.n++
	if e.n%csvChunk == 0 {
		if err := e.flush(); err != nil {
			return err
		}
		e.chunkDone()
		// Rows the driver has buffered do not look at the context: stop
		// here, as the chunked export did between queries.
		return e.ctx.Err()
	} else if len(e.buf) >= csvBuffer {
		return e.flush()
	}
	return nil
}

// scopeColumn is the messages column and value that select scope's rows.
func (x *Exporter) scopeColumn(ctx context.Context, scope Scope) (col, val string, err error) {
	if scope.SessionID != "" {
		return "session_id", scope.SessionID, nil
	}
	// A meeting is its room: use the (room, seq) index.
	var m recorder.Meeting
	if err := x.db.WithContext(ctx).Where("id = ?", scope.MeetingID).Take(&m).Error; err != nil {
		return "", "", err
	}
	return "room", m.Room, nil
}
