-- The baseline: the schema the old home-made runner (steps 1-6 of the
-- recorder, step 1 of the webhook package) left, statement for statement as
-- GORM created it. Every statement is IF NOT EXISTS, so on a database made
-- by the old runner this step changes nothing and is only recorded (an old
-- database that stopped at an earlier step gets what it missed).
-- +goose Up
CREATE TABLE IF NOT EXISTS attachments (
    id character varying(26) NOT NULL,
    room character varying(255) NOT NULL,
    uploader character varying(255) NOT NULL,
    name character varying(255) DEFAULT ''::character varying NOT NULL,
    content_type character varying(255) NOT NULL,
    size bigint NOT NULL,
    hash character varying(64) NOT NULL,
    image boolean DEFAULT false NOT NULL,
    width bigint DEFAULT 0 NOT NULL,
    height bigint DEFAULT 0 NOT NULL,
    created_at timestamp with time zone NOT NULL,
    PRIMARY KEY (id)
);
CREATE TABLE IF NOT EXISTS meetings (
    id character varying(26) NOT NULL,
    room character varying(255) NOT NULL,
    created_at timestamp with time zone NOT NULL,
    PRIMARY KEY (id)
);
CREATE TABLE IF NOT EXISTS message_recipients (
    message_id character varying(64) NOT NULL,
    identity character varying(255) NOT NULL,
    PRIMARY KEY (message_id, identity)
);
CREATE TABLE IF NOT EXISTS messages (
    id character varying(64) NOT NULL,
    room character varying(255) NOT NULL,
    seq bigint NOT NULL,
    session_id character varying(26) NOT NULL,
    meeting_id character varying(26) NOT NULL,
    sender character varying(255) NOT NULL,
    sender_name character varying(255) DEFAULT ''::character varying NOT NULL,
    kind character varying(16) NOT NULL,
    text text DEFAULT ''::text NOT NULL,
    private boolean DEFAULT false NOT NULL,
    recipients text DEFAULT ''::text NOT NULL,
    reply_to character varying(64) DEFAULT ''::character varying NOT NULL,
    client_id character varying(128) DEFAULT ''::character varying NOT NULL,
    attachment_id character varying(64) DEFAULT ''::character varying NOT NULL,
    created_at timestamp with time zone NOT NULL,
    edited_at timestamp with time zone,
    deleted boolean DEFAULT false NOT NULL,
    deleted_at timestamp with time zone,
    deleted_by character varying(255) DEFAULT ''::character varying NOT NULL,
    PRIMARY KEY (id)
);
CREATE TABLE IF NOT EXISTS participants (
    session_id character varying(26) NOT NULL,
    identity character varying(255) NOT NULL,
    name character varying(255) DEFAULT ''::character varying NOT NULL,
    joined_at timestamp with time zone NOT NULL,
    left_at timestamp with time zone,
    PRIMARY KEY (session_id, identity)
);
CREATE TABLE IF NOT EXISTS pins (
    message_id character varying(64) NOT NULL,
    room character varying(255) NOT NULL,
    pinned_by character varying(255) DEFAULT ''::character varying NOT NULL,
    pinned_at timestamp with time zone NOT NULL,
    PRIMARY KEY (message_id)
);
CREATE TABLE IF NOT EXISTS reactions (
    message_id character varying(64) NOT NULL,
    emoji character varying(64) NOT NULL,
    identity character varying(255) NOT NULL,
    created_at timestamp with time zone NOT NULL,
    PRIMARY KEY (message_id, emoji, identity)
);
CREATE TABLE IF NOT EXISTS read_horizons (
    room character varying(255) NOT NULL,
    identity character varying(255) NOT NULL,
    seq bigint NOT NULL,
    updated_at timestamp with time zone NOT NULL,
    PRIMARY KEY (room, identity)
);
CREATE TABLE IF NOT EXISTS room_mutes (
    room character varying(255) NOT NULL,
    identity character varying(255) NOT NULL,
    muted_by character varying(255) DEFAULT ''::character varying NOT NULL,
    muted_at timestamp with time zone NOT NULL,
    PRIMARY KEY (room, identity)
);
CREATE TABLE IF NOT EXISTS sessions (
    id character varying(26) NOT NULL,
    meeting_id character varying(26) NOT NULL,
    room character varying(255) NOT NULL,
    node character varying(255) DEFAULT ''::character varying NOT NULL,
    started_at timestamp with time zone NOT NULL,
    ended_at timestamp with time zone,
    end_reason character varying(32) DEFAULT ''::character varying NOT NULL,
    PRIMARY KEY (id)
);
CREATE TABLE IF NOT EXISTS webhook_attempts (
    id character varying(26) NOT NULL,
    delivery_id character varying(26) NOT NULL,
    webhook_id character varying(64) NOT NULL,
    endpoint character varying(255) NOT NULL,
    number bigint NOT NULL,
    started_at timestamp with time zone NOT NULL,
    duration_ms bigint DEFAULT 0 NOT NULL,
    status_code bigint DEFAULT 0 NOT NULL,
    result character varying(16) NOT NULL,
    error text DEFAULT ''::text NOT NULL,
    PRIMARY KEY (id)
);
CREATE TABLE IF NOT EXISTS webhook_endpoints (
    id character varying(255) NOT NULL,
    url text DEFAULT ''::text NOT NULL,
    disabled boolean DEFAULT false NOT NULL,
    disabled_at timestamp with time zone,
    disabled_reason text DEFAULT ''::text NOT NULL,
    updated_at timestamp with time zone NOT NULL,
    PRIMARY KEY (id)
);
CREATE TABLE IF NOT EXISTS webhook_outbox (
    id character varying(26) NOT NULL,
    event_type character varying(64) NOT NULL,
    payload text NOT NULL,
    endpoint character varying(255) DEFAULT ''::character varying NOT NULL,
    status character varying(16) DEFAULT 'pending'::character varying NOT NULL,
    attempts bigint DEFAULT 0 NOT NULL,
    next_attempt_at timestamp with time zone NOT NULL,
    last_error text DEFAULT ''::text NOT NULL,
    created_at timestamp with time zone NOT NULL,
    delivered_at timestamp with time zone,
    PRIMARY KEY (id)
);
CREATE INDEX IF NOT EXISTS idx_attachments_hash ON attachments USING btree (hash);
CREATE INDEX IF NOT EXISTS idx_attachments_room ON attachments USING btree (room);
CREATE UNIQUE INDEX IF NOT EXISTS idx_meetings_room ON meetings USING btree (room);
CREATE INDEX IF NOT EXISTS idx_messages_attachment ON messages USING btree (attachment_id) WHERE ((attachment_id)::text <> ''::text);
CREATE UNIQUE INDEX IF NOT EXISTS idx_messages_client ON messages USING btree (room, sender, client_id) WHERE ((client_id)::text <> ''::text);
CREATE UNIQUE INDEX IF NOT EXISTS idx_messages_room_seq ON messages USING btree (room, seq);
CREATE INDEX IF NOT EXISTS idx_messages_session_seq ON messages USING btree (session_id, seq);
CREATE INDEX IF NOT EXISTS idx_outbox_due ON webhook_outbox USING btree (status, next_attempt_at);
CREATE INDEX IF NOT EXISTS idx_pins_room ON pins USING btree (room);
CREATE INDEX IF NOT EXISTS idx_sessions_meeting ON sessions USING btree (meeting_id);
CREATE INDEX IF NOT EXISTS idx_sessions_open ON sessions USING btree (node, room) WHERE (ended_at IS NULL);
CREATE INDEX IF NOT EXISTS idx_sessions_room ON sessions USING btree (room);
CREATE INDEX IF NOT EXISTS idx_webhook_attempts_delivery ON webhook_attempts USING btree (delivery_id);
DROP INDEX IF EXISTS idx_messages_meeting_seq;

-- +goose Down
-- The baseline is not reversible: it would drop every table.
