-- The cluster tables (see the PostgreSQL migration of the same number).
-- SQLite cannot be shared by several nodes, so they stay empty here; they
-- exist so that both schemas describe the same models.
-- +goose Up
CREATE TABLE IF NOT EXISTS cluster_nodes (
    id varchar(26) PRIMARY KEY,
    url varchar(1024) NOT NULL,
    secret_check varchar(64) NOT NULL,
    started_at datetime NOT NULL,
    heartbeat_at datetime NOT NULL,
    draining numeric NOT NULL DEFAULT false,
    participants integer NOT NULL DEFAULT 0,
    rooms integer NOT NULL DEFAULT 0,
    cpu real NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS idx_cluster_nodes_url ON cluster_nodes (url);
CREATE TABLE IF NOT EXISTS room_leases (
    room varchar(255) PRIMARY KEY,
    node_id varchar(26) NOT NULL,
    epoch integer NOT NULL,
    expires_at datetime NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_room_leases_node ON room_leases (node_id);
-- Open sessions, for the sweep of rooms a dead host left behind.
CREATE INDEX IF NOT EXISTS idx_sessions_open ON sessions (room) WHERE ended_at IS NULL;
ALTER TABLE messages ADD COLUMN epoch integer NOT NULL DEFAULT 0;

-- +goose Down
DROP INDEX IF EXISTS idx_sessions_open;
DROP TABLE IF EXISTS room_leases;
DROP TABLE IF EXISTS cluster_nodes;
