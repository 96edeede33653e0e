package recorder

// Versioned migrations. Each step has a number, runs once in its own
// transaction, and is recorded in schema_migrations; steps are append-only:
// never edit or renumber a released step, add a new one. Steps are written
// so that re-running one on a database that already has its effect is
// harmless (step 1 creates only missing tables), so a fresh database and an
// old one converge on the same schema and no step ever drops data.
//
// On PostgreSQL a transaction-scoped advisory lock serialises nodes that
// start together; on SQLite the write transaction does.

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"gorm.io/gorm"
)

type migration struct {
	version int
	name    string
	up      func(tx *gorm.DB) error
}

// migrations is the schema history. Append only.
var migrations = []migration{
	{1, "create tables", func(tx *gorm.DB) error {
		m := tx.Migrator()
		for _, model := range []any{&Meeting{}, &Session{}, &Participant{}, &MessageRow{},
			&MessageRecipient{}, &Reaction{}, &Pin{}, &ReadHorizon{}, &AttachmentRow{}, &OutboxEvent{}} {
			if m.HasTable(model) {
				continue
			}
			if err := m.CreateTable(model); err != nil {
				return err
			}
		}
		return nil
	}},
	{2, "unique client id per sender", func(tx *gorm.DB) error {
		// A partial unique index: a retried send must not create a second
		// message. Same syntax on SQLite and PostgreSQL.
		return tx.Exec(`CREATE UNIQUE INDEX IF NOT EXISTS idx_messages_client
			ON messages (room, sender, client_id) WHERE client_id <> ''`).Error
	}},
	{3, "open sessions lookup", func(tx *gorm.DB) error {
		return tx.Exec(`CREATE INDEX IF NOT EXISTS idx_sessions_open
			ON sessions (node, room) WHERE ended_at IS NULL`).Error
	}},
	{4, "attachment references", func(tx *gorm.DB) error {
		return tx.Exec(`CREATE INDEX IF NOT EXISTS idx_messages_attachment
			ON messages (attachment_id) WHERE attachment_id <> ''`).Error
	}},
	{5, "drop meeting index (messages are found by room)", func(tx *gorm.DB) error {
		return tx.Exec(`DROP INDEX IF EXISTS idx_messages_meeting_seq`).Error
	}},
	{6, "room mutes (a moderator's mute outlives a restart)", func(tx *gorm.DB) error {
		if m := tx.Migrator(); !m.HasTable(&RoomMute{}) {
			return m.CreateTable(&RoomMute{})
		}
		return nil
	}},
}

// SchemaVersion is the schema version this build migrates to.
func SchemaVersion() int { return migrations[len(migrations)-1].version }

// ErrSchemaTooNew is returned by Open when the database was migrated by a
// newer build: running older code on it could lose data.
var ErrSchemaTooNew = errors.New("recorder: database schema is newer than this build")

// ErrSchemaTooOld is returned by a read-only Open on a database that needs
// migrations.
var ErrSchemaTooOld = errors.New("recorder: database schema needs migrating (open it read-write once)")

func currentVersion(db *gorm.DB) (int, error) {
	if !db.Migrator().HasTable(&SchemaMigration{}) {
		return 0, nil
	}
	var v *int
	if err := db.Model(&SchemaMigration{}).Select("MAX(version)").Scan(&v).Error; err != nil {
		return 0, err
	}
	if v == nil {
		return 0, nil
	}
	return *v, nil
}

// migrate applies every step newer than the database's version.
func migrate(db *gorm.DB, log *slog.Logger) error {
	if err := db.Migrator().AutoMigrate(&SchemaMigration{}); err != nil {
		return fmt.Errorf("recorder: schema_migrations: %w", err)
	}
	for _, step := range migrations {
		err := db.Transaction(func(tx *gorm.DB) error {
			if tx.Dialector.Name() == "postgres" {
				if err := tx.Exec("SELECT pg_advisory_xact_lock(7310211)").Error; err != nil {
					return err
				}
			}
			v, err := currentVersion(tx)
			if err != nil {
				return err
			}
			if v > SchemaVersion() {
				return fmt.Errorf("%w: database at %d, build knows %d", ErrSchemaTooNew, v, SchemaVersion())
			}
			if v >= step.version {
				return nil
			}
			if err := step.up(tx); err != nil {
				return err
			}
			log.Info("recorder: migrated", "version", step.version, "step", step.name)
			return tx.Create(&SchemaMigration{Version: step.version, Name: step.name, AppliedAt: time.Now().UTC()}).Error
		})
		if err != nil {
			return fmt.Errorf("recorder: migration %d (%s): %w", step.version, step.name, err)
		}
	}
	return nil
}
