package recorder

// The webhook outbox's side of the writer: what an Outbox returns is
// inserted in the batch's transaction (plan.go, bulk.go), and Committed
// runs after that transaction commits.

import (
	"time"

	"github.com/oklog/ulid/v2"
	"gorm.io/gorm"
)

// Outbox is what the writer asks for webhook outbox rows (the webhook
// package implements it).
type Outbox interface {
	// Events returns the outbox rows describing b (NewOutboxEvent makes
	// them). It runs inside b's write transaction, after the batch's
	// rows, and the writer inserts what it returns in that transaction:
	// an event is durable exactly when the state it describes is. An
	// error rolls the batch back and it is retried, so Events must keep
	// no state across calls.
	Events(tx *gorm.DB, b *Batch) ([]OutboxEvent, error)
	// Committed runs once the transaction holding rows (what Events
	// returned, never empty) has committed: they are visible to delivery
	// from then on. It runs on the writer's goroutine, must not block and
	// must not keep rows.
	Committed(rows []OutboxEvent)
}

// OutboxFunc adapts a function to Outbox, with nothing to do at commit.
type OutboxFunc func(tx *gorm.DB, b *Batch) ([]OutboxEvent, error)

// Events implements Outbox.
func (f OutboxFunc) Events(tx *gorm.DB, b *Batch) ([]OutboxEvent, error) { return f(tx, b) }

// Committed implements Outbox.
func (OutboxFunc) Committed([]OutboxEvent) {}

// NewOutboxEvent is a pending outbox row for endpoint, due now, with
// payload marshalled to JSON: what an Outbox's Events returns.
func NewOutboxEvent(eventType string, payload any, endpoint string) (OutboxEvent, error) {
	b, err := marshalJSON(payload)
	if err != nil {
		return OutboxEvent{}, err
	}
	now := time.Now().UTC()
	return OutboxEvent{
		ID: ulid.Make().String(), EventType: eventType, Payload: string(b), Endpoint: endpoint,
		Status: OutboxPending, NextAttemptAt: now, CreatedAt: now,
	}, nil
}
