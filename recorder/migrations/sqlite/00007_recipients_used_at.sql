-- attachments.used_at is when chat last resolved an upload for a message:
-- the upload sweeper (recorder/attachments) spares an upload used within
-- its grace, so a message on its way to the database keeps its file.
-- (PostgreSQL's 00007 also makes messages.recipients jsonb; SQLite has no
-- such type and keeps the JSON as text. Search's FTS5 index is not made
-- here: whether the engine has FTS5 depends on the build, so Open makes
-- it when it can, search_sqlite.go.)
-- +goose Up
ALTER TABLE attachments ADD COLUMN used_at datetime;

-- +goose Down
ALTER TABLE attachments DROP COLUMN used_at;
