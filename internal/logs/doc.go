// Package logs is how the server logs: one slog handler (text or JSON) for
// every package, with secrets redacted by key; Pion's loggers routed into it
// at a quieter level than Pion's own; and an HTTP middleware that gives
// every request an id (returned in X-Request-Id) and logs one line for it.
package logs
