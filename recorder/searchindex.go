package recorder

import (
	"context"
	"time"

	"gorm.io/gorm"
)

// searchIndexEvery is how often new messages are added to SQLite's search
// index: one FTS5 transaction for everything written meanwhile. A search
// reads the rows not indexed yet by rowid (SearchQuery), so a message is
// found at once; the interval only bounds that tail.
const searchIndexEvery = 250 * time.Millisecond

// indexLoop adds new messages to the search index until stop closes.
func (r *Recorder) indexLoop(stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(searchIndexEvery)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		if err := r.SyncSearchIndex(context.Background()); err != nil {
			// The writer may hold SQLite's write lock past busy_timeout
			// under a burst; the next tick indexes what this one missed.
			r.log.Debug("recorder: search index", "err", err)
		}
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
