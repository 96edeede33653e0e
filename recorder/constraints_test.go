package recorder

import (
	"strings"
	"testing"
	"time"
)

// TestConstraints: the database refuses values outside the model's
// enumerations (both engines) and rows that reference nothing
// (PostgreSQL), and the outbox payload is jsonb on PostgreSQL.
func TestConstraints(t *testing.T) {
	for _, b := range []backend{sqliteBackend, sqlitePureGoBackend, postgresBackend} {
		t.Run(b.name, func(t *testing.T) {
			r := openT(t, b.config(t))
			writeAll(t, r, join("c", "alice", "Alice", 0), msg("c", 1, "alice", "hi", 1))
			now := time.Now().UTC()
			refused := func(what string, err error) {
				t.Helper()
				if err == nil {
					t.Fatalf("%s: accepted", what)
				}
			}
			refused("kind", r.db.Model(&MessageRow{}).Where("room = ?", "c").Update("kind", "bogus").Error)
			refused("end reason", r.db.Model(&Session{}).Where("room = ?", "c").Update("end_reason", "bogus").Error)
			refused("outbox status", r.db.Create(&OutboxEvent{ID: "o1", EventType: "x", Payload: `{}`, Status: "bogus",
				NextAttemptAt: now, CreatedAt: now}).Error)
			refused("attempt result", r.db.Exec(`INSERT INTO webhook_attempts (id, delivery_id, webhook_id, endpoint,
				number, started_at, result) VALUES ('a1', 'o1', 'w', 'e', 1, ?, 'bogus')`, now).Error)
			// The model's values still go in.
			if err := r.db.Create(&OutboxEvent{ID: "o2", EventType: "x", Payload: `{"a": [1, 2]}`, Status: OutboxFailed,
				NextAttemptAt: now, CreatedAt: now}).Error; err != nil {
				t.Fatal(err)
			}
			if !IsPostgres(r.cfg.DSN) {
				return
			}
			refused("reaction to no message", r.db.Create(&Reaction{MessageID: "nope", Emoji: "x", Identity: "a", CreatedAt: now}).Error)
			refused("message in no session", r.db.Create(&MessageRow{ID: "m", Room: "c", Seq: 99, SessionID: "nope",
				MeetingID: "nope", Sender: "a", Kind: "text", CreatedAt: now}).Error)
			var typ string
			r.db.Raw(`SELECT data_type FROM information_schema.columns WHERE table_name = 'webhook_outbox'
				AND column_name = 'payload'`).Scan(&typ)
			if typ != "jsonb" {
				t.Fatalf("payload is %q", typ)
			}
			var got OutboxEvent
			if err := r.db.Take(&got, "id = ?", "o2").Error; err != nil || !strings.Contains(got.Payload, `"a"`) {
				t.Fatalf("payload read back %q, %v", got.Payload, err)
			}
		})
	}
}
