-- End-to-end encrypted private messages (docs/e2ee.md): the envelope the
-- client sealed, stored as the JSON text chat validated and forwarded
-- (NULL for a message in clear, whose content stays in text). text is
-- empty for an encrypted message, so search and the CSV payload never
-- see its content.
-- +goose Up
ALTER TABLE messages ADD COLUMN e2ee TEXT;

-- +goose Down
ALTER TABLE messages DROP COLUMN e2ee;
