package api

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"gorm.io/gorm"

	"github.com/backchannel-rtc/backchannel/recorder"
	"github.com/backchannel-rtc/backchannel/recorder/internal/rectest"
)

// TestSearchUsesIndex: in a room of 100,000 messages, search goes through
// an index, not by reading the room (a sequential scan, or the room's
// (room, seq) index filtered row by row): on PostgreSQL the trigram index,
// on SQLite the FTS5 table (recorder/search.go). The C engine has FTS5 when
// built with -tags sqlite_fts5 (make test; under CI=true it must); without
// it search falls back to reading the room, which this test then only logs
// (recorder's TestSearchWithoutFTS5 covers that fallback).
func TestSearchUsesIndex(t *testing.T) {
	// The pure-Go engine's plan is the same (TestSearchWithoutFTS5 checks it
	// on a small room): 100,000 rows through it under -race take minutes.
	for _, b := range []backend{rectest.Postgres, rectest.SQLite} {
		t.Run(b.Name, func(t *testing.T) {
			r := rectest.Open(t, b.Config(t))
			rectest.WriteAll(t, r, rectest.Join("big", "alice", "Alice", 0), msg("big", 1, "alice", "first", 1))
			var s recorder.Session
			if err := r.DB().Where("room = ?", "big").Take(&s).Error; err != nil {
				t.Fatal(err)
			}
			series := `WITH RECURSIVE n(i) AS (SELECT 2 UNION ALL SELECT i + 1 FROM n WHERE i < 100001) SELECT i FROM n`
			if strings.HasPrefix(r.DB().Dialector.Name(), "postgres") {
				series = `SELECT generate_series(2, 100001) AS i`
			}
			// 100,000 messages of everyday words; one holds "needle".
			if err := r.DB().Exec(`INSERT INTO messages (id, room, seq, session_id, meeting_id, sender, kind, text, created_at)
				SELECT 'mbig' || i, 'big', i, ?, ?, 'alice', 'text',
					CASE WHEN i = 77777 THEN 'a Needle in the haystack' ELSE 'status update number ' || i || ' from the team' END,
					?
				FROM (`+series+`) AS s`, s.ID, s.MeetingID, rectest.At(2)).Error; err != nil {
				t.Fatal(err)
			}
			// New messages join SQLite's index in batches: index them now,
			// so that the search below goes through the index alone.
			if err := r.SyncSearchIndex(t.Context()); err != nil {
				t.Fatal(err)
			}
			analyze := "ANALYZE messages"
			if err := r.DB().Exec(analyze).Error; err != nil {
				t.Fatal(err)
			}
			sql := r.DB().ToSQL(func(tx *gorm.DB) *gorm.DB {
				var rows []recorder.MessageRow
				return r.SearchQuery(tx, "big", "needle", 0, 50).Find(&rows)
			})
			explain := "EXPLAIN "
			if r.DB().Dialector.Name() != "postgres" {
				explain = "EXPLAIN QUERY PLAN "
			}
			rows, err := r.DB().Raw(explain + sql).Rows()
			if err != nil {
				t.Fatal(err)
			}
			cols, _ := rows.Columns()
			var plan strings.Builder
			for rows.Next() {
				vals := make([]any, len(cols))
				ptrs := make([]any, len(cols))
				for i := range vals {
					ptrs[i] = &vals[i]
				}
				if err := rows.Scan(ptrs...); err != nil {
					t.Fatal(err)
				}
				for _, v := range vals {
					if bs, ok := v.([]byte); ok {
						v = string(bs)
					}
					plan.WriteString(strings.TrimSpace(strings.ReplaceAll(strings.TrimSpace(fmtAny(v)), "\n", " ")) + " ")
				}
				plan.WriteString("\n")
			}
			rows.Close()
			t.Logf("%s plan of %s:\n%s", b.Name, sql, plan.String())
			var got []recorder.MessageRow
			if err := r.SearchQuery(r.DB(), "big", "NEEDLE", 0, 50).Find(&got).Error; err != nil || len(got) != 1 || got[0].Seq != 77777 {
				t.Fatalf("search found %d rows, %v", len(got), err)
			}
			p := plan.String()
			if r.DB().Dialector.Name() != "postgres" {
				if !r.SearchIndexed() {
					if os.Getenv("CI") == "true" {
						t.Fatal("SQLite search is not indexed: make test builds with -tags sqlite_fts5")
					}
					t.Logf("this C SQLite has no FTS5 (build with -tags sqlite_fts5): search reads the room")
					return
				}
				// The FTS5 matches drive the query; messages are looked up by
				// rowid, never scanned or read through the room's index.
				if !strings.Contains(p, "VIRTUAL TABLE INDEX") || !strings.Contains(p, "INTEGER PRIMARY KEY") ||
					strings.Contains(strings.ReplaceAll(p, "SCAN messages_fts", ""), "SCAN messages") ||
					strings.Contains(p, "idx_messages_room_seq") {
					t.Fatalf("search reads the room:\n%s", p)
				}
				// The index follows edits and deletes (the triggers).
				if err := r.DB().Exec(`UPDATE messages SET text = 'no more hay' WHERE seq = 77777 AND room = 'big'`).Error; err != nil {
					t.Fatal(err)
				}
				for q, want := range map[string]int{"needle": 0, "MORE HAY": 1} {
					if err := r.SearchQuery(r.DB(), "big", q, 0, 50).Find(&got).Error; err != nil || len(got) != want {
						t.Fatalf("after an edit, %q found %d rows (want %d), %v", q, len(got), want, err)
					}
				}
				if err := r.DB().Exec(`DELETE FROM messages WHERE seq = 77777 AND room = 'big'`).Error; err != nil {
					t.Fatal(err)
				}
				if err := r.SearchQuery(r.DB(), "big", "more hay", 0, 50).Find(&got).Error; err != nil || len(got) != 0 {
					t.Fatalf("after a delete, found %d rows, %v", len(got), err)
				}
				return
			}
			if !strings.Contains(p, "idx_messages_text_trgm") || strings.Contains(p, "Seq Scan on messages") ||
				strings.Contains(p, "idx_messages_room_seq") {
				t.Fatalf("search reads the room:\n%s", p)
			}
		})
	}
}

func fmtAny(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case nil:
		return ""
	default:
		return strings.TrimSpace(strings.Trim(strings.ReplaceAll(fmt.Sprint(x), "\t", " "), " "))
	}
}
