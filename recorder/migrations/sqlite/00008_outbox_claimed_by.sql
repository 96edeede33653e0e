-- webhook_outbox.claimed_by is the cluster node holding a row it is
-- sending. Clusters run on PostgreSQL only; SQLite keeps the column so
-- that both databases have the same schema ('' on a single node).
-- +goose Up
ALTER TABLE webhook_outbox ADD COLUMN claimed_by text NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE webhook_outbox DROP COLUMN claimed_by;
