-- The baseline: the schema the old home-made runner (steps 1-6 of the
-- recorder, step 1 of the webhook package) left, statement for statement as
-- GORM created it. Every statement is IF NOT EXISTS, so on a database made
-- by the old runner this step changes nothing and is only recorded (an old
-- database that stopped at an earlier step gets what it missed).
-- +goose Up
CREATE TABLE IF NOT EXISTS `meetings` (`id` text,`room` text NOT NULL,`created_at` datetime NOT NULL,PRIMARY KEY (`id`));
CREATE TABLE IF NOT EXISTS `sessions` (`id` text,`meeting_id` text NOT NULL,`room` text NOT NULL,`node` text NOT NULL DEFAULT "",`started_at` datetime NOT NULL,`ended_at` datetime,`end_reason` text NOT NULL DEFAULT "",PRIMARY KEY (`id`));
CREATE TABLE IF NOT EXISTS `participants` (`session_id` text,`identity` text,`name` text NOT NULL DEFAULT "",`joined_at` datetime NOT NULL,`left_at` datetime,PRIMARY KEY (`session_id`,`identity`));
CREATE TABLE IF NOT EXISTS `messages` (`id` text,`room` text NOT NULL,`seq` integer NOT NULL,`session_id` text NOT NULL,`meeting_id` text NOT NULL,`sender` text NOT NULL,`sender_name` text NOT NULL DEFAULT "",`kind` text NOT NULL,`text` text NOT NULL DEFAULT "",`private` numeric NOT NULL DEFAULT false,`recipients` text NOT NULL DEFAULT "",`reply_to` text NOT NULL DEFAULT "",`client_id` text NOT NULL DEFAULT "",`attachment_id` text NOT NULL DEFAULT "",`created_at` datetime NOT NULL,`edited_at` datetime,`deleted` numeric NOT NULL DEFAULT false,`deleted_at` datetime,`deleted_by` text NOT NULL DEFAULT "",PRIMARY KEY (`id`));
CREATE TABLE IF NOT EXISTS `message_recipients` (`message_id` text,`identity` text,PRIMARY KEY (`message_id`,`identity`));
CREATE TABLE IF NOT EXISTS `reactions` (`message_id` text,`emoji` text,`identity` text,`created_at` datetime NOT NULL,PRIMARY KEY (`message_id`,`emoji`,`identity`));
CREATE TABLE IF NOT EXISTS `pins` (`message_id` text,`room` text NOT NULL,`pinned_by` text NOT NULL DEFAULT "",`pinned_at` datetime NOT NULL,PRIMARY KEY (`message_id`));
CREATE TABLE IF NOT EXISTS `read_horizons` (`room` text,`identity` text,`seq` integer NOT NULL,`updated_at` datetime NOT NULL,PRIMARY KEY (`room`,`identity`));
CREATE TABLE IF NOT EXISTS `attachments` (`id` text,`room` text NOT NULL,`uploader` text NOT NULL,`name` text NOT NULL DEFAULT "",`content_type` text NOT NULL,`size` integer NOT NULL,`hash` text NOT NULL,`image` numeric NOT NULL DEFAULT false,`width` integer NOT NULL DEFAULT 0,`height` integer NOT NULL DEFAULT 0,`created_at` datetime NOT NULL,PRIMARY KEY (`id`));
CREATE TABLE IF NOT EXISTS `webhook_outbox` (`id` text,`event_type` text NOT NULL,`payload` text NOT NULL,`endpoint` text NOT NULL DEFAULT "",`status` text NOT NULL DEFAULT "pending",`attempts` integer NOT NULL DEFAULT 0,`next_attempt_at` datetime NOT NULL,`last_error` text NOT NULL DEFAULT "",`created_at` datetime NOT NULL,`delivered_at` datetime,PRIMARY KEY (`id`));
CREATE TABLE IF NOT EXISTS `room_mutes` (`room` text,`identity` text,`muted_by` text NOT NULL DEFAULT "",`muted_at` datetime NOT NULL,PRIMARY KEY (`room`,`identity`));
CREATE TABLE IF NOT EXISTS `webhook_endpoints` (`id` text,`url` text NOT NULL DEFAULT "",`disabled` numeric NOT NULL DEFAULT false,`disabled_at` datetime,`disabled_reason` text NOT NULL DEFAULT "",`updated_at` datetime NOT NULL,PRIMARY KEY (`id`));
CREATE TABLE IF NOT EXISTS `webhook_attempts` (`id` text,`delivery_id` text NOT NULL,`webhook_id` text NOT NULL,`endpoint` text NOT NULL,`number` integer NOT NULL,`started_at` datetime NOT NULL,`duration_ms` integer NOT NULL DEFAULT 0,`status_code` integer NOT NULL DEFAULT 0,`result` text NOT NULL,`error` text NOT NULL DEFAULT "",PRIMARY KEY (`id`));
CREATE UNIQUE INDEX IF NOT EXISTS `idx_meetings_room` ON `meetings`(`room`);
CREATE INDEX IF NOT EXISTS `idx_sessions_room` ON `sessions`(`room`);
CREATE INDEX IF NOT EXISTS `idx_sessions_meeting` ON `sessions`(`meeting_id`);
CREATE INDEX IF NOT EXISTS `idx_messages_session_seq` ON `messages`(`session_id`,`seq`);
CREATE UNIQUE INDEX IF NOT EXISTS `idx_messages_room_seq` ON `messages`(`room`,`seq`);
CREATE INDEX IF NOT EXISTS `idx_pins_room` ON `pins`(`room`);
CREATE INDEX IF NOT EXISTS `idx_attachments_hash` ON `attachments`(`hash`);
CREATE INDEX IF NOT EXISTS `idx_attachments_room` ON `attachments`(`room`);
CREATE INDEX IF NOT EXISTS `idx_outbox_due` ON `webhook_outbox`(`status`,`next_attempt_at`);
CREATE UNIQUE INDEX IF NOT EXISTS idx_messages_client ON messages (room, sender, client_id) WHERE client_id <> '';
CREATE INDEX IF NOT EXISTS idx_sessions_open ON sessions (node, room) WHERE ended_at IS NULL;
CREATE INDEX IF NOT EXISTS idx_messages_attachment ON messages (attachment_id) WHERE attachment_id <> '';
CREATE INDEX IF NOT EXISTS `idx_webhook_attempts_delivery` ON `webhook_attempts`(`delivery_id`);
DROP INDEX IF EXISTS idx_messages_meeting_seq;

-- +goose Down
-- The baseline is not reversible: it would drop every table.
