-- Search (GET /v1/meetings/{id}/search) keeps its meaning, a
-- case-insensitive substring of the text (LOWER(text) LIKE '%q%'), but no
-- longer reads the whole room: a pg_trgm GIN index on lower(text) answers
-- the LIKE for queries of three characters or more (shorter ones still
-- read the room). pg_trgm ships with PostgreSQL and is a trusted
-- extension: the database owner may create it. Building the index on a
-- large database holds writes to messages for the time it takes, once.
-- +goose Up
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX IF NOT EXISTS idx_messages_text_trgm ON messages USING gin (lower(text) gin_trgm_ops);

-- +goose Down
DROP INDEX IF EXISTS idx_messages_text_trgm;
