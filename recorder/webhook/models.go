package webhook

// The webhook package's tables: the endpoint state and the attempt log.
// Their schema, like the outbox's, is created and changed by the
// recorder's migration files (recorder/migrations), which recorder.Open
// runs, so one goose version table describes the whole database.

import "time"

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
