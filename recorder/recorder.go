package recorder

// Opening and closing a Recorder: choosing the database from Config,
// migrating it, and recovering from an unclean stop (sessions left open by
// a crash are closed at the last activity they saw, before anything new is
// written).

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/backchannel-rtc/backchannel/chat"
)

// Config chooses the database and tunes the writer. The zero value with a
// DataDir is a working embedded setup.
type Config struct {
	// DSN selects the database: "" means a SQLite file
	// (DataDir/backchannel.db); a postgres:// or postgresql:// URL means
	// PostgreSQL.
	DSN string
	// DataDir holds the SQLite file and the attachments folder
	// (DataDir/attachments). Required.
	DataDir string
	// Node names this server in sessions, so that startup recovery closes
	// only the sessions this node left open when several nodes share one
	// PostgreSQL. "" is fine for a single node.
	Node string
	// ReadOnly opens for reading (export): no migrations, no session
	// recovery, Write fails with ErrReadOnly.
	ReadOnly bool

	// QueueSize bounds the changes waiting for the writer (default 100000).
	// A full queue makes Write wait for room: nothing is ever dropped.
	QueueSize int
	// BatchSize is the most changes written in one transaction (default 1000).
	BatchSize int
	// CloseTimeout is how long Close waits for queued changes to become
	// durable before failing them with ErrClosed (default 15s).
	CloseTimeout time.Duration
	// Outbox, if set, derives webhook outbox rows from every batch, inside
	// its write transaction, and hears when they are committed.
	Outbox Outbox

	// Logger defaults to slog.Default().
	Logger *slog.Logger

	// OnCommit, if set, is told of every committed batch: how many changes
	// it made durable and how long the commit took (for metrics). It runs
	// on the writer's goroutine and must not block.
	OnCommit func(changes int, took time.Duration)

	// Leases, on a cluster node, fences every write (fence.go), and open
	// sessions are not closed at start-up: the rooms they belong to go on
	// on whichever node takes them.
	Leases Leases

	// PureGoSQLite opens SQLite with the pure-Go engine even in a build
	// with cgo (sqlite.go), so the tests run on both engines.
	PureGoSQLite bool

	// sqlite overrides the SQLite engine the binary was built with (tests
	// run the suite on both; sqlite.go).
	sqlite sqliteEngine
	// noFTS makes Open act as on an engine without FTS5 (tests; search.go).
	noFTS bool
}

// Batch is what one write transaction recorded, for the Outbox.
type Batch struct {
	// Changes in the order they were written.
	Changes []chat.Change
	// SessionIDs[i] and MeetingIDs[i] are the session and meeting that
	// Changes[i] belongs to ("" when none, e.g. a stray leave).
	SessionIDs []string
	MeetingIDs []string
	// Started and Ended are the sessions this batch opened and closed
	// (including sessions recovered after a crash), in order.
	Started []Session
	Ended   []Session
}

// Typed errors.
var (
	ErrClosed   = errors.New("recorder: closed")
	ErrReadOnly = errors.New("recorder: opened read-only")
	ErrConfig   = errors.New("recorder: bad config")
)

// Recorder persists chat changes and answers reads; it implements
// chat.Store. Safe for concurrent use.
type Recorder struct {
	db  *gorm.DB
	cfg Config
	log *slog.Logger
	w   *writer
	// afterExec, if set (tests inject faults with it), runs after each
	// statement the writer executes outside GORM; its error fails the
	// statement, as a GORM callback's error would.
	afterExec func() error
	// fts: SQLite search goes through the FTS5 index (search.go).
	fts bool
}

var _ chat.Store = (*Recorder)(nil)

// IsPostgres reports whether dsn selects PostgreSQL.
func IsPostgres(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// Open connects, migrates, recovers and starts the writer.
func Open(cfg Config) (*Recorder, error) {
	if cfg.DataDir == "" {
		return nil, fmt.Errorf("%w: DataDir is required", ErrConfig)
	}
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = 100000
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 1000
	}
	if cfg.CloseTimeout <= 0 {
		cfg.CloseTimeout = 15 * time.Second
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	db, err := openDB(cfg)
	if err != nil {
		return nil, err
	}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, err
	}

	r := &Recorder{db: db, cfg: cfg, log: log}
	if cfg.ReadOnly {
		v, err := checkVersions(db)
		if err == nil && v < SchemaVersion() {
			err = ErrSchemaTooOld
		}
		if err != nil {
			sqlDB.Close()
			return nil, err
		}
		r.fts = searchIndexUsable(db, cfg.noFTS)
	} else {
		if _, err := migrate(context.Background(), db, log); err != nil {
			sqlDB.Close()
			return nil, err
		}
		if r.fts, err = ensureSearchIndex(context.Background(), db, log, cfg.noFTS); err != nil {
			sqlDB.Close()
			return nil, err
		}
		if cfg.Leases == nil {
			if err := r.recoverSessions(context.Background()); err != nil {
				sqlDB.Close()
				return nil, err
			}
		}
	}
	r.w = newWriter(r)
	go r.w.run()
	return r, nil
}

// openDB connects to the database cfg selects and sizes its pool; it
// neither migrates nor recovers.
func openDB(cfg Config) (*gorm.DB, error) {
	if cfg.DataDir == "" {
		return nil, fmt.Errorf("%w: DataDir is required", ErrConfig)
	}
	if !cfg.ReadOnly {
		if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
			return nil, fmt.Errorf("recorder: data dir: %w", err)
		}
	}
	gcfg := &gorm.Config{
		Logger:                 logger.Discard,
		SkipDefaultTransaction: true,
		NowFunc:                func() time.Time { return time.Now().UTC() },
	}
	var dial gorm.Dialector
	switch {
	case cfg.DSN == "":
		path := filepath.Join(cfg.DataDir, "backchannel.db")
		if _, err := os.Stat(path); err != nil && cfg.ReadOnly {
			return nil, fmt.Errorf("recorder: no database at %s: %w", path, err)
		}
		engine := cfg.sqlite
		if engine.open == nil {
			engine = defaultSQLite
			if cfg.PureGoSQLite {
				engine = pureGoSQLite
			}
		}
		dial = engine.open(path)
	case IsPostgres(cfg.DSN):
		dial = postgres.Open(cfg.DSN)
	default:
		return nil, fmt.Errorf("%w: DSN must be empty (SQLite) or a postgres:// URL", ErrConfig)
	}
	db, err := gorm.Open(dial, gcfg)
	if err != nil {
		return nil, fmt.Errorf("recorder: open database: %w", err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, err
	}
	maxConns := 16
	if cfg.DSN == "" {
		// One writer at a time anyway; a few readers run beside it (WAL):
		// the chat's reads, and two exports of three connections each
		// (recorder/export takes a quarter of the pool for exports).
		maxConns = 10
	}
	sqlDB.SetMaxOpenConns(maxConns)
	sqlDB.SetMaxIdleConns(8)
	sqlDB.SetConnMaxIdleTime(5 * time.Minute)

	return db, nil
}

func closeDB(db *gorm.DB) {
	if sqlDB, err := db.DB(); err == nil {
		sqlDB.Close()
	}
}

// ErrNoSession is returned when a room has no session (yet).
var ErrNoSession = errors.New("recorder: no such session")

// LatestSession returns the most recent session of room.
func (r *Recorder) LatestSession(ctx context.Context, room string) (*Session, error) {
	var ss []Session
	if err := r.db.WithContext(ctx).Where("room = ?", room).Order("id DESC").Limit(1).Find(&ss).Error; err != nil {
		return nil, err
	}
	if len(ss) == 0 {
		return nil, fmt.Errorf("%w in room %q", ErrNoSession, room)
	}
	return &ss[0], nil
}

// SessionByID returns a session, or ErrNoSession.
func (r *Recorder) SessionByID(ctx context.Context, id string) (*Session, error) {
	var ss []Session
	if err := r.db.WithContext(ctx).Where("id = ?", id).Limit(1).Find(&ss).Error; err != nil {
		return nil, err
	}
	if len(ss) == 0 {
		return nil, fmt.Errorf("%w: %q", ErrNoSession, id)
	}
	return &ss[0], nil
}

// DB is the underlying GORM handle (for the export, the API, attachments,
// webhook delivery and tests). Writes to chat tables must go through Write.
func (r *Recorder) DB() *gorm.DB { return r.db }

// DataDir is the configured data directory.
func (r *Recorder) DataDir() string { return r.cfg.DataDir }

// Logger is the configured logger (for the sibling packages).
func (r *Recorder) Logger() *slog.Logger { return r.log }

// Close stops accepting changes, waits (up to Config.CloseTimeout) for the
// queued ones to become durable, fails the rest with ErrClosed, and closes
// the database.
func (r *Recorder) Close() error {
	r.w.close(r.cfg.CloseTimeout)
	sqlDB, err := r.db.DB()
	if err != nil {
		return err
	}
	return sqlDB.Close()
}

// recoverSessions closes the sessions this node left open: after a crash
// nobody is present any more (clients reconnect into a new session).
func (r *Recorder) recoverSessions(ctx context.Context) error {
	var open []Session
	if err := r.db.WithContext(ctx).Where("ended_at IS NULL AND node = ?", r.cfg.Node).
		Order("id").Find(&open).Error; err != nil {
		return fmt.Errorf("recorder: recovery: %w", err)
	}
	for i := range open {
		var events []OutboxEvent
		if err := r.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
			if _, err := closeStale(tx, &open[i]); err != nil {
				return err
			}
			if ob := r.cfg.Outbox; ob != nil {
				// Recovered sessions end for the outbox too (Batch.Ended).
				rows, err := ob.Events(tx, &Batch{Ended: []Session{open[i]}})
				if err != nil || len(rows) == 0 {
					return err
				}
				events = rows
				return tx.Create(&rows).Error
			}
			return nil
		}); err != nil {
			return fmt.Errorf("recorder: recovery: %w", err)
		}
		if len(events) > 0 {
			r.cfg.Outbox.Committed(events)
		}
		r.log.Info("recorder: closed session left open", "session", open[i].ID, "room", open[i].Room, "ended_at", open[i].EndedAt)
	}
	return nil
}

// closeStale ends a session that was left open, at the last activity it
// recorded (its last message, join or leave), and marks its remaining
// participants as left then. s is updated in place.
func closeStale(tx *gorm.DB, s *Session) (*Session, error) {
	end := s.StartedAt
	var last MessageRow
	err := tx.Select("created_at").Where("session_id = ?", s.ID).Order("seq DESC").Limit(1).Find(&last).Error
	if err != nil {
		return nil, err
	}
	if last.CreatedAt.After(end) {
		end = last.CreatedAt
	}
	var ps []Participant
	if err := tx.Where("session_id = ?", s.ID).Find(&ps).Error; err != nil {
		return nil, err
	}
	for _, p := range ps {
		if p.JoinedAt.After(end) {
			end = p.JoinedAt
		}
		if p.LeftAt != nil && p.LeftAt.After(end) {
			end = *p.LeftAt
		}
	}
	end = end.UTC()
	if err := tx.Model(&Participant{}).Where("session_id = ? AND left_at IS NULL", s.ID).
		Update("left_at", end).Error; err != nil {
		return nil, err
	}
	if err := tx.Model(&Session{}).Where("id = ? AND ended_at IS NULL", s.ID).
		Updates(map[string]any{"ended_at": end, "end_reason": "recovered"}).Error; err != nil {
		return nil, err
	}
	s.EndedAt = &end
	s.EndReason = "recovered"
	return s, nil
}
