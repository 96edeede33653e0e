-- The cluster (package cluster): a node registry, one lease per live room,
-- and the fencing epoch each message was written under.
--
-- cluster_nodes: one row per running node process (id is per process, so a
-- restarted node is a new row); heartbeat_at on the database's clock says
-- it is alive. room_leases: the node that may write about a room, until
-- expires_at, at epoch; taking a room from another node increments the
-- epoch, and every write transaction checks (node, epoch) under a share
-- lock (recorder/fence.go). messages.epoch is 0 on a single node.
-- +goose Up
CREATE TABLE IF NOT EXISTS cluster_nodes (
    id varchar(26) PRIMARY KEY,
    url varchar(1024) NOT NULL,
    secret_check varchar(64) NOT NULL,
    started_at timestamptz NOT NULL,
    heartbeat_at timestamptz NOT NULL,
    draining boolean NOT NULL DEFAULT false,
    participants integer NOT NULL DEFAULT 0,
    rooms integer NOT NULL DEFAULT 0,
    cpu double precision NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS idx_cluster_nodes_url ON cluster_nodes (url);
CREATE TABLE IF NOT EXISTS room_leases (
    room varchar(255) PRIMARY KEY,
    node_id varchar(26) NOT NULL,
    epoch bigint NOT NULL CHECK (epoch > 0),
    expires_at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_room_leases_node ON room_leases (node_id);
-- Open sessions, for the sweep of rooms a dead host left behind.
CREATE INDEX IF NOT EXISTS idx_sessions_open ON sessions (room) WHERE ended_at IS NULL;
ALTER TABLE messages ADD COLUMN IF NOT EXISTS epoch bigint NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE messages DROP COLUMN IF EXISTS epoch;
DROP INDEX IF EXISTS idx_sessions_open;
DROP TABLE IF EXISTS room_leases;
DROP TABLE IF EXISTS cluster_nodes;
