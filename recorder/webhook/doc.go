// Package webhook turns what the recorder writes into Standard Webhooks
// events and delivers them.
//
// Events are derived from each recorder.Batch by Delivery.Events, which
// the recorder's writer calls inside the batch's write transaction (the
// Delivery is the recorder's Outbox): it returns one webhook_outbox row
// per (event, endpoint) whose filter matches, and the writer inserts them
// in that transaction, so an event is durable exactly when the state it
// describes is. Once the transaction has committed the writer calls
// Delivery.Committed, which wakes delivery.
//
// Each endpoint has its own delivery loop and its own bounded number of
// attempts in flight (Config.Workers), and claims only its own rows, so an
// endpoint that hangs or fails delays only itself. A loop claims due rows
// under a lease in short transactions (FOR UPDATE SKIP LOCKED on
// PostgreSQL, so several servers drain one outbox without double sending;
// a cluster node also takes back the rows of a node whose heartbeat is
// stale, Delivery.SetNode), and POSTs them outside any transaction, signed per the Standard Webhooks
// specification. Failures are retried on a schedule with jitter, honouring
// Retry-After; 410 Gone disables the endpoint; exhausted deliveries are
// marked failed. Every attempt is logged in webhook_attempts, and an admin
// API lists deliveries and redelivers one. docs/webhooks.md is the
// consumer's reference.
package webhook
