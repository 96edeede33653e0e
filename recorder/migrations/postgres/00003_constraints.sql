-- Constraints the model has always had, now enforced by the database:
-- the enumerations (message kind, session end reason, outbox status,
-- attempt result) and the references between rows. The foreign keys are
-- DEFERRABLE INITIALLY DEFERRED, so the writer's batched inserts are
-- checked at commit, in whatever order one batch writes them. Attempts go
-- with their outbox row when an operator prunes delivered ones. No length
-- limit changes: what chat accepts is still stored.
-- The outbox payload is JSON, so it becomes jsonb (messages.recipients
-- stays text: it holds '' for a message to everyone).
-- +goose Up
ALTER TABLE messages ADD CONSTRAINT messages_kind_check CHECK (kind IN ('text', 'image', 'file'));
ALTER TABLE sessions ADD CONSTRAINT sessions_end_reason_check CHECK (end_reason IN ('', 'left', 'recovered'));
ALTER TABLE webhook_outbox ADD CONSTRAINT webhook_outbox_status_check
    CHECK (status IN ('pending', 'sending', 'delivered', 'failed'));
ALTER TABLE webhook_attempts ADD CONSTRAINT webhook_attempts_result_check
    CHECK (result IN ('delivered', 'retry', 'failed', 'gone', 'aborted'));

ALTER TABLE sessions ADD CONSTRAINT sessions_meeting_fk FOREIGN KEY (meeting_id)
    REFERENCES meetings (id) DEFERRABLE INITIALLY DEFERRED;
ALTER TABLE participants ADD CONSTRAINT participants_session_fk FOREIGN KEY (session_id)
    REFERENCES sessions (id) DEFERRABLE INITIALLY DEFERRED;
ALTER TABLE messages ADD CONSTRAINT messages_session_fk FOREIGN KEY (session_id)
    REFERENCES sessions (id) DEFERRABLE INITIALLY DEFERRED;
ALTER TABLE messages ADD CONSTRAINT messages_meeting_fk FOREIGN KEY (meeting_id)
    REFERENCES meetings (id) DEFERRABLE INITIALLY DEFERRED;
ALTER TABLE message_recipients ADD CONSTRAINT message_recipients_message_fk FOREIGN KEY (message_id)
    REFERENCES messages (id) DEFERRABLE INITIALLY DEFERRED;
ALTER TABLE reactions ADD CONSTRAINT reactions_message_fk FOREIGN KEY (message_id)
    REFERENCES messages (id) DEFERRABLE INITIALLY DEFERRED;
ALTER TABLE pins ADD CONSTRAINT pins_message_fk FOREIGN KEY (message_id)
    REFERENCES messages (id) DEFERRABLE INITIALLY DEFERRED;
ALTER TABLE webhook_attempts ADD CONSTRAINT webhook_attempts_delivery_fk FOREIGN KEY (delivery_id)
    REFERENCES webhook_outbox (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED;
-- No new indexes: each referencing column leads an index or primary key,
-- except messages.meeting_id, left unindexed on purpose (models.go): the
-- referenced rows are never deleted, so no check ever looks it up.

ALTER TABLE webhook_outbox ALTER COLUMN payload TYPE jsonb USING payload::jsonb;

-- +goose Down
ALTER TABLE webhook_outbox ALTER COLUMN payload TYPE text;
ALTER TABLE webhook_attempts DROP CONSTRAINT webhook_attempts_delivery_fk;
ALTER TABLE pins DROP CONSTRAINT pins_message_fk;
ALTER TABLE reactions DROP CONSTRAINT reactions_message_fk;
ALTER TABLE message_recipients DROP CONSTRAINT message_recipients_message_fk;
ALTER TABLE messages DROP CONSTRAINT messages_meeting_fk;
ALTER TABLE messages DROP CONSTRAINT messages_session_fk;
ALTER TABLE participants DROP CONSTRAINT participants_session_fk;
ALTER TABLE sessions DROP CONSTRAINT sessions_meeting_fk;
ALTER TABLE webhook_attempts DROP CONSTRAINT webhook_attempts_result_check;
ALTER TABLE webhook_outbox DROP CONSTRAINT webhook_outbox_status_check;
ALTER TABLE sessions DROP CONSTRAINT sessions_end_reason_check;
ALTER TABLE messages DROP CONSTRAINT messages_kind_check;
