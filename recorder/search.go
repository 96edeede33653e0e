package recorder

// Search: a case-insensitive substring of a message's text, in one room.
// PostgreSQL answers it with the pg_trgm index of migrations/postgres/00004.
// SQLite answers it with an FTS5 table (trigram tokenizer: any substring of
// three characters or more) kept in step with messages by a batch indexer
// and triggers (below):
// an external-content index of messages' rowid and text, so the text is not
// stored twice, without positions (detail=none; trigramQuery).
//
// FTS5 is in the pure-Go engine (modernc) always, but in the C engine
// (mattn/go-sqlite3) only when built with the sqlite_fts5 tag (the
// Makefile builds and tests with it). So the index is not a goose
// migration: Open makes it when the engine has FTS5, and when it has not,
// it drops the triggers (they could not run there: every insert would
// fail) and search reads the room as before. Opened again by an engine
// with FTS5, the missing triggers say the index may be stale, and it is
// rebuilt from messages before they are made again.
//
// The index is keyed by messages' rowid, which SQLite does not promise to
// keep across VACUUM for a table whose key is not an INTEGER PRIMARY KEY;
// both engines' VACUUM did keep it (checked on a table with holes). Should
// the index ever drift, dropping the messages_fts_* triggers makes the
// next start rebuild it.

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"unicode/utf8"

	"gorm.io/gorm"
)

const ftsTable = "messages_fts"

// New messages reach the index in batches (searchindex.go), not by a
// trigger per row: FTS5 writes a segment per transaction, and at chat rates
// (one message per transaction) that made the index most of the writer's
// cost. messages_fts_state.upto is the last rowid indexed; edits and
// deletes of indexed rows keep the index in step through these triggers,
// and rows above upto are not in the index yet (the indexer reads their
// current text when it gets to them). Deleting the last rows lowers upto to
// what remains, since SQLite gives their rowids to the next inserts.
const ftsState = "messages_fts_state"

var ftsTriggers = map[string]string{
	"messages_fts_ad": `CREATE TRIGGER messages_fts_ad AFTER DELETE ON messages
		WHEN old.rowid <= (SELECT upto FROM messages_fts_state WHERE id = 1) BEGIN
		INSERT INTO messages_fts (messages_fts, rowid, text) VALUES ('delete', old.rowid, old.text);
		UPDATE messages_fts_state SET upto = MIN(upto, (SELECT COALESCE(MAX(rowid), 0) FROM messages)) WHERE id = 1; END`,
	"messages_fts_au": `CREATE TRIGGER messages_fts_au AFTER UPDATE OF text ON messages
		WHEN old.rowid <= (SELECT upto FROM messages_fts_state WHERE id = 1) BEGIN
		INSERT INTO messages_fts (messages_fts, rowid, text) VALUES ('delete', old.rowid, old.text);
		INSERT INTO messages_fts (rowid, text) VALUES (new.rowid, new.text); END`,
}

// ftsLegacyTriggers are triggers of earlier versions of the index, dropped
// when it is rebuilt or when the engine has no FTS5.
var ftsLegacyTriggers = []string{"messages_fts_ai"}

// ftsDropTriggers drops every search trigger, current and legacy, with exec.
func ftsDropTriggers(exec func(sql string) error) error {
	for _, n := range append(slices.Collect(maps.Keys(ftsTriggers)), ftsLegacyTriggers...) {
		if err := exec("DROP TRIGGER IF EXISTS " + n); err != nil {
			return err
		}
	}
	return nil
}

// sqliteHasFTS5 reports whether the engine behind db has FTS5 with the
// trigram tokenizer, by making a throw-away table in the connection's
// temp schema.
func sqliteHasFTS5(db *gorm.DB) bool {
	return db.Connection(func(tx *gorm.DB) error {
		if err := tx.Exec(`CREATE VIRTUAL TABLE temp.fts5_probe USING fts5(x, tokenize = 'trigram')`).Error; err != nil {
			return err
		}
		return tx.Exec(`DROP TABLE temp.fts5_probe`).Error
	}) == nil
}

// ftsTriggerCount is how many of the search triggers exist.
func ftsTriggerCount(db *gorm.DB) (int64, error) {
	names := make([]string, 0, len(ftsTriggers))
	for n := range ftsTriggers {
		names = append(names, n)
	}
	var n int64
	err := db.Table("sqlite_master").Where("type = 'trigger' AND name IN ?", names).Count(&n).Error
	return n, err
}

// ensureSearchIndex makes SQLite's search index current (see above) and
// reports whether search can use it; noFTS (tests) acts as an engine
// without FTS5. On PostgreSQL it does nothing.
func ensureSearchIndex(ctx context.Context, db *gorm.DB, log *slog.Logger, noFTS bool) (bool, error) {
	if db.Dialector.Name() == "postgres" {
		return false, nil
	}
	db = db.WithContext(ctx)
	if noFTS || !sqliteHasFTS5(db) {
		if err := ftsDropTriggers(func(q string) error { return db.Exec(q).Error }); err != nil {
			return false, fmt.Errorf("recorder: search triggers: %w", err)
		}
		log.Info("recorder: this SQLite engine has no FTS5; search reads the room it searches", "hint", "build with -tags sqlite_fts5")
		return false, nil
	}
	n, err := ftsTriggerCount(db)
	if err != nil {
		return false, err
	}
	if n == int64(len(ftsTriggers)) && db.Migrator().HasTable(ftsTable) && db.Migrator().HasTable(ftsState) {
		return true, nil
	}
	err = db.Transaction(func(tx *gorm.DB) error {
		stmts := []string{`CREATE VIRTUAL TABLE IF NOT EXISTS messages_fts USING fts5(text,
			content = 'messages', content_rowid = 'rowid', tokenize = 'trigram', detail = none, columnsize = 0)`}
		_ = ftsDropTriggers(func(q string) error { stmts = append(stmts, q); return nil })
		stmts = append(stmts, `CREATE TABLE IF NOT EXISTS messages_fts_state (id INTEGER PRIMARY KEY CHECK (id = 1), upto INTEGER NOT NULL)`)
		// An edit or delete removes the old text's trigrams from the index
		// at once, not at some later segment merge (SQLite 3.42 and later,
		// which both engines ship).
		stmts = append(stmts, `INSERT INTO messages_fts (messages_fts, rank) VALUES ('secure-delete', 1)`)
		stmts = append(stmts, `INSERT INTO messages_fts (messages_fts) VALUES ('rebuild')`,
			`INSERT OR REPLACE INTO messages_fts_state (id, upto) VALUES (1, (SELECT COALESCE(MAX(rowid), 0) FROM messages))`)
		for _, t := range ftsTriggers {
			stmts = append(stmts, t)
		}
		for _, s := range stmts {
			if err := tx.Exec(s).Error; err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("recorder: search index: %w", err)
	}
	log.Info("recorder: search index built (SQLite FTS5)")
	return true, nil
}

// searchIndexUsable reports whether a database opened read-only has a
// current index this engine can read.
func searchIndexUsable(db *gorm.DB, noFTS bool) bool {
	if noFTS || db.Dialector.Name() == "postgres" {
		return false
	}
	n, err := ftsTriggerCount(db)
	return err == nil && n == int64(len(ftsTriggers)) &&
		db.Exec(`SELECT 1 FROM messages_fts, messages_fts_state WHERE 0`).Error == nil
}

// SearchIndexed reports whether search on this database goes through an
// index (always on PostgreSQL; on SQLite, when the engine has FTS5).
func (r *Recorder) SearchIndexed() bool {
	return r.db.Dialector.Name() == "postgres" || r.fts
}

// trigramQuery is the FTS5 query for messages containing every trigram of
// text. The index keeps no positions (detail=none: about a third of the
// size, and cheaper writes), so it cannot match the phrase itself; the
// LIKE then keeps only the messages where the trigrams are one substring.
func trigramQuery(text string) string {
	r := []rune(text)
	seen := map[string]bool{}
	var terms []string
	for i := 0; i+3 <= len(r); i++ {
		t := string(r[i : i+3])
		if k := strings.ToLower(t); !seen[k] {
			seen[k] = true
			terms = append(terms, `"`+strings.ReplaceAll(t, `"`, `""`)+`"`)
		}
	}
	return strings.Join(terms, " AND ")
}

// likeEscape makes s a literal for LIKE ... ESCAPE '\'.
func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// SearchQuery selects, on db, the messages of room after seq after whose
// text contains text, case-insensitively, in seq order, at most limit.
// Three characters or more go through the index; the LIKE is the exact
// test (on PostgreSQL the trigram index answers it directly).
func (r *Recorder) SearchQuery(db *gorm.DB, room, text string, after int64, limit int) *gorm.DB {
	like := "%" + likeEscape(strings.ToLower(text)) + "%"
	q := db.Model(&MessageRow{})
	if r.fts && utf8.RuneCountInString(text) >= 3 {
		// The unary + keeps SQLite from reading the room through its
		// (room, seq) index: the FTS5 matches drive the query.
		// Rows above upto are not indexed yet: at most a moment's worth,
		// read by rowid.
		q = q.Where(`(messages.rowid IN (SELECT rowid FROM messages_fts WHERE messages_fts MATCH ?)
			OR messages.rowid > (SELECT upto FROM messages_fts_state WHERE id = 1))`, trigramQuery(text)).
			Where("+messages.room = ? AND +messages.seq > ?", room, after)
	} else {
		q = q.Where("messages.room = ? AND messages.seq > ?", room, after)
	}
	return q.Where(`messages.deleted = ? AND LOWER(messages.text) LIKE ? ESCAPE '\'`, false, like).
		Order("messages.seq").Limit(limit)
}
