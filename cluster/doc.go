// Package cluster lets several Backchannel nodes share one PostgreSQL.
//
// PostgreSQL is the one place that decides which node hosts a room. Each
// node keeps a row in cluster_nodes with a heartbeat and its load; each
// live room has a row in room_leases naming its node, a fencing epoch and
// a lease expiry. Leases are taken, renewed and released by single
// conditional statements on the database's clock, never read-then-write,
// and taking a room from another node increments its epoch. The recorder
// checks the epoch inside every write transaction (recorder/fence.go), so
// a node that lost a room writes nothing about it, whatever it believes.
//
// A join that reaches a node not hosting its room is answered with the
// host's URL (signaling's `redirect`); a room hosted nowhere is placed on
// the less loaded of two random live nodes. A node that finds a lease
// gone stops serving the room and tells its participants to reconnect;
// a drained node (SIGTERM) releases its leases first, so the next node
// takes the rooms at once. See docs/cluster.md.
//
// The package knows nothing of chat or media: the app gives it hooks
// (Hooks) to stop serving a room and to ask whether one is still in use.
package cluster
