package recorder

import (
	"context"
	"time"

	"gorm.io/gorm"
)

// searchIndexEvery is how often new messages are added to SQLite's search
// index: one FTS5 transaction for everything written meanwhile, run by the
// writer after a batch (writer.run), so that it never waits on SQLite's
// lock against the writer. A search reads the rows not indexed yet by
// rowid (SearchQuery), so a message is found at once; the interval only
// bounds that tail.
const searchIndexEvery = 250 * time.Millisecond

// indexSearch runs SyncSearchIndex when the last run is searchIndexEvery
// old; the writer's goroutine calls it after each batch.
func (w *writer) indexSearch() {
	if !w.r.fts || time.Since(w.indexedAt) < searchIndexEvery {
		return
	}
	w.indexedAt = time.Now()
	if err := w.r.SyncSearchIndex(context.Background()); err != nil {
		// The rows stay readable by rowid; the next batch retries.
		w.r.log.Warn("recorder: search index", "err", err)
	}
}

// SyncSearchIndex adds every message not yet in SQLite's search index to
// it, in one transaction. It does nothing when search is not indexed by
// FTS5 (PostgreSQL, or an engine without it).
func (r *Recorder) SyncSearchIndex(ctx context.Context) error {
	if !r.fts {
		return nil
	}
	return r.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var upto, last int64
		if err := tx.Raw(`SELECT upto FROM messages_fts_state WHERE id = 1`).Scan(&upto).Error; err != nil {
			return err
		}
		if err := tx.Raw(`SELECT COALESCE(MAX(rowid), 0) FROM messages`).Scan(&last).Error; err != nil {
			return err
		}
		if last <= upto {
			return nil
		}
		if err := tx.Exec(`INSERT INTO messages_fts (rowid, text) SELECT rowid, text FROM messages WHERE rowid > ? AND rowid <= ?`,
			upto, last).Error; err != nil {
			return err
		}
		return tx.Exec(`UPDATE messages_fts_state SET upto = ? WHERE id = 1`, last).Error
	})
}
