-- The old runner's version tables: goose_db_version replaces both.
-- +goose Up
DROP TABLE IF EXISTS schema_migrations;
DROP TABLE IF EXISTS webhook_migrations;

-- +goose Down
-- Nothing to restore: the old runner is gone.
