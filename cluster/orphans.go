package cluster

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// Rooms left behind: when a host dies and nobody comes back to its
// rooms, nothing takes them over, and their meeting sessions would stay
// open for ever (no meeting.ended, no chat replay webhook). Every node
// looks for such sessions now and then: an open session whose room's
// lease ran out more than OrphanAfter ago (or that has no lease at all,
// as after a crash of a single node that became a cluster). It takes the
// lease, as a join would, so that it is the room's one writer; closes the
// session at its last recorded activity with its webhooks
// (Hooks.CloseOrphan); and releases the lease. A join arriving meanwhile
// waits, then opens a new session.

// sweepEvery is how many renewal rounds pass between two sweeps.
const sweepEvery = 5

func (n *Node) sweepOrphans(ctx context.Context) error {
	if n.cfg.Hooks.CloseOrphan == nil || n.isDraining() {
		return nil
	}
	rows, err := n.pool.Query(ctx, `SELECT DISTINCT s.room FROM sessions s
		LEFT JOIN room_leases l ON l.room = s.room
		WHERE s.ended_at IS NULL AND (l.room IS NULL OR l.expires_at < now() - make_interval(secs => $1))
		LIMIT 20`, n.cfg.OrphanAfter.Seconds())
	if err != nil {
		return err
	}
	rooms, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return err
	}
	for _, room := range rooms {
		if n.holds(room) {
			continue
		}
		epoch, ok, err := n.acquire(ctx, room, n.id)
		if err != nil || !ok {
			continue // someone took it: the room is live again
		}
		l := &lease{epoch: epoch, leaving: true} // joins wait until it is released
		n.mu.Lock()
		n.held[room] = l
		n.mu.Unlock()
		closed, err := n.cfg.Hooks.CloseOrphan(ctx, room, epoch)
		if err != nil {
			n.log.Warn("cluster: closing a room left behind", "room", room, "err", err)
		} else if closed {
			n.m.orphans.Inc()
			n.log.Info("cluster: ended the meeting of a room its host left behind", "room", room, "epoch", epoch)
		}
		rctx, cancel := context.WithTimeout(context.Background(), time.Second)
		if err := n.release(rctx, room, epoch); err != nil {
			n.log.Warn("cluster: releasing a swept room", "room", room, "err", err)
		}
		cancel()
		n.forget(room, l)
	}
	return nil
}
