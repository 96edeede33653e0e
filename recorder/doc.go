// Package recorder keeps every chat change durable through GORM: the
// models and their versioned migrations (models.go, migrate.go), the
// batched writer that implements chat.Store's writes (writer.go, queue.go,
// plan.go, bulk.go), the reads chat needs (store.go, reads.go), startup
// recovery (recorder.go) and the choice of database (SQLite by default, in
// C or pure Go as the build allows: sqlite.go; PostgreSQL in production).
//
// It imports neither sfu nor signaling, and none of its sibling packages,
// which each do one job on top of it:
//   - recorder/export streams the chat-replay CSV;
//   - recorder/api serves the HTTP API (post-meeting reads, chat-replay
//     links and downloads);
//   - recorder/attachments stores uploads and serves their downloads;
//   - recorder/links signs and checks the expiring download URLs;
//   - recorder/envelope writes the API's JSON envelope;
//   - recorder/webhook derives webhook events from each batch (as this
//     package's Outbox) and delivers them.
package recorder
