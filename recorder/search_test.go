package recorder

import (
	"strings"
	"testing"

	"github.com/backchannel-rtc/backchannel/chat"
	"gorm.io/gorm"
)

// searchSeqs runs SearchQuery and returns the seqs found.
func searchSeqs(t *testing.T, r *Recorder, room, q string) []int64 {
	t.Helper()
	var rows []MessageRow
	if err := r.SearchQuery(r.DB(), room, q, 0, 50).Find(&rows).Error; err != nil {
		t.Fatalf("search %q: %v", q, err)
	}
	var seqs []int64
	for _, m := range rows {
		seqs = append(seqs, m.Seq)
	}
	return seqs
}

func wantSeqs(t *testing.T, r *Recorder, room, q string, want ...int64) {
	t.Helper()
	got := searchSeqs(t, r, room, q)
	if len(got) != len(want) {
		t.Fatalf("search %q found seqs %v, want %v", q, got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("search %q found seqs %v, want %v", q, got, want)
		}
	}
}

// TestSearchWithoutFTS5: the FTS5 index on the pure-Go engine (its plan
// drives the query from the index), and a data directory that moves to
// an engine without FTS5 and back (the C engine built without
// sqlite_fts5): without it, the triggers are dropped so writes keep
// working and search reads the room with the same answers; back on an
// engine with FTS5, the index is rebuilt, messages written meanwhile
// included.
func TestSearchWithoutFTS5(t *testing.T) {
	cfg := sqlitePureGoBackend.config(t)
	cfg.noFTS = false // the suite's backend leaves it out (testdb_test.go)
	r := openT(t, cfg)
	if !r.SearchIndexed() {
		t.Fatal("the pure-Go engine has FTS5, but search is not indexed")
	}
	writeAll(t, r, join("s", "alice", "Alice", 0), msg("s", 1, "alice", "The quick brown Fox", 1),
		msg("s", 2, "alice", "lazy dog", 2), msg("s", 3, "alice", "100% foxy_", 3), msg("x", 1, "alice", "fox in another room", 3))
	wantSeqs(t, r, "s", "fox", 1, 3)
	wantSeqs(t, r, "s", "% FOXY_", 3)
	wantSeqs(t, r, "s", "ox", 1, 3) // two characters: the room is read
	sql := r.DB().ToSQL(func(tx *gorm.DB) *gorm.DB {
		var rows []MessageRow
		return r.SearchQuery(tx, "s", "quick", 0, 50).Find(&rows)
	})
	var plan []struct{ Detail string }
	if err := r.DB().Raw("EXPLAIN QUERY PLAN " + sql).Scan(&plan).Error; err != nil {
		t.Fatal(err)
	}
	var p strings.Builder
	for _, l := range plan {
		p.WriteString(l.Detail + "\n")
	}
	if !strings.Contains(p.String(), "VIRTUAL TABLE INDEX") ||
		strings.Contains(strings.ReplaceAll(p.String(), "SCAN messages_fts", ""), "SCAN messages") ||
		strings.Contains(p.String(), "idx_messages_room_seq") {
		t.Fatalf("pure-Go search reads the room:\n%s", p.String())
	}
	r.Close()

	// An engine without FTS5.
	nofts := cfg
	nofts.noFTS = true
	r = openT(t, nofts)
	if r.SearchIndexed() {
		t.Fatal("search claims an index the engine cannot read")
	}
	var n int64
	r.DB().Table("sqlite_master").Where("type = 'trigger' AND name LIKE 'messages_fts_%'").Count(&n)
	if n != 0 {
		t.Fatalf("%d search triggers left on an engine without FTS5", n)
	}
	writeAll(t, r, msg("s", 4, "alice", "a fox while unindexed", 4),
		chat.Change{Kind: chat.ChangeEdit, Room: "s", MessageID: "ms000002", Text: "lazy fox", Identity: "alice", At: at(5)},
		chat.Change{Kind: chat.ChangeDelete, Room: "s", MessageID: "ms000003", Identity: "alice", At: at(6)})
	wantSeqs(t, r, "s", "fox", 1, 2, 4)
	r.Close()

	// Back on FTS5: rebuilt, with what was written meanwhile.
	r = openT(t, cfg)
	if !r.SearchIndexed() {
		t.Fatal("search not indexed after the move back")
	}
	wantSeqs(t, r, "s", "fox", 1, 2, 4)
	wantSeqs(t, r, "s", "foxy")
	wantSeqs(t, r, "s", "UNINDEXED", 4)
}

// TestSearchIndexBatches: new messages join the FTS5 index in batches
// (searchindex.go), so search must find them before and after; an edit
// before indexing is indexed with its new text, one after through the
// triggers; deleting the last rows lowers the indexed horizon, so a new
// message that takes a freed rowid is still indexed.
func TestSearchIndexBatches(t *testing.T) {
	cfg := sqlitePureGoBackend.config(t)
	cfg.noFTS = false
	r := openT(t, cfg)
	sync := func() {
		t.Helper()
		if err := r.SyncSearchIndex(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	indexed := func() (n int64) {
		t.Helper()
		if err := r.DB().Raw(`SELECT COUNT(*) FROM messages_fts WHERE messages_fts MATCH '"fox"'`).Scan(&n).Error; err != nil {
			t.Fatal(err)
		}
		return n
	}
	writeAll(t, r, join("s", "alice", "Alice", 0), msg("s", 1, "alice", "a red fox", 1), msg("s", 2, "alice", "a dog", 2))
	wantSeqs(t, r, "s", "fox", 1) // not indexed yet: read by rowid
	writeAll(t, r, chat.Change{Kind: chat.ChangeEdit, Room: "s", MessageID: "ms000002", Text: "a dog and a fox", Identity: "alice", At: at(3)})
	sync()
	if n := indexed(); n != 2 {
		t.Fatalf("%d indexed rows match fox, want 2", n)
	}
	wantSeqs(t, r, "s", "fox", 1, 2)
	writeAll(t, r, chat.Change{Kind: chat.ChangeEdit, Room: "s", MessageID: "ms000001", Text: "a red cat", Identity: "alice", At: at(4)})
	wantSeqs(t, r, "s", "fox", 2) // the trigger took the old text out
	wantSeqs(t, r, "s", "red cat", 1)

	// The last row goes; the next message takes its rowid.
	if err := r.DB().Exec(`DELETE FROM messages WHERE room = 's' AND seq = 2`).Error; err != nil {
		t.Fatal(err)
	}
	writeAll(t, r, msg("s", 3, "alice", "another fox", 5))
	sync()
	if n := indexed(); n != 1 {
		t.Fatalf("%d indexed rows match fox, want 1 (the new message)", n)
	}
	wantSeqs(t, r, "s", "fox", 3)
	r.Close()

	// The horizon survives a restart; what came after it is indexed then.
	r = openT(t, cfg)
	writeAll(t, r, msg("s", 4, "alice", "fox again", 6))
	wantSeqs(t, r, "s", "fox", 3, 4)
	if err := r.SyncSearchIndex(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := indexed(); n != 2 {
		t.Fatalf("%d indexed rows match fox after a restart, want 2", n)
	}
}
