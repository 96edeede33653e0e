package recorder

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"
)

// The tables the old runner created, with the columns that order their
// rows.
var oldTables = map[string]string{
	"meetings": "id", "sessions": "id", "participants": "session_id, identity", "messages": "id",
	"message_recipients": "message_id, identity", "reactions": "message_id, emoji, identity",
	"pins": "message_id", "read_horizons": "room, identity", "attachments": "id",
	"webhook_outbox": "id", "room_mutes": "room, identity", "webhook_endpoints": "id",
	"webhook_attempts": "id",
}

// dumpRows reads every row of every old table, as comparable text (JSON
// text is compared by value, so a column that became jsonb still matches).
func dumpRows(t *testing.T, db *gorm.DB) map[string][]string {
	out := map[string][]string{}
	for table, order := range oldTables {
		var rows []map[string]any
		if err := db.Table(table).Order(order).Find(&rows).Error; err != nil {
			t.Fatalf("%s: %v", table, err)
		}
		for _, row := range rows {
			keys := make([]string, 0, len(row))
			for k := range row {
				if table == "messages" && (k == "search" || k == "epoch" || k == "e2ee") || table == "attachments" && k == "used_at" ||
					table == "webhook_outbox" && k == "claimed_by" {
					continue // columns added by later migrations
				}
				keys = append(keys, k)
			}
			slices.Sort(keys)
			var b strings.Builder
			for _, k := range keys {
				v := row[k]
				switch x := v.(type) {
				case []byte:
					v = string(x)
				case time.Time:
					v = x.UTC().Format(time.RFC3339Nano)
				case bool:
					if x {
						v = 1
					} else {
						v = 0
					}
				}
				if table == "messages" && k == "recipients" && v == "" {
					v = "[]" // "everyone", as 00007 writes it for jsonb
				}
				if s, ok := v.(string); ok && (strings.HasPrefix(s, "{") || strings.HasPrefix(s, "[")) {
					var j any
					if json.Unmarshal([]byte(s), &j) == nil {
						norm, _ := json.Marshal(j)
						v = string(norm)
					}
				}
				fmt.Fprintf(&b, "%s=%v;", k, v)
			}
			out[table] = append(out[table], b.String())
		}
	}
	return out
}

// TestUpgradeFromOldRunner opens a database made by the old home-made
// runner (testdata/oldschema: its schema and rows of every table, dumped
// from a database the old code created and filled) and checks that Open
// upgrades it in place with every row kept, and that it works on.
func TestUpgradeFromOldRunner(t *testing.T) {
	for _, b := range []backend{sqliteBackend, sqlitePureGoBackend, postgresBackend} {
		t.Run(b.name, func(t *testing.T) {
			cfg := b.config(t)
			fixture := "sqlite.sql"
			if IsPostgres(cfg.DSN) {
				fixture = "postgres.sql"
			}
			dump, err := os.ReadFile(path.Join("testdata/oldschema", fixture))
			if err != nil {
				t.Fatal(err)
			}
			db, err := openDB(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if err := db.Exec(string(dump)).Error; err != nil {
				t.Fatalf("loading the old database: %v", err)
			}
			before := dumpRows(t, db)
			for table, rows := range before {
				if len(rows) == 0 {
					t.Fatalf("fixture has no rows in %s", table)
				}
			}
			// Migrate alone first (Open would also close the sessions
			// the dump left open, as after a crash).
			if _, err := migrate(ctxT(t), db, quiet); err != nil {
				t.Fatal(err)
			}
			// A fresh pool: pgx's cached statements predate the new
			// column types.
			closeDB(db)
			if db, err = openDB(cfg); err != nil {
				t.Fatal(err)
			}
			if v, err := schemaVersion(db); err != nil || v != SchemaVersion() {
				t.Fatalf("version %d, %v; want %d", v, err, SchemaVersion())
			}
			for table := range oldRunnerTables {
				if db.Migrator().HasTable(table) {
					t.Errorf("old version table %s still there", table)
				}
			}
			after := dumpRows(t, db)
			closeDB(db)
			if !reflect.DeepEqual(before, after) {
				for table := range before {
					if !reflect.DeepEqual(before[table], after[table]) {
						t.Errorf("%s changed:\n%q\nwant\n%q", table, after[table], before[table])
					}
				}
			}
			r := openT(t, cfg)
			// The upgraded database works on: history reads, the
			// sequence continues, a new message is stored.
			if seq, err := r.LastSeq(ctxT(t), "csv"); err != nil || seq != 13 {
				t.Fatalf("LastSeq = %d, %v; want 13", seq, err)
			}
			writeAll(t, r, join("csv", "alice", "Alice", 100), msg("csv", 14, "alice", "after the upgrade", 101))
			h, err := r.History(ctxT(t), "csv", "bob", 0, 100)
			if err != nil || len(h) != 14 || h[13].Text != "after the upgrade" || h[1].Text != "psst" {
				t.Fatalf("history after upgrade: %d messages, %v", len(h), err)
			}
			r.Close()
			// Reopening applies nothing twice.
			r = openT(t, cfg)
			var n int64
			r.db.Table(gooseTable).Where("version_id > 0").Count(&n)
			if n != int64(MigrationCount()) {
				t.Fatalf("%d applied migrations, want %d", n, MigrationCount())
			}
		})
	}
}

// TestMigrationFoldersMatch: both dialects have the same numbered files.
func TestMigrationFoldersMatch(t *testing.T) {
	list := func(dir string) []string {
		entries, err := migrationFiles.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		return names
	}
	if s, p := list("migrations/sqlite"), list("migrations/postgres"); !slices.Equal(s, p) {
		t.Fatalf("sqlite has %q, postgres %q", s, p)
	}
}

// TestMigrateStatusAndUp: the operator's commands on a fresh database and
// on one made by the old runner.
func TestMigrateStatusAndUp(t *testing.T) {
	for _, b := range []backend{sqliteBackend, postgresBackend} {
		t.Run(b.name, func(t *testing.T) {
			cfg := b.config(t)
			var out strings.Builder
			if err := MigrateUp(ctxT(t), cfg, &out); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(out.String(), "00001_baseline.sql") {
				t.Fatalf("up printed %q", out.String())
			}
			out.Reset()
			if err := MigrateStatus(ctxT(t), cfg, &out); err != nil {
				t.Fatal(err)
			}
			want := fmt.Sprintf("database version %d, this build's %d", SchemaVersion(), SchemaVersion())
			if !strings.Contains(out.String(), want) || strings.Contains(out.String(), "pending") {
				t.Fatalf("status printed %q", out.String())
			}
			out.Reset()
			if err := MigrateUp(ctxT(t), cfg, &out); err != nil || !strings.Contains(out.String(), "up to date") {
				t.Fatalf("second up: %q, %v", out.String(), err)
			}
		})
	}
	// Status changes nothing and says what is pending.
	cfg := sqliteBackend.config(t)
	db, err := openDB(cfg)
	if err != nil {
		t.Fatal(err)
	}
	dump, _ := os.ReadFile("testdata/oldschema/sqlite.sql")
	if err := db.Exec(string(dump)).Error; err != nil {
		t.Fatal(err)
	}
	closeDB(db)
	var out strings.Builder
	if err := MigrateStatus(ctxT(t), cfg, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "database version 0") || !strings.Contains(out.String(), "pending") ||
		!strings.Contains(out.String(), "schema_migrations present") {
		t.Fatalf("status of an old database: %q", out.String())
	}
	if _, err := Open(Config{DataDir: cfg.DataDir, ReadOnly: true}); !errors.Is(err, ErrSchemaTooOld) {
		t.Fatalf("read-only open of an old database: %v", err)
	}
}
