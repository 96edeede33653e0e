-- messages.recipients becomes jsonb (issue 22), as webhook_outbox.payload
-- did in 00003. It held '' for a message to everyone and a JSON array of
-- identities for a private one; '' becomes '[]', which the code reads the
-- same way (an empty list: everyone), and which it now writes too.
-- attachments.used_at is when chat last resolved an upload for a message:
-- the upload sweeper (recorder/attachments) spares an upload used within
-- its grace, so a message on its way to the database keeps its file.
-- Rewriting messages takes an exclusive lock for the time it takes, once.
-- +goose Up
ALTER TABLE messages ALTER COLUMN recipients DROP DEFAULT;
ALTER TABLE messages ALTER COLUMN recipients TYPE jsonb
    USING (CASE WHEN recipients = '' THEN '[]' ELSE recipients END)::jsonb;
ALTER TABLE messages ALTER COLUMN recipients SET DEFAULT '[]'::jsonb;
ALTER TABLE attachments ADD COLUMN IF NOT EXISTS used_at timestamp with time zone;

-- +goose Down
ALTER TABLE attachments DROP COLUMN IF EXISTS used_at;
ALTER TABLE messages ALTER COLUMN recipients DROP DEFAULT;
ALTER TABLE messages ALTER COLUMN recipients TYPE text
    USING (CASE WHEN recipients = '[]'::jsonb THEN '' ELSE recipients::text END);
ALTER TABLE messages ALTER COLUMN recipients SET DEFAULT ''::text;
