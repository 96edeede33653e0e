package rectest

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/backchannel-rtc/backchannel/chat"
	"github.com/backchannel-rtc/backchannel/recorder"
	"github.com/backchannel-rtc/backchannel/recorder/recordertest"
)

// Quiet drops the recorder's logs in tests.
var Quiet = slog.New(slog.DiscardHandler)

// Backend is a database the suites run on.
type Backend struct {
	Name string
	// Config returns a fresh, empty database's config.
	Config func(t testing.TB) recorder.Config
}

// The backends: SQLite on the engine the binary was built with, SQLite on
// the pure-Go engine, and PostgreSQL (recordertest: skipped when it is
// unreachable, except under CI=true).
var (
	SQLite = Backend{"sqlite", func(t testing.TB) recorder.Config {
		return recorder.Config{DataDir: t.TempDir(), Logger: Quiet}
	}}
	SQLitePureGo = Backend{"sqlite-purego", func(t testing.TB) recorder.Config {
		return recorder.Config{DataDir: t.TempDir(), Logger: Quiet, PureGoSQLite: true}
	}}
	Postgres = Backend{"postgres", func(t testing.TB) recorder.Config {
		return recorder.Config{DSN: recordertest.Postgres(t), DataDir: t.TempDir(), Logger: Quiet}
	}}
)

// Case is one test of a suite, written once for every backend.
type Case struct {
	Name string
	Fn   func(t *testing.T, b Backend)
}

// Run runs every case on b.
func Run(t *testing.T, b Backend, cases []Case) {
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) { c.Fn(t, b) })
	}
}

// Open opens a recorder closed when the test ends.
func Open(t testing.TB, cfg recorder.Config) *recorder.Recorder {
	t.Helper()
	r, err := recorder.Open(cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// WriteAll writes changes and waits until every one is durable, failing
// the test on an error.
func WriteAll(t testing.TB, r *recorder.Recorder, changes ...chat.Change) {
	t.Helper()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failed error
	for _, c := range changes {
		wg.Add(1)
		r.Write(c, func(err error) {
			if err != nil {
				mu.Lock()
				failed = err
				mu.Unlock()
			}
			wg.Done()
		})
	}
	wg.Wait()
	if failed != nil {
		t.Fatalf("write: %v", failed)
	}
}

// T0 is the suites' epoch; At(sec) is sec seconds after it.
var T0 = time.Date(2025, 3, 14, 9, 0, 0, 0, time.UTC)

// At is sec seconds after T0.
func At(sec int) time.Time { return T0.Add(time.Duration(sec) * time.Second) }

// Join is identity joining room at At(sec).
func Join(room, id, name string, sec int) chat.Change {
	return chat.Change{Kind: chat.ChangeJoin, Room: room, Identity: id, Name: name, At: At(sec)}
}

// Leave is identity leaving room at At(sec).
func Leave(room, id string, sec int) chat.Change {
	return chat.Change{Kind: chat.ChangeLeave, Room: room, Identity: id, At: At(sec)}
}

// End is room having stayed empty for chat's departure timeout since
// At(sec): its session ends.
func End(room string, sec int) chat.Change {
	return chat.Change{Kind: chat.ChangeEnd, Room: room, At: At(sec)}
}

// Msg is message seq of room (id "m<room><seq>"), private when to names
// recipients.
func Msg(room string, seq int64, from, text string, sec int, to ...string) chat.Change {
	m := &chat.Message{ID: fmt.Sprintf("m%s%06d", room, seq), Seq: seq, Sender: from, SenderName: from,
		Kind: chat.KindText, Text: text, To: to, ClientID: fmt.Sprintf("c%d", seq), CreatedAt: At(sec)}
	return chat.Change{Kind: chat.ChangeMessage, Room: room, Message: m, At: m.CreatedAt}
}

// Ctx is a context that ends with the test, or after a minute.
func Ctx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// SeedChat records a session with every kind of message; it returns the
// session id and meeting id.
func SeedChat(t testing.TB, r *recorder.Recorder) (sessionID, meetingID string) {
	img := recorder.AttachmentRow{ID: "01JIMAGE000000000000000001", Room: "csv", Uploader: "alice", Name: "cat.png",
		ContentType: "image/png", Size: 4, Hash: strings.Repeat("ab", 32), Image: true, Width: 1, Height: 1, CreatedAt: At(0)}
	file := recorder.AttachmentRow{ID: "01JFILE0000000000000000001", Room: "csv", Uploader: "bob", Name: "notes.pdf",
		ContentType: "application/pdf", Size: 9, Hash: strings.Repeat("cd", 32), CreatedAt: At(0)}
	if err := r.DB().Create(&[]recorder.AttachmentRow{img, file}).Error; err != nil {
		t.Fatal(err)
	}
	mk := func(seq int64, from, name, text string, sec int, to ...string) chat.Change {
		c := Msg("csv", seq, from, text, sec, to...)
		c.Message.SenderName = name
		return c
	}
	imgMsg := mk(6, "alice", "Alice", "", 6)
	imgMsg.Message.Kind, imgMsg.Message.Attachment = chat.KindImage, img.Chat()
	fileMsg := mk(7, "bob", "Bob", "", 7)
	fileMsg.Message.Kind, fileMsg.Message.Attachment = chat.KindFile, file.Chat()
	reply := mk(5, "bob", "Bob", "replying, with \"quotes\"\nand a newline", 5)
	reply.Message.ReplyTo = "mcsv000001"
	WriteAll(t, r,
		Join("csv", "alice", "Alice", 0), Join("csv", "bob", "Bob", 0), Join("csv", "mallory", "=HYPERLINK(\"x\")", 0),
		mk(1, "alice", "Alice", "hello, world", 1),
		mk(2, "alice", "Alice", "psst", 2, "bob"),
		mk(3, "bob", "Bob", "typo", 3),
		mk(4, "bob", "Bob", "regret", 4),
		reply, imgMsg, fileMsg,
		mk(8, "mallory", "=HYPERLINK(\"x\")", "=1+1", 8),
		mk(9, "mallory", "=HYPERLINK(\"x\")", "-2+3", 9),
		mk(10, "mallory", "=HYPERLINK(\"x\")", "@SUM(A1)", 10),
		mk(11, "mallory", "=HYPERLINK(\"x\")", "\tcmd", 11),
		mk(12, "alice", "Alice", "日本語 ✓ émoji 🎉", 12),
		chat.Change{Kind: chat.ChangeEdit, Room: "csv", MessageID: "mcsv000003", Text: "fixed", Identity: "bob", At: At(13)},
		chat.Change{Kind: chat.ChangeDelete, Room: "csv", MessageID: "mcsv000004", Identity: "bob", At: At(14)},
		chat.Change{Kind: chat.ChangeReaction, Room: "csv", MessageID: "mcsv000001", Identity: "alice", Emoji: "👍", On: true, At: At(15)},
		chat.Change{Kind: chat.ChangeReaction, Room: "csv", MessageID: "mcsv000001", Identity: "bob", Emoji: "👍", On: true, At: At(16)},
		chat.Change{Kind: chat.ChangeReaction, Room: "csv", MessageID: "mcsv000001", Identity: "carol", Emoji: "🎉", On: true, At: At(17)},
		chat.Change{Kind: chat.ChangePin, Room: "csv", MessageID: "mcsv000001", Identity: "alice", On: true, At: At(18)},
	)
	var s recorder.Session
	if err := r.DB().Where("room = ?", "csv").Take(&s).Error; err != nil {
		t.Fatal(err)
	}
	return s.ID, s.MeetingID
}
