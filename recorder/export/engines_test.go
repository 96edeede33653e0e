package export

import (
	"bytes"
	"fmt"
	"reflect"
	"testing"

	"gorm.io/gorm"

	"github.com/backchannel-rtc/backchannel/chat"
	"github.com/backchannel-rtc/backchannel/recorder"
	"github.com/backchannel-rtc/backchannel/recorder/internal/rectest"
)

// TestSQLiteEnginesShareADataDir: a data directory written by a build with
// cgo (the C SQLite) opens in a build without it (pure Go) and back, with
// nothing lost or read differently: no migration runs again, history and
// the chat-replay CSV are the same, and each engine goes on writing where
// the other stopped, its rows read back alike by the other.
func TestSQLiteEnginesShareADataDir(t *testing.T) {
	t.Logf("built with the %s SQLite; the other engine is the pure-Go one", recorder.SQLiteEngine())
	dir := t.TempDir()
	type engine struct {
		name   string
		pureGo bool
	}
	defaultSQLite, pureGoSQLite := engine{"default", false}, engine{"pure Go", true}
	open := func(e engine) *testRec {
		t.Helper()
		r, err := openRec(recorder.Config{DataDir: dir, Logger: quiet, PureGoSQLite: e.pureGo})
		if err != nil {
			t.Fatalf("%s: open: %v", e.name, err)
		}
		return r
	}
	// state is what a reader sees: every viewer's history, the meeting's
	// CSV and the stored times.
	type state struct {
		hist  map[string][]chat.Message
		csv   []byte
		times []string
	}
	read := func(r *testRec, meeting string) state {
		t.Helper()
		s := state{hist: map[string][]chat.Message{}}
		for _, viewer := range []string{"alice", "bob", "mallory"} {
			h, err := r.History(ctxT(t), "csv", viewer, 0, 100)
			if err != nil {
				t.Fatal(err)
			}
			s.hist[viewer] = h
		}
		var buf bytes.Buffer
		if _, err := r.WriteCSV(ctxT(t), &buf, Scope{MeetingID: meeting}, Options{}); err != nil {
			t.Fatal(err)
		}
		s.csv = buf.Bytes()
		// The raw text, as either driver wrote it.
		if err := r.db.Raw("SELECT CAST(created_at AS TEXT) FROM messages ORDER BY seq").Scan(&s.times).Error; err != nil {
			t.Fatal(err)
		}
		if len(s.times) != len(s.hist["bob"]) {
			t.Fatalf("%d stored times for %d messages", len(s.times), len(s.hist["bob"]))
		}
		return s
	}
	version := func(db *gorm.DB) int64 {
		var v int64
		if err := db.Raw("SELECT MAX(version_id) FROM goose_db_version").Scan(&v).Error; err != nil {
			t.Fatal(err)
		}
		return v
	}

	r := open(defaultSQLite)
	_, meeting := rectest.SeedChat(t, r.Recorder)
	want := read(r, meeting)
	if len(want.hist["bob"]) != 12 || len(want.hist["mallory"]) != 11 || bytes.Count(want.csv, []byte("\n")) < 13 {
		t.Fatalf("seeded %d / %d messages, %d CSV lines", len(want.hist["bob"]), len(want.hist["mallory"]),
			bytes.Count(want.csv, []byte("\n")))
	}
	t.Logf("%s wrote created_at as %q", recorder.SQLiteEngine(), want.times[0])
	r.Close()

	seq := int64(12)
	for _, e := range []engine{pureGoSQLite, defaultSQLite, pureGoSQLite} {
		r := open(e)
		if v := version(r.db); v != recorder.SchemaVersion() {
			t.Fatalf("%s: schema version %d, want %d", e.name, v, recorder.SchemaVersion())
		}
		got := read(r, meeting)
		if !reflect.DeepEqual(got.hist, want.hist) {
			t.Fatalf("%s reads history differently:\n%+v\nwant\n%+v", e.name, got.hist, want.hist)
		}
		if !bytes.Equal(got.csv, want.csv) {
			t.Fatalf("%s exports differently:\n%s\nwant\n%s", e.name, got.csv, want.csv)
		}
		if !reflect.DeepEqual(got.times, want.times) {
			t.Fatalf("%s: stored times %q, want %q", e.name, got.times, want.times)
		}
		// This engine writes on: a message, a private one, an edit.
		seq++
		m := msg("csv", seq, "alice", fmt.Sprintf("from %s", e.name), 20+int(seq))
		p := msg("csv", seq+1, "bob", "psst", 21+int(seq), "alice")
		writeAll(t, r, join("csv", "alice", "Alice", 20), join("csv", "bob", "Bob", 20), m, p,
			chat.Change{Kind: chat.ChangeEdit, Room: "csv", MessageID: m.Message.ID, Text: "edited by " + e.name,
				Identity: "alice", At: at(22 + int(seq))})
		seq++
		want = read(r, meeting)
		if n := len(want.hist["bob"]); n != int(seq) {
			t.Fatalf("%s: %d messages after writing, want %d", e.name, n, seq)
		}
		r.Close()
	}
}
