// Package recorder keeps every chat change durable through GORM (SQLite by
// default, in C or pure Go as the build allows: sqlite.go; PostgreSQL in
// production), serves the post-meeting API and the
// chat-replay CSV, and owns the webhook outbox. It imports neither sfu nor
// signaling: it implements chat.Store and consumes what chat writes.
package recorder
