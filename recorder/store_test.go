package recorder

import (
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/backchannel-rtc/backchannel/chat"
)

func testMigrations(t *testing.T, b backend) {
	cfg := b.config(t)
	r := openT(t, cfg)
	for _, m := range allModels() {
		if !r.db.Migrator().HasTable(m) {
			t.Fatalf("table for %T missing", m)
		}
		stmt := r.db.Model(m).Statement
		if err := stmt.Parse(m); err != nil {
			t.Fatal(err)
		}
		for _, f := range stmt.Schema.Fields {
			if f.DBName != "" && !r.db.Migrator().HasColumn(m, f.DBName) {
				t.Errorf("%s.%s: no migration creates it", stmt.Schema.Table, f.DBName)
			}
		}
	}
	v, err := schemaVersion(r.db)
	if err != nil || v != SchemaVersion() {
		t.Fatalf("version %d, %v; want %d", v, err, SchemaVersion())
	}
	writeAll(t, r, join("a", "alice", "Alice", 0), msg("a", 1, "alice", "hi", 1))
	r.Close()
	// Re-opening runs no step twice and keeps the data.
	r2 := openT(t, cfg)
	var n int64
	r2.db.Table(gooseTable).Where("version_id > 0").Count(&n)
	if n != int64(MigrationCount()) {
		t.Fatalf("%d migration rows, want %d", n, MigrationCount())
	}
	if seq, _ := r2.LastSeq(ctxT(t), "a"); seq != 1 {
		t.Fatalf("LastSeq after reopen = %d", seq)
	}
	// A database migrated by a newer build is refused.
	r2.db.Exec("INSERT INTO "+gooseTable+" (version_id, is_applied) VALUES (?, ?)", SchemaVersion()+1, true)
	r2.Close()
	if _, err := Open(cfg); !errors.Is(err, ErrSchemaTooNew) {
		t.Fatalf("Open on newer schema: %v", err)
	}
}

func sessionsOf(t *testing.T, r *Recorder, room string) []Session {
	var ss []Session
	if err := r.db.Where("room = ?", room).Order("id").Find(&ss).Error; err != nil {
		t.Fatal(err)
	}
	return ss
}

func testSessions(t *testing.T, b backend) {
	r := openT(t, b.config(t))
	writeAll(t, r,
		join("r", "alice", "Alice", 0),
		join("r", "bob", "Bob", 5),
		join("r", "alice", "", 6), // second tab
		msg("r", 1, "alice", "hello", 7),
		leave("r", "alice", 8), // one tab left: still present
		leave("r", "bob", 9),
		leave("r", "alice", 10), // room empty
		end("r", 10),            // and stayed empty: session ends
		leave("r", "zed", 11),   // stray
		join("r", "carol", "Carol", 20),
		msg("r", 2, "carol", "again", 21),
	)
	ss := sessionsOf(t, r, "r")
	if len(ss) != 2 {
		t.Fatalf("%d sessions, want 2: %+v", len(ss), ss)
	}
	if !ss[0].StartedAt.Equal(at(0)) || ss[0].EndedAt == nil || !ss[0].EndedAt.Equal(at(10)) || ss[0].EndReason != "left" {
		t.Fatalf("first session %+v", ss[0])
	}
	if ss[1].EndedAt != nil || !ss[1].StartedAt.Equal(at(20)) || ss[0].MeetingID != ss[1].MeetingID {
		t.Fatalf("second session %+v", ss[1])
	}
	var ps []Participant
	r.db.Where("session_id = ?", ss[0].ID).Order("identity").Find(&ps)
	if len(ps) != 2 || ps[0].Name != "Alice" || !ps[0].LeftAt.Equal(at(10)) || !ps[1].JoinedAt.Equal(at(5)) {
		t.Fatalf("participants %+v", ps)
	}
	var m MessageRow
	r.db.Where("seq = 2").Take(&m)
	if m.SessionID != ss[1].ID || m.MeetingID != ss[1].MeetingID {
		t.Fatalf("message 2 in session %s", m.SessionID)
	}
}

func testHistory(t *testing.T, b backend) {
	r := openT(t, b.config(t))
	ctx := ctxT(t)
	var cs []chat.Change
	cs = append(cs, join("h", "alice", "Alice", 0))
	for i := int64(1); i <= 30; i++ {
		switch {
		case i%3 == 0:
			cs = append(cs, msg("h", i, "alice", "to bob", int(i), "bob"))
		case i%5 == 0:
			cs = append(cs, msg("h", i, "carol", "to alice", int(i), "alice", "dave"))
		default:
			cs = append(cs, msg("h", i, "alice", "all", int(i)))
		}
	}
	cs = append(cs, msg("other", 1, "x", "elsewhere", 1))
	writeAll(t, r, cs...)
	seqs := func(ms []chat.Message) []int64 {
		var s []int64
		for _, m := range ms {
			s = append(s, m.Seq)
		}
		return s
	}
	all, err := r.History(ctx, "h", "", 0, 100)
	if err != nil || len(all) != 30 || all[0].Seq != 1 || all[29].Seq != 30 {
		t.Fatalf("all: %v %v", seqs(all), err)
	}
	bob, _ := r.History(ctx, "h", "bob", 0, 100)
	for _, m := range bob {
		if m.Seq%5 == 0 && m.Seq%3 != 0 {
			t.Fatalf("bob sees %d", m.Seq)
		}
	}
	if len(bob) != 26 {
		t.Fatalf("bob sees %d messages", len(bob))
	}
	eve, _ := r.History(ctx, "h", "eve", 0, 100)
	if len(eve) != 16 {
		t.Fatalf("eve sees %v", seqs(eve))
	}
	page, _ := r.History(ctx, "h", "", 20, 5)
	if !slices.Equal(seqs(page), []int64{15, 16, 17, 18, 19}) {
		t.Fatalf("page %v", seqs(page))
	}
	if dave, _ := r.History(ctx, "h", "dave", 11, 2); !slices.Equal(seqs(dave), []int64{8, 10}) {
		t.Fatalf("dave page %v", seqs(dave))
	}
	if p := all[2]; !slices.Equal(p.To, []string{"bob"}) || !p.Private() {
		t.Fatalf("private message To = %v", p.To)
	}
	if last, _ := r.LastSeq(ctx, "h"); last != 30 {
		t.Fatalf("LastSeq %d", last)
	}
	if last, _ := r.LastSeq(ctx, "nobody"); last != 0 {
		t.Fatalf("LastSeq empty %d", last)
	}
}

func testMessageState(t *testing.T, b backend) {
	r := openT(t, b.config(t))
	ctx := ctxT(t)
	att := AttachmentRow{ID: "01HATTACHMENT0000000000001", Room: "s", Uploader: "alice", Name: "cat.png",
		ContentType: "image/png", Size: 10, Hash: "h", Image: true, Width: 2, Height: 3, CreatedAt: at(0)}
	if err := r.db.Create(&att).Error; err != nil {
		t.Fatal(err)
	}
	img := msg("s", 3, "alice", "", 3)
	img.Message.Kind = chat.KindImage
	img.Message.Attachment = att.chat()
	reply := msg("s", 4, "bob", "re", 4)
	reply.Message.ReplyTo = "ms000001"
	writeAll(t, r, msg("s", 1, "alice", "one", 1), msg("s", 2, "bob", "two", 2), img, reply)
	// Edits and deletes on messages of an earlier batch and of the same batch.
	writeAll(t, r,
		chat.Change{Kind: chat.ChangeEdit, Room: "s", MessageID: "ms000001", Text: "one!", Identity: "alice", At: at(10)},
		chat.Change{Kind: chat.ChangeDelete, Room: "s", MessageID: "ms000003", Identity: "alice", At: at(11)},
		chat.Change{Kind: chat.ChangeEdit, Room: "s", MessageID: "ms000003", Text: "zombie", Identity: "alice", At: at(12)},
		msg("s", 5, "bob", "five", 13),
		chat.Change{Kind: chat.ChangeEdit, Room: "s", MessageID: "ms000005", Text: "5", Identity: "bob", At: at(14)},
		chat.Change{Kind: chat.ChangeEdit, Room: "x", MessageID: "ms000002", Text: "wrong room", Identity: "bob", At: at(14)},
		chat.Change{Kind: chat.ChangeReaction, Room: "s", MessageID: "ms000001", Identity: "bob", Emoji: "👍", On: true, At: at(15)},
		chat.Change{Kind: chat.ChangeReaction, Room: "s", MessageID: "ms000001", Identity: "carol", Emoji: "🎉", On: true, At: at(16)},
		chat.Change{Kind: chat.ChangeReaction, Room: "s", MessageID: "ms000001", Identity: "alice", Emoji: "👍", On: true, At: at(17)},
		chat.Change{Kind: chat.ChangeReaction, Room: "s", MessageID: "ms000001", Identity: "dave", Emoji: "👍", On: true, At: at(18)},
		chat.Change{Kind: chat.ChangeReaction, Room: "s", MessageID: "ms000001", Identity: "dave", Emoji: "👍", On: false, At: at(19)},
		chat.Change{Kind: chat.ChangePin, Room: "s", MessageID: "ms000002", Identity: "alice", On: true, At: at(20)},
		chat.Change{Kind: chat.ChangePin, Room: "s", MessageID: "ms000004", Identity: "alice", On: true, At: at(20)},
		chat.Change{Kind: chat.ChangeRead, Room: "s", Identity: "bob", Seq: 4, At: at(21)},
	)
	writeAll(t, r,
		chat.Change{Kind: chat.ChangePin, Room: "s", MessageID: "ms000004", Identity: "alice", On: false, At: at(22)},
		chat.Change{Kind: chat.ChangeRead, Room: "s", Identity: "bob", Seq: 2, At: at(23)},
		chat.Change{Kind: chat.ChangeReaction, Room: "s", MessageID: "ms000001", Identity: "alice", Emoji: "👍", On: false, At: at(24)},
	)
	ms, err := r.History(ctx, "s", "", 0, 10)
	if err != nil || len(ms) != 5 {
		t.Fatalf("history %d %v", len(ms), err)
	}
	m1, m2, m3, m4, m5 := ms[0], ms[1], ms[2], ms[3], ms[4]
	if m1.Text != "one!" || m1.EditedAt == nil || !m1.EditedAt.Equal(at(10)) {
		t.Fatalf("edit: %+v", m1)
	}
	if len(m1.Reactions) != 2 || m1.Reactions[0].Emoji != "👍" || !slices.Equal(m1.Reactions[0].Identities, []string{"bob"}) ||
		!slices.Equal(m1.Reactions[1].Identities, []string{"carol"}) {
		t.Fatalf("reactions: %+v", m1.Reactions)
	}
	if m2.Text != "two" || !m2.Pinned || m2.EditedAt != nil {
		t.Fatalf("m2 %+v", m2)
	}
	if !m3.Deleted || m3.Text != "" || m3.Attachment != nil {
		t.Fatalf("tombstone %+v", m3)
	}
	if m4.ReplyTo != "ms000001" || m4.Pinned {
		t.Fatalf("m4 %+v", m4)
	}
	if m5.Text != "5" || m5.EditedAt == nil {
		t.Fatalf("same-batch edit %+v", m5)
	}
	pinned, _ := r.Pinned(ctx, "s", "bob")
	if len(pinned) != 1 || pinned[0].ID != "ms000002" {
		t.Fatalf("pinned %+v", pinned)
	}
	var h ReadHorizon
	r.db.Where("room = ? AND identity = ?", "s", "bob").Take(&h)
	if h.Seq != 4 {
		t.Fatalf("read horizon went back to %d", h.Seq)
	}
	got, err := r.Message(ctx, "s", "ms000002")
	if err != nil || got.Text != "two" {
		t.Fatalf("Message: %+v %v", got, err)
	}
	if _, err := r.Message(ctx, "x", "ms000002"); !errors.Is(err, chat.ErrNotFound) {
		t.Fatalf("Message in wrong room: %v", err)
	}
	a, err := r.Attachment(ctx, "s", att.ID)
	if err != nil || a.Name != "cat.png" || a.Width != 2 {
		t.Fatalf("Attachment %+v %v", a, err)
	}
	if _, err := r.Attachment(ctx, "other", att.ID); !errors.Is(err, chat.ErrNotFound) {
		t.Fatalf("Attachment wrong room: %v", err)
	}
	// An image message that is not deleted carries its attachment.
	writeAll(t, r, func() chat.Change {
		c := msg("s", 6, "alice", "", 30)
		c.Message.Kind, c.Message.Attachment = chat.KindImage, att.chat()
		return c
	}())
	m6, _ := r.Message(ctx, "s", "ms000006")
	if m6.Attachment == nil || m6.Attachment.Height != 3 || m6.Kind != chat.KindImage {
		t.Fatalf("attachment not hydrated: %+v", m6)
	}
}

func testClientID(t *testing.T, b backend) {
	r := openT(t, b.config(t))
	ctx := ctxT(t)
	writeAll(t, r, msg("c", 1, "alice", "first", 1))
	m, err := r.ByClientID(ctx, "c", "alice", "c1")
	if err != nil || m.Seq != 1 {
		t.Fatalf("ByClientID %+v %v", m, err)
	}
	if _, err := r.ByClientID(ctx, "c", "bob", "c1"); !errors.Is(err, chat.ErrNotFound) {
		t.Fatalf("other sender: %v", err)
	}
	// Writing the same message again (a replayed batch) is harmless.
	writeAll(t, r, msg("c", 1, "alice", "first", 1))
	var n int64
	r.db.Model(&MessageRow{}).Where("room = ?", "c").Count(&n)
	if n != 1 {
		t.Fatalf("%d rows after replay", n)
	}
	// Another message with the same client id fails alone; the rest of
	// its batch is recorded.
	dup := msg("c", 2, "alice", "dup", 2)
	dup.Message.ClientID = "c1"
	var errs [3]error
	var wg sync.WaitGroup
	for i, c := range []chat.Change{msg("c", 3, "bob", "before", 3), dup, msg("c", 4, "bob", "after", 4)} {
		wg.Add(1)
		r.Write(c, func(err error) { errs[i] = err; wg.Done() })
	}
	wg.Wait()
	if errs[0] != nil || errs[1] == nil || errs[2] != nil {
		t.Fatalf("errors %v", errs)
	}
	r.db.Model(&MessageRow{}).Where("room = ?", "c").Count(&n)
	if n != 3 {
		t.Fatalf("%d rows", n)
	}
}

func testRecovery(t *testing.T, b backend) {
	cfg := b.config(t)
	r := openT(t, cfg)
	writeAll(t, r, join("k", "alice", "Alice", 0), join("k", "bob", "Bob", 1), msg("k", 1, "alice", "x", 5),
		msg("k", 2, "bob", "y", 7), leave("k", "bob", 9))
	// Simulate a crash: drop the writer's memory and re-open.
	r.Close()
	r2 := openT(t, cfg)
	ss := sessionsOf(t, r2, "k")
	if len(ss) != 1 || ss[0].EndedAt == nil || !ss[0].EndedAt.Equal(at(9)) || ss[0].EndReason != "recovered" {
		t.Fatalf("not recovered: %+v", ss)
	}
	var alice Participant
	r2.db.Where("identity = ?", "alice").Take(&alice)
	if alice.LeftAt == nil || !alice.LeftAt.Equal(at(9)) {
		t.Fatalf("alice %+v", alice)
	}
	if last, _ := r2.LastSeq(ctxT(t), "k"); last != 2 {
		t.Fatalf("LastSeq %d", last)
	}
	// Recovery skipped (another node's session): the next join closes it.
	writeAll(t, r2, join("k", "alice", "Alice", 100), msg("k", 3, "alice", "z", 101))
	r2.Close()
	r3, err := Open(Config{DSN: cfg.DSN, DataDir: cfg.DataDir, Node: "other-node"})
	if err != nil {
		t.Fatal(err)
	}
	defer r3.Close()
	writeAll(t, r3, msg("k", 4, "alice", "adopted", 102), join("k", "bob", "Bob", 110))
	ss = sessionsOf(t, r3, "k")
	if len(ss) != 3 || !ss[1].EndedAt.Equal(at(102)) || ss[1].EndReason != "recovered" || ss[2].EndedAt != nil {
		t.Fatalf("sessions %+v", ss)
	}
	var m4 MessageRow
	r3.db.Where("seq = 4 AND room = 'k'").Take(&m4)
	if m4.SessionID != ss[1].ID {
		t.Fatalf("message 4 went to %s", m4.SessionID)
	}
}

// testMutes: a moderator's mute is stored and read back after a reopen;
// within one batch the last change for an identity wins; unmuting deletes
// it; rooms are apart.
func testMutes(t *testing.T, b backend) {
	cfg := b.config(t)
	r := openT(t, cfg)
	mute := func(room, id string, on bool, sec int) chat.Change {
		return chat.Change{Kind: chat.ChangeMute, Room: room, Identity: id, On: on, By: "mod", At: at(sec)}
	}
	writeAll(t, r, mute("u", "bob", true, 1), mute("u", "carol", true, 2), mute("u", "carol", false, 3),
		mute("u", "dave", true, 4), mute("other", "erin", true, 5))
	writeAll(t, r, mute("u", "bob", true, 6)) // again: still one row
	r.Close()

	r2 := openT(t, cfg)
	got, err := r2.Muted(ctxT(t), "u")
	if err != nil || strings.Join(got, ",") != "bob,dave" {
		t.Fatalf("Muted after reopen: %v %v", got, err)
	}
	var row RoomMute
	if err := r2.db.Where("room = ? AND identity = ?", "u", "bob").Take(&row).Error; err != nil ||
		row.MutedBy != "mod" || !row.MutedAt.Equal(at(6)) {
		t.Fatalf("bob's row %+v %v", row, err)
	}
	writeAll(t, r2, mute("u", "bob", false, 7))
	if got, err = r2.Muted(ctxT(t), "u"); err != nil || strings.Join(got, ",") != "dave" {
		t.Fatalf("Muted after unmute: %v %v", got, err)
	}
	if got, err = r2.Muted(ctxT(t), "other"); err != nil || strings.Join(got, ",") != "erin" {
		t.Fatalf("other room: %v %v", got, err)
	}
	if got, err = r2.Muted(ctxT(t), "nobody-here"); err != nil || len(got) != 0 {
		t.Fatalf("empty room: %v %v", got, err)
	}
}
