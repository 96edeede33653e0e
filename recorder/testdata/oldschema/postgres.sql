
CREATE TABLE public.attachments (
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
    created_at timestamp with time zone NOT NULL
);

CREATE TABLE public.meetings (
    id character varying(26) NOT NULL,
    room character varying(255) NOT NULL,
    created_at timestamp with time zone NOT NULL
);

CREATE TABLE public.message_recipients (
    message_id character varying(64) NOT NULL,
    identity character varying(255) NOT NULL
);

CREATE TABLE public.messages (
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
    deleted_by character varying(255) DEFAULT ''::character varying NOT NULL
);

CREATE TABLE public.participants (
    session_id character varying(26) NOT NULL,
    identity character varying(255) NOT NULL,
    name character varying(255) DEFAULT ''::character varying NOT NULL,
    joined_at timestamp with time zone NOT NULL,
    left_at timestamp with time zone
);

CREATE TABLE public.pins (
    message_id character varying(64) NOT NULL,
    room character varying(255) NOT NULL,
    pinned_by character varying(255) DEFAULT ''::character varying NOT NULL,
    pinned_at timestamp with time zone NOT NULL
);

CREATE TABLE public.reactions (
    message_id character varying(64) NOT NULL,
    emoji character varying(64) NOT NULL,
    identity character varying(255) NOT NULL,
    created_at timestamp with time zone NOT NULL
);

CREATE TABLE public.read_horizons (
    room character varying(255) NOT NULL,
    identity character varying(255) NOT NULL,
    seq bigint NOT NULL,
    updated_at timestamp with time zone NOT NULL
);

CREATE TABLE public.room_mutes (
    room character varying(255) NOT NULL,
    identity character varying(255) NOT NULL,
    muted_by character varying(255) DEFAULT ''::character varying NOT NULL,
    muted_at timestamp with time zone NOT NULL
);

CREATE TABLE public.schema_migrations (
    version bigint NOT NULL,
    name character varying(255) NOT NULL,
    applied_at timestamp with time zone NOT NULL
);

CREATE TABLE public.sessions (
    id character varying(26) NOT NULL,
    meeting_id character varying(26) NOT NULL,
    room character varying(255) NOT NULL,
    node character varying(255) DEFAULT ''::character varying NOT NULL,
    started_at timestamp with time zone NOT NULL,
    ended_at timestamp with time zone,
    end_reason character varying(32) DEFAULT ''::character varying NOT NULL
);

CREATE TABLE public.webhook_attempts (
    id character varying(26) NOT NULL,
    delivery_id character varying(26) NOT NULL,
    webhook_id character varying(64) NOT NULL,
    endpoint character varying(255) NOT NULL,
    number bigint NOT NULL,
    started_at timestamp with time zone NOT NULL,
    duration_ms bigint DEFAULT 0 NOT NULL,
    status_code bigint DEFAULT 0 NOT NULL,
    result character varying(16) NOT NULL,
    error text DEFAULT ''::text NOT NULL
);

CREATE TABLE public.webhook_endpoints (
    id character varying(255) NOT NULL,
    url text DEFAULT ''::text NOT NULL,
    disabled boolean DEFAULT false NOT NULL,
    disabled_at timestamp with time zone,
    disabled_reason text DEFAULT ''::text NOT NULL,
    updated_at timestamp with time zone NOT NULL
);

CREATE TABLE public.webhook_migrations (
    version bigint NOT NULL,
    name character varying(255) NOT NULL,
    applied_at timestamp with time zone NOT NULL
);

CREATE TABLE public.webhook_outbox (
    id character varying(26) NOT NULL,
    event_type character varying(64) NOT NULL,
    payload text NOT NULL,
    endpoint character varying(255) DEFAULT ''::character varying NOT NULL,
    status character varying(16) DEFAULT 'pending'::character varying NOT NULL,
    attempts bigint DEFAULT 0 NOT NULL,
    next_attempt_at timestamp with time zone NOT NULL,
    last_error text DEFAULT ''::text NOT NULL,
    created_at timestamp with time zone NOT NULL,
    delivered_at timestamp with time zone
);

INSERT INTO public.attachments VALUES ('01JIMAGE000000000000000001', 'csv', 'alice', 'cat.png', 'image/png', 4, 'abababababababababababababababababababababababababababababababab', true, 1, 1, '2025-03-14 09:00:00+00');
INSERT INTO public.attachments VALUES ('01JFILE0000000000000000001', 'csv', 'bob', 'notes.pdf', 'application/pdf', 9, 'cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd', false, 0, 0, '2025-03-14 09:00:00+00');

INSERT INTO public.meetings VALUES ('01M90DVH5JQHWMEAB8E02W3DGS', 'csv', '2026-12-04 11:43:25.363068+00');
INSERT INTO public.meetings VALUES ('01M90DVH6C57MFAKX3YRDRC3HJ', 'other', '2026-12-04 11:43:25.388961+00');

INSERT INTO public.message_recipients VALUES ('mcsv000002', 'bob');

INSERT INTO public.messages VALUES ('mcsv000001', 'csv', 1, '01M90DVH5KQNYQAKQ8EHPNAGZS', '01M90DVH5JQHWMEAB8E02W3DGS', 'alice', 'Alice', 'text', 'hello, world', false, '', '', 'c1', '', '2025-03-14 09:00:01+00', NULL, false, NULL, '');
INSERT INTO public.messages VALUES ('mcsv000002', 'csv', 2, '01M90DVH5KQNYQAKQ8EHPNAGZS', '01M90DVH5JQHWMEAB8E02W3DGS', 'alice', 'Alice', 'text', 'psst', true, '["bob"]', '', 'c2', '', '2025-03-14 09:00:02+00', NULL, false, NULL, '');
INSERT INTO public.messages VALUES ('mcsv000003', 'csv', 3, '01M90DVH5KQNYQAKQ8EHPNAGZS', '01M90DVH5JQHWMEAB8E02W3DGS', 'bob', 'Bob', 'text', 'fixed', false, '', '', 'c3', '', '2025-03-14 09:00:03+00', '2025-03-14 09:00:13+00', false, NULL, '');
INSERT INTO public.messages VALUES ('mcsv000004', 'csv', 4, '01M90DVH5KQNYQAKQ8EHPNAGZS', '01M90DVH5JQHWMEAB8E02W3DGS', 'bob', 'Bob', 'text', '', false, '', '', 'c4', '', '2025-03-14 09:00:04+00', NULL, true, '2025-03-14 09:00:14+00', 'bob');
INSERT INTO public.messages VALUES ('mcsv000005', 'csv', 5, '01M90DVH5KQNYQAKQ8EHPNAGZS', '01M90DVH5JQHWMEAB8E02W3DGS', 'bob', 'Bob', 'text', 'replying, with "quotes"
and a newline', false, '', 'mcsv000001', 'c5', '', '2025-03-14 09:00:05+00', NULL, false, NULL, '');
INSERT INTO public.messages VALUES ('mcsv000006', 'csv', 6, '01M90DVH5KQNYQAKQ8EHPNAGZS', '01M90DVH5JQHWMEAB8E02W3DGS', 'alice', 'Alice', 'image', '', false, '', '', 'c6', '01JIMAGE000000000000000001', '2025-03-14 09:00:06+00', NULL, false, NULL, '');
INSERT INTO public.messages VALUES ('mcsv000007', 'csv', 7, '01M90DVH5KQNYQAKQ8EHPNAGZS', '01M90DVH5JQHWMEAB8E02W3DGS', 'bob', 'Bob', 'file', '', false, '', '', 'c7', '01JFILE0000000000000000001', '2025-03-14 09:00:07+00', NULL, false, NULL, '');
INSERT INTO public.messages VALUES ('mcsv000008', 'csv', 8, '01M90DVH5KQNYQAKQ8EHPNAGZS', '01M90DVH5JQHWMEAB8E02W3DGS', 'mallory', '=HYPERLINK("x")', 'text', '=1+1', false, '', '', 'c8', '', '2025-03-14 09:00:08+00', NULL, false, NULL, '');
INSERT INTO public.messages VALUES ('mcsv000009', 'csv', 9, '01M90DVH5KQNYQAKQ8EHPNAGZS', '01M90DVH5JQHWMEAB8E02W3DGS', 'mallory', '=HYPERLINK("x")', 'text', '-2+3', false, '', '', 'c9', '', '2025-03-14 09:00:09+00', NULL, false, NULL, '');
INSERT INTO public.messages VALUES ('mcsv000010', 'csv', 10, '01M90DVH5KQNYQAKQ8EHPNAGZS', '01M90DVH5JQHWMEAB8E02W3DGS', 'mallory', '=HYPERLINK("x")', 'text', '@SUM(A1)', false, '', '', 'c10', '', '2025-03-14 09:00:10+00', NULL, false, NULL, '');
INSERT INTO public.messages VALUES ('mcsv000011', 'csv', 11, '01M90DVH5KQNYQAKQ8EHPNAGZS', '01M90DVH5JQHWMEAB8E02W3DGS', 'mallory', '=HYPERLINK("x")', 'text', '	cmd', false, '', '', 'c11', '', '2025-03-14 09:00:11+00', NULL, false, NULL, '');
INSERT INTO public.messages VALUES ('mcsv000012', 'csv', 12, '01M90DVH5KQNYQAKQ8EHPNAGZS', '01M90DVH5JQHWMEAB8E02W3DGS', 'alice', 'Alice', 'text', '日本語 ✓ émoji 🎉', false, '', '', 'c12', '', '2025-03-14 09:00:12+00', NULL, false, NULL, '');
INSERT INTO public.messages VALUES ('mcsv000013', 'csv', 13, '01M90DVH6C57MFAKX3YPQJMAHA', '01M90DVH5JQHWMEAB8E02W3DGS', 'alice', 'alice', 'text', 'second session', false, '', '', 'c13', '', '2025-03-14 09:00:31+00', NULL, false, NULL, '');
INSERT INTO public.messages VALUES ('mother000001', 'other', 1, '01M90DVH6D6VZB675G18ZJKHKJ', '01M90DVH6C57MFAKX3YRDRC3HJ', 'dave', 'dave', 'text', 'open session', false, '', '', 'c1', '', '2025-03-14 09:00:41+00', NULL, false, NULL, '');

INSERT INTO public.participants VALUES ('01M90DVH5KQNYQAKQ8EHPNAGZS', 'alice', 'Alice', '2025-03-14 09:00:00+00', '2025-03-14 09:00:21+00');
INSERT INTO public.participants VALUES ('01M90DVH5KQNYQAKQ8EHPNAGZS', 'bob', 'Bob', '2025-03-14 09:00:00+00', '2025-03-14 09:00:22+00');
INSERT INTO public.participants VALUES ('01M90DVH5KQNYQAKQ8EHPNAGZS', 'mallory', '=HYPERLINK("x")', '2025-03-14 09:00:00+00', '2025-03-14 09:00:23+00');
INSERT INTO public.participants VALUES ('01M90DVH6C57MFAKX3YPQJMAHA', 'alice', 'Alice', '2025-03-14 09:00:30+00', NULL);
INSERT INTO public.participants VALUES ('01M90DVH6D6VZB675G18ZJKHKJ', 'dave', 'Dave', '2025-03-14 09:00:40+00', NULL);

INSERT INTO public.pins VALUES ('mcsv000001', 'csv', 'alice', '2025-03-14 09:00:18+00');

INSERT INTO public.reactions VALUES ('mcsv000001', '👍', 'alice', '2025-03-14 09:00:15+00');
INSERT INTO public.reactions VALUES ('mcsv000001', '👍', 'bob', '2025-03-14 09:00:16+00');
INSERT INTO public.reactions VALUES ('mcsv000001', '🎉', 'carol', '2025-03-14 09:00:17+00');

INSERT INTO public.read_horizons VALUES ('csv', 'bob', 9, '2025-03-14 09:00:19+00');

INSERT INTO public.room_mutes VALUES ('csv', 'mallory', 'alice', '2025-03-14 09:00:20+00');

INSERT INTO public.schema_migrations VALUES (1, 'create tables', '2026-12-04 11:43:25.259605+00');
INSERT INTO public.schema_migrations VALUES (2, 'unique client id per sender', '2026-12-04 11:43:25.267059+00');
INSERT INTO public.schema_migrations VALUES (3, 'open sessions lookup', '2026-12-04 11:43:25.273195+00');
INSERT INTO public.schema_migrations VALUES (4, 'attachment references', '2026-12-04 11:43:25.280065+00');
INSERT INTO public.schema_migrations VALUES (5, 'drop meeting index (messages are found by room)', '2026-12-04 11:43:25.296258+00');
INSERT INTO public.schema_migrations VALUES (6, 'room mutes (a moderator''s mute outlives a restart)', '2026-12-04 11:43:25.310539+00');

INSERT INTO public.sessions VALUES ('01M90DVH6C57MFAKX3YPQJMAHA', '01M90DVH5JQHWMEAB8E02W3DGS', 'csv', '', '2025-03-14 09:00:30+00', NULL, '');
INSERT INTO public.sessions VALUES ('01M90DVH6D6VZB675G18ZJKHKJ', '01M90DVH6C57MFAKX3YRDRC3HJ', 'other', '', '2025-03-14 09:00:40+00', NULL, '');
INSERT INTO public.sessions VALUES ('01M90DVH5KQNYQAKQ8EHPNAGZS', '01M90DVH5JQHWMEAB8E02W3DGS', 'csv', '', '2025-03-14 09:00:00+00', '2025-03-14 09:00:23+00', 'left');

INSERT INTO public.webhook_attempts VALUES ('01JATTEMPT0000000000000001', '01JOUTBOX00000000000000001', 'msg_1', 'ep1', 1, '2025-03-14 09:00:50+00', 12, 200, 'delivered', '');
INSERT INTO public.webhook_attempts VALUES ('01JATTEMPT0000000000000002', '01JOUTBOX00000000000000002', 'msg_2', 'ep1', 1, '2025-03-14 09:00:50+00', 30, 500, 'retry', 'HTTP 500');
INSERT INTO public.webhook_attempts VALUES ('01JATTEMPT0000000000000003', '01JOUTBOX00000000000000002', 'msg_2', 'ep1', 2, '2025-03-14 09:00:50+00', 31, 500, 'failed', 'HTTP 500');

INSERT INTO public.webhook_endpoints VALUES ('ep1', 'https://example.com/hook', false, NULL, '', '2025-03-14 09:00:50+00');
INSERT INTO public.webhook_endpoints VALUES ('ep2', 'https://example.org/gone', true, '2025-03-14 09:00:51+00', '410 Gone', '2025-03-14 09:00:50+00');

INSERT INTO public.webhook_migrations VALUES (1, 'endpoint state and attempt log', '2026-12-04 11:43:25.348672+00');

INSERT INTO public.webhook_outbox VALUES ('01JOUTBOX00000000000000001', 'meeting.started', '{"type":"meeting.started","timestamp":"2025-03-14T09:00:00Z","data":{"meetingId":"x"}}', 'ep1', 'delivered', 1, '2025-03-14 09:00:50+00', '', '2025-03-14 09:00:50+00', '2025-03-14 09:00:51+00');
INSERT INTO public.webhook_outbox VALUES ('01JOUTBOX00000000000000002', 'meeting.ended', '{"type":"meeting.ended","data":{}}', 'ep1', 'failed', 5, '2025-03-14 09:00:50+00', 'HTTP 500', '2025-03-14 09:00:50+00', NULL);
INSERT INTO public.webhook_outbox VALUES ('01JOUTBOX00000000000000003', 'meeting.chatSynced', '{"type":"meeting.chatSynced","data":{"n":1}}', 'ep2', 'pending', 0, '2025-03-14 09:00:50+00', '', '2025-03-14 09:00:50+00', NULL);

ALTER TABLE ONLY public.attachments
    ADD CONSTRAINT attachments_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.meetings
    ADD CONSTRAINT meetings_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.message_recipients
    ADD CONSTRAINT message_recipients_pkey PRIMARY KEY (message_id, identity);

ALTER TABLE ONLY public.messages
    ADD CONSTRAINT messages_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.participants
    ADD CONSTRAINT participants_pkey PRIMARY KEY (session_id, identity);

ALTER TABLE ONLY public.pins
    ADD CONSTRAINT pins_pkey PRIMARY KEY (message_id);

ALTER TABLE ONLY public.reactions
    ADD CONSTRAINT reactions_pkey PRIMARY KEY (message_id, emoji, identity);

ALTER TABLE ONLY public.read_horizons
    ADD CONSTRAINT read_horizons_pkey PRIMARY KEY (room, identity);

ALTER TABLE ONLY public.room_mutes
    ADD CONSTRAINT room_mutes_pkey PRIMARY KEY (room, identity);

ALTER TABLE ONLY public.schema_migrations
    ADD CONSTRAINT schema_migrations_pkey PRIMARY KEY (version);

ALTER TABLE ONLY public.sessions
    ADD CONSTRAINT sessions_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.webhook_attempts
    ADD CONSTRAINT webhook_attempts_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.webhook_endpoints
    ADD CONSTRAINT webhook_endpoints_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.webhook_migrations
    ADD CONSTRAINT webhook_migrations_pkey PRIMARY KEY (version);

ALTER TABLE ONLY public.webhook_outbox
    ADD CONSTRAINT webhook_outbox_pkey PRIMARY KEY (id);

CREATE INDEX idx_attachments_hash ON public.attachments USING btree (hash);

CREATE INDEX idx_attachments_room ON public.attachments USING btree (room);

CREATE UNIQUE INDEX idx_meetings_room ON public.meetings USING btree (room);

CREATE INDEX idx_messages_attachment ON public.messages USING btree (attachment_id) WHERE ((attachment_id)::text <> ''::text);

CREATE UNIQUE INDEX idx_messages_client ON public.messages USING btree (room, sender, client_id) WHERE ((client_id)::text <> ''::text);

CREATE UNIQUE INDEX idx_messages_room_seq ON public.messages USING btree (room, seq);

CREATE INDEX idx_messages_session_seq ON public.messages USING btree (session_id, seq);

CREATE INDEX idx_outbox_due ON public.webhook_outbox USING btree (status, next_attempt_at);

CREATE INDEX idx_pins_room ON public.pins USING btree (room);

CREATE INDEX idx_sessions_meeting ON public.sessions USING btree (meeting_id);

CREATE INDEX idx_sessions_open ON public.sessions USING btree (node, room) WHERE (ended_at IS NULL);

CREATE INDEX idx_sessions_room ON public.sessions USING btree (room);

CREATE INDEX idx_webhook_attempts_delivery ON public.webhook_attempts USING btree (delivery_id);

