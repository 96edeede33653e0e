-- The enumerations the model has always had, now enforced by the
-- database: message kind, session end reason, outbox status, attempt
-- result. SQLite adds CHECK constraints and foreign keys to an existing
-- table only by rebuilding it, so the CHECKs are triggers here (same
-- effect, no rebuild of a large messages table), and the foreign keys are
-- PostgreSQL's only: the embedded database keeps foreign_keys off
-- (sqlite.go) and its single writer keeps the references.
-- +goose Up
-- +goose StatementBegin
CREATE TRIGGER IF NOT EXISTS messages_kind_check_insert BEFORE INSERT ON messages
WHEN NEW.kind NOT IN ('text', 'image', 'file')
BEGIN
    SELECT RAISE(ABORT, 'CHECK constraint failed: messages.kind');
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER IF NOT EXISTS messages_kind_check_update BEFORE UPDATE OF kind ON messages
WHEN NEW.kind NOT IN ('text', 'image', 'file')
BEGIN
    SELECT RAISE(ABORT, 'CHECK constraint failed: messages.kind');
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER IF NOT EXISTS sessions_end_reason_check_insert BEFORE INSERT ON sessions
WHEN NEW.end_reason NOT IN ('', 'left', 'recovered')
BEGIN
    SELECT RAISE(ABORT, 'CHECK constraint failed: sessions.end_reason');
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER IF NOT EXISTS sessions_end_reason_check_update BEFORE UPDATE OF end_reason ON sessions
WHEN NEW.end_reason NOT IN ('', 'left', 'recovered')
BEGIN
    SELECT RAISE(ABORT, 'CHECK constraint failed: sessions.end_reason');
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER IF NOT EXISTS webhook_outbox_status_check_insert BEFORE INSERT ON webhook_outbox
WHEN NEW.status NOT IN ('pending', 'sending', 'delivered', 'failed')
BEGIN
    SELECT RAISE(ABORT, 'CHECK constraint failed: webhook_outbox.status');
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER IF NOT EXISTS webhook_outbox_status_check_update BEFORE UPDATE OF status ON webhook_outbox
WHEN NEW.status NOT IN ('pending', 'sending', 'delivered', 'failed')
BEGIN
    SELECT RAISE(ABORT, 'CHECK constraint failed: webhook_outbox.status');
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER IF NOT EXISTS webhook_attempts_result_check_insert BEFORE INSERT ON webhook_attempts
WHEN NEW.result NOT IN ('delivered', 'retry', 'failed', 'gone', 'aborted')
BEGIN
    SELECT RAISE(ABORT, 'CHECK constraint failed: webhook_attempts.result');
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER IF NOT EXISTS webhook_attempts_result_check_update BEFORE UPDATE OF result ON webhook_attempts
WHEN NEW.result NOT IN ('delivered', 'retry', 'failed', 'gone', 'aborted')
BEGIN
    SELECT RAISE(ABORT, 'CHECK constraint failed: webhook_attempts.result');
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER IF EXISTS messages_kind_check_insert;
DROP TRIGGER IF EXISTS messages_kind_check_update;
DROP TRIGGER IF EXISTS sessions_end_reason_check_insert;
DROP TRIGGER IF EXISTS sessions_end_reason_check_update;
DROP TRIGGER IF EXISTS webhook_outbox_status_check_insert;
DROP TRIGGER IF EXISTS webhook_outbox_status_check_update;
DROP TRIGGER IF EXISTS webhook_attempts_result_check_insert;
DROP TRIGGER IF EXISTS webhook_attempts_result_check_update;
