package attachments

// The sweeper removes uploads that no message references once they are
// older than the grace period (Config.Grace, `--upload-grace`): an upload
// whose message was never sent, or whose message was deleted (a delete
// blanks messages.attachment_id). Files are shared by content (one file
// per SHA-256), so a file goes only with the last row that names it.
//
// Two races, and what closes each:
//   - an upload of the same content: store checks whether the file exists,
//     renames or reuses it and inserts its row under the upload lock
//     (lockUploads); a sweep deletes rows and their files under the same
//     lock, so an upload never reuses a file a sweep is removing. Cluster
//     nodes share the attachments folder and the database, so on
//     PostgreSQL the lock is also an advisory lock, held across nodes.
//   - a message naming the upload: chat looks the attachment up
//     (recorder.Attachment, which stamps used_at) before the writer stores
//     the message. A sweep spares an upload used within the grace, so the
//     writer has the whole grace to store the message: far more than any
//     outage it rides out without failing the message.
//
// Times compared are the ones this server wrote (created_at, used_at), on
// its own clock.

import (
	"context"
	"database/sql/driver"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/backchannel-rtc/backchannel/recorder"
)

// sweepBatch bounds the rows one sweep step deletes, so the lock it holds
// over uploads stays short.
const sweepBatch = 500

// SweepResult is what one sweep removed.
type SweepResult struct {
	Rows  int // upload rows deleted
	Files int // files removed (their last row went)
}

// Service is the registered attachment endpoints and their sweeper.
type Service struct {
	a    *api
	stop chan struct{}
	done chan struct{}
	once sync.Once
}

// Close stops the sweeper and waits for a sweep in progress.
func (s *Service) Close() error {
	s.once.Do(func() {
		close(s.stop)
		<-s.done
	})
	return nil
}

// start runs a sweep every interval until Close (grace 0: never).
func (s *Service) start() {
	s.stop, s.done = make(chan struct{}), make(chan struct{})
	if s.a.cfg.Grace <= 0 {
		close(s.done)
		return
	}
	every := s.a.cfg.SweepEvery
	if every <= 0 {
		every = min(max(s.a.cfg.Grace/10, time.Minute), time.Hour)
	}
	go func() {
		defer close(s.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-s.stop:
				return
			case <-t.C:
			}
			ctx, cancel := context.WithTimeout(context.Background(), every)
			res, err := s.Sweep(ctx)
			cancel()
			switch {
			case err != nil:
				s.a.log.Warn("recorder attachments: sweep failed", "err", err)
			case res.Rows > 0:
				s.a.log.Info("recorder attachments: removed unreferenced uploads", "rows", res.Rows, "files", res.Files)
			}
		}
	}()
}

// Sweep removes, now, every upload older than the grace that no message
// references and that chat has not used within the grace. With no grace
// configured it removes nothing.
func (s *Service) Sweep(ctx context.Context) (SweepResult, error) {
	var total SweepResult
	if s.a.cfg.Grace <= 0 {
		return total, nil
	}
	for {
		res, more, err := s.a.sweepStep(ctx, time.Now().UTC().Add(-s.a.cfg.Grace))
		total.Rows += res.Rows
		total.Files += res.Files
		if err != nil || !more {
			return total, err
		}
	}
}

// unreferenced is the condition on attachments rows a sweep deletes.
const unreferenced = `created_at < ? AND (used_at IS NULL OR used_at < ?)
	AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.attachment_id = attachments.id)`

// sweepStep deletes up to sweepBatch unreferenced rows and the files no
// other row names, under the upload lock; more says a full batch went.
func (a *api) sweepStep(ctx context.Context, cutoff time.Time) (SweepResult, bool, error) {
	unlock, err := a.lockUploads(ctx)
	if err != nil {
		return SweepResult{}, false, err
	}
	defer unlock()
	db := a.db.WithContext(ctx)
	var rows []recorder.AttachmentRow
	if err := db.Select("id", "hash").Where(unreferenced, cutoff, cutoff).Limit(sweepBatch).Find(&rows).Error; err != nil {
		return SweepResult{}, false, err
	}
	if len(rows) == 0 {
		return SweepResult{}, false, nil
	}
	ids := make([]string, len(rows))
	hashes := map[string]bool{}
	for i, r := range rows {
		ids[i] = r.ID
		hashes[r.Hash] = true
	}
	// The condition again: a message stored since the select keeps its row.
	del := db.Where("id IN ?", ids).Where(unreferenced, cutoff, cutoff).Delete(&recorder.AttachmentRow{})
	if del.Error != nil {
		return SweepResult{}, false, del.Error
	}
	res := SweepResult{Rows: int(del.RowsAffected)}
	for h := range hashes {
		var n int64
		if err := db.Model(&recorder.AttachmentRow{}).Where("hash = ?", h).Count(&n).Error; err != nil {
			return res, false, err
		}
		if n > 0 {
			continue // another upload of the same content still uses it
		}
		switch err := os.Remove(a.blobPath(h)); {
		case err == nil:
			res.Files++
		case !errors.Is(err, fs.ErrNotExist):
			return res, false, err
		}
	}
	a.removeStaleTemps(cutoff)
	return res, len(rows) == sweepBatch, nil
}

// removeStaleTemps removes upload temp files older than cutoff: what an
// upload interrupted by a crash left behind. An upload in progress keeps
// writing its file, so its time is recent.
func (a *api) removeStaleTemps(cutoff time.Time) {
	entries, err := os.ReadDir(a.dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if e.IsDir() || !strings.HasPrefix(e.Name(), ".upload-") {
			continue
		}
		if info, err := e.Info(); err == nil && info.ModTime().Before(cutoff) {
			_ = os.Remove(filepath.Join(a.dir, e.Name()))
		}
	}
}

// uploadLockKey is the PostgreSQL advisory lock that serializes uploads'
// file-and-row steps and sweeps across nodes (goose's own lock has
// another key).
const uploadLockKey int64 = 0x6263_6174_7461_6368 // "bcattach"

// lockUploads takes the upload lock: api.commit, and on PostgreSQL a
// session advisory lock on a connection of its own, held until unlock.
func (a *api) lockUploads(ctx context.Context) (unlock func(), err error) {
	a.commit.Lock()
	if a.db.Dialector.Name() != "postgres" {
		return a.commit.Unlock, nil
	}
	sqlDB, err := a.db.DB()
	if err != nil {
		a.commit.Unlock()
		return nil, err
	}
	conn, err := sqlDB.Conn(ctx)
	if err == nil {
		_, err = conn.ExecContext(ctx, "SELECT pg_advisory_lock($1)", uploadLockKey)
		if err != nil {
			_ = conn.Close()
		}
	}
	if err != nil {
		a.commit.Unlock()
		return nil, err
	}
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_unlock($1)", uploadLockKey); err != nil {
			// Never back to the pool still holding the lock: closing the
			// session releases it.
			_ = conn.Raw(func(any) error { return driver.ErrBadConn })
		}
		_ = conn.Close()
		a.commit.Unlock()
	}, nil
}
