package webhook

// The webhook package's own tables. The outbox itself (webhook_outbox)
// belongs to the recorder's schema; the endpoint state and the attempt log
// are this package's, created by its own versioned, append-only steps
// recorded in webhook_migrations, so the recorder's migration list stays
// the recorder's. Like the recorder's steps, each runs once in its own
// transaction (serialised by an advisory lock on PostgreSQL, by the write
// lock on SQLite) and creates only what is missing.

import (
	"fmt"
	"time"

	"gorm.io/gorm"
)

// EndpointState is what the server remembers about an endpoint across
// restarts: whether a 410 Gone disabled it.
type EndpointState struct {
	ID             string     `gorm:"primaryKey;size:255"`
	URL            string     `gorm:"type:text;not null;default:''"`
	Disabled       bool       `gorm:"not null;default:false"`
	DisabledAt     *time.Time ``
	DisabledReason string     `gorm:"type:text;not null;default:''"`
	UpdatedAt      time.Time  `gorm:"not null"`
}

// TableName implements gorm's Tabler.
func (EndpointState) TableName() string { return "webhook_endpoints" }

// Attempt results.
const (
	ResultDelivered = "delivered" // 2xx
	ResultRetry     = "retry"     // failed, another attempt is scheduled
	ResultFailed    = "failed"    // failed, no attempt left
	ResultGone      = "gone"      // 410: the endpoint is disabled
	ResultAborted   = "aborted"   // shutdown mid-attempt: not counted
)

// Attempt is one delivery attempt: the delivery log.
type Attempt struct {
	ID         string    `gorm:"primaryKey;size:26"`
	DeliveryID string    `gorm:"size:26;not null;index:idx_webhook_attempts_delivery"`
	WebhookID  string    `gorm:"size:64;not null"`
	Endpoint   string    `gorm:"size:255;not null"`
	Number     int       `gorm:"not null"`
	StartedAt  time.Time `gorm:"not null"`
	DurationMS int64     `gorm:"not null;default:0"`
	StatusCode int       `gorm:"not null;default:0"`
	Result     string    `gorm:"size:16;not null"`
	Error      string    `gorm:"type:text;not null;default:''"`
}

// TableName implements gorm's Tabler.
func (Attempt) TableName() string { return "webhook_attempts" }

type schemaStep struct {
	Version   int       `gorm:"primaryKey;autoIncrement:false"`
	Name      string    `gorm:"size:255;not null"`
	AppliedAt time.Time `gorm:"not null"`
}

func (schemaStep) TableName() string { return "webhook_migrations" }

type step struct {
	version int
	name    string
	up      func(tx *gorm.DB) error
}

// steps is this package's schema history. Append only.
var steps = []step{
	{1, "endpoint state and attempt log", func(tx *gorm.DB) error {
		m := tx.Migrator()
		for _, model := range []any{&EndpointState{}, &Attempt{}} {
			if m.HasTable(model) {
				continue
			}
			if err := m.CreateTable(model); err != nil {
				return err
			}
		}
		return nil
	}},
}

// Migrate creates or updates the webhook tables (the recorder must have
// migrated the database first: the outbox is its table).
func Migrate(db *gorm.DB) error {
	if err := db.Migrator().AutoMigrate(&schemaStep{}); err != nil {
		return fmt.Errorf("webhook: webhook_migrations: %w", err)
	}
	last := steps[len(steps)-1].version
	for _, s := range steps {
		err := db.Transaction(func(tx *gorm.DB) error {
			if tx.Dialector.Name() == "postgres" {
				if err := tx.Exec("SELECT pg_advisory_xact_lock(7310212)").Error; err != nil {
					return err
				}
			}
			var v *int
			if err := tx.Model(&schemaStep{}).Select("MAX(version)").Scan(&v).Error; err != nil {
				return err
			}
			if v != nil && *v > last {
				return fmt.Errorf("webhook: database schema %d is newer than this build's %d", *v, last)
			}
			if v != nil && *v >= s.version {
				return nil
			}
			if err := s.up(tx); err != nil {
				return err
			}
			return tx.Create(&schemaStep{Version: s.version, Name: s.name, AppliedAt: time.Now().UTC()}).Error
		})
		if err != nil {
			return fmt.Errorf("webhook: migration %d (%s): %w", s.version, s.name, err)
		}
	}
	return nil
}
