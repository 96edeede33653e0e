-- End-to-end encrypted private messages (docs/e2ee.md): the envelope the
-- client sealed, as jsonb (NULL for a message in clear, whose content
-- stays in text). text is empty for an encrypted message, so search (its
-- trigram index) and the CSV payload never see its content. Adding a
-- nullable column without a default rewrites nothing.
-- +goose Up
ALTER TABLE messages ADD COLUMN IF NOT EXISTS e2ee jsonb;

-- +goose Down
ALTER TABLE messages DROP COLUMN IF EXISTS e2ee;
