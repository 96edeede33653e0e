package export

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/backchannel-rtc/backchannel/chat"
)

// TestSQLiteTime: sqliteTime reads a stored time as the SQLite drivers do
// for a DATETIME column (the export reads the text, the application gets
// the driver's time through GORM), whatever wrote it. The pure-Go driver
// is the reference: it knows every format the C driver knows and
// time.String()'s too, and it fails where none parses, where the C driver
// gives the zero time instead. So sqliteTime must equal the pure-Go
// driver everywhere, and the C driver wherever that one parses.
func TestSQLiteTime(t *testing.T) {
	stored := []string{
		"2025-03-14 09:00:01+00:00", "2025-03-14 09:00:01.5+00:00", "2025-03-14 09:00:01.123456789+00:00",
		"2025-03-14 09:00:01.1234567891+00:00", "2024-02-29 23:59:59.000001+00:00", "0001-01-01 00:00:00+00:00",
		"2025-03-14 09:00:01-05:00", "2025-03-14T09:00:01+01:30", "2025-03-14T09:00:01Z", "2025-03-14 09:00:01Z",
		"2025-03-14 09:00:01", "2025-03-14T09:00", "2025-03-14", "2025-03-14 09:00:01.+00:00",
		"2025-03-14 09:00:01 +0000 UTC", "2025-03-14 09:00:01.25 +0100 CET m=+0.001",
		"2025-02-30 00:00:00+00:00", "2025-13-01 00:00:00+00:00", "2025-03-14 24:00:00+00:00",
		"2025-03-14 09:60:00+00:00", "2025-03-14 09:00:60+00:00", "2025-03-14 09:00:01+00:0x", "yesterday", "",
	}
	ctx := context.Background()
	compared := 0
	for _, b := range []backend{sqlitePureGoBackend, sqliteBackend} {
		reference := b.Name == sqlitePureGoBackend.Name
		r := openT(t, b.Config(t))
		for i, s := range stored {
			id := fmt.Sprintf("t%02d", i)
			if err := r.db.Exec(`INSERT INTO attachments (id, room, uploader, content_type, size, hash, created_at)
			VALUES (?, 'r', 'u', 'x', 0, 'h', ?)`, id, s).Error; err != nil {
				t.Fatal(err)
			}
			var want time.Time
			werr := r.db.WithContext(ctx).Raw("SELECT created_at FROM attachments WHERE id = ?", id).Row().Scan(&want)
			got, err := sqliteTime([]byte(s))
			if !reference && (werr != nil || want.IsZero()) {
				continue // the C driver did not parse it
			}
			compared++
			if (err != nil) != (werr != nil) || err == nil && !got.Equal(want) {
				t.Errorf("%s: %q: %v (%v), driver %v (%v)", b.Name, s, got, err, want, werr)
			}
		}
	}
	if compared < len(stored)+12 {
		t.Fatalf("compared %d times: the second driver parsed fewer than 12 of %d", compared, len(stored))
	}
}

// TestSQLiteExportSnapshot: the export's two connections read one
// snapshot, taken when sqliteSnapshot returns: a message and a reaction
// committed afterwards are seen by neither until the snapshot ends.
func TestSQLiteExportSnapshot(t *testing.T) {
	for _, b := range []backend{sqliteBackend, sqlitePureGoBackend} {
		t.Run(b.Name, func(t *testing.T) {
			r := openT(t, b.Config(t))
			writeAll(t, r, join("snap", "alice", "Alice", 0), msg("snap", 1, "alice", "before", 1))
			db, err := r.db.DB()
			if err != nil {
				t.Fatal(err)
			}
			ctx := ctxT(t)
			conn, err := db.Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			extra, err := db.Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer extra.Close()
			end, err := sqliteSnapshot(ctx, db, conn, extra)
			if err != nil {
				t.Fatal(err)
			}
			writeAll(t, r, msg("snap", 2, "alice", "after", 2),
				chat.Change{Kind: chat.ChangeReaction, Room: "snap", At: at(3),
					MessageID: msg("snap", 1, "", "", 0).Message.ID, Emoji: "👍", Identity: "alice", On: true})
			count := func(c *sql.Conn, table string) int {
				var n int
				if err := c.QueryRowContext(ctx, "SELECT count(*) FROM "+table).Scan(&n); err != nil {
					t.Fatal(err)
				}
				return n
			}
			for i, c := range []*sql.Conn{conn, extra} {
				if m, re := count(c, "messages"), count(c, "reactions"); m != 1 || re != 0 {
					t.Errorf("connection %d in the snapshot sees %d messages and %d reactions; want 1 and 0", i, m, re)
				}
			}
			end()
			for i, c := range []*sql.Conn{conn, extra} {
				if m, re := count(c, "messages"), count(c, "reactions"); m != 2 || re != 1 {
					t.Errorf("connection %d after the snapshot sees %d messages and %d reactions; want 2 and 1", i, m, re)
				}
			}
		})
	}
}

// TestSQLiteExportSmallChunks: the CSV is the reference's when the two
// readers take turns every 7 seqs, so that sessions, meetings, private
// messages, marks and attachments all straddle chunk boundaries, and the
// export still stops cleanly when the client goes away mid-chunk.
func TestSQLiteExportSmallChunks(t *testing.T) {
	defer func(c int64) { readAheadChunk = c }(readAheadChunk)
	readAheadChunk = 7
	for _, b := range []backend{sqliteBackend, sqlitePureGoBackend} {
		t.Run(b.Name, func(t *testing.T) {
			t.Run("Reference", func(t *testing.T) { testCSVMatchesReference(t, b) })
			t.Run("Abort", func(t *testing.T) { testCSVAbort(t, b) })
		})
	}
}

// TestSQLiteExportSnapshotReadOnly: the snapshot's barrier (BEGIN
// IMMEDIATE, which writes nothing) works on a database opened read-only
// (a copy, a read-only mount), so such a database can still be exported.
func TestSQLiteExportSnapshotReadOnly(t *testing.T) {
	cfg := sqliteBackend.Config(t)
	r := openT(t, cfg)
	writeAll(t, r, join("ro", "alice", "Alice", 0), msg("ro", 1, "alice", "hello", 1))
	for _, driverName := range []string{"sqlite3", "sqlite"} { // the C engine, the pure-Go one
		t.Run(driverName, func(t *testing.T) {
			if !slices.Contains(sql.Drivers(), driverName) {
				t.Skipf("no %s driver in this build", driverName)
			}
			db, err := sql.Open(driverName, "file:"+filepath.Join(cfg.DataDir, "backchannel.db")+"?mode=ro")
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			ctx := ctxT(t)
			conn, err := db.Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			end, err := sqliteSnapshot(ctx, db, conn)
			if err != nil {
				t.Fatalf("read-only: %v", err)
			}
			defer end()
			var n int
			if err := conn.QueryRowContext(ctx, "SELECT count(*) FROM messages").Scan(&n); err != nil || n != 1 {
				t.Fatalf("%d messages, %v", n, err)
			}
		})
	}
}
