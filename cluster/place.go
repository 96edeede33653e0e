package cluster

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
)

// Ticket is the answer to a join: either this node hosts the room (the
// caller calls Release once the participant is gone), or Redirect is the
// URL of the node that does.
type Ticket struct {
	Redirect string
	release  func()
}

// Release says the participant that entered has gone.
func (t Ticket) Release() {
	if t.release != nil {
		t.release()
	}
}

// ErrUnsettled is returned when placement did not settle in a few rounds
// (rooms changing hands continuously): the client should retry.
var ErrUnsettled = errors.New("cluster: the room's placement did not settle; retry")

// ErrDraining is returned by Enter on a draining node when no other node
// is live to take the room.
var ErrDraining = errors.New("cluster: this node is shutting down and no other node is live")

// Enter decides where a participant of room goes: here (the node then
// holds the room's lease until the participant and the room's chat are
// gone), or to the node Redirect names. A room hosted nowhere is placed
// with the power of two choices; racing joins are settled by the lease
// statement. A room whose host died is taken once its lease has run out:
// Enter waits for that (at most the TTL), bounded by ctx.
func (n *Node) Enter(ctx context.Context, room string) (Ticket, error) {
	for round := 0; round < 8; round++ {
		if t, ok := n.enterHeld(room); ok {
			return t, nil
		}
		if n.leavingHere(room) {
			if err := sleep(ctx, 50*time.Millisecond); err != nil {
				return Ticket{}, err
			}
			round--
			continue
		}
		st, err := n.lookup(ctx, room)
		if err != nil {
			return Ticket{}, err
		}
		switch {
		case st.live && st.node == n.id:
			if n.isDraining() {
				// Held here while the drain commits what is queued,
				// or placed here just before the drain: the drain
				// releases what it holds; a placement is released here.
				if !n.holds(room) {
					if err := n.release(ctx, room, st.epoch); err != nil {
						return Ticket{}, err
					}
				} else if err := sleep(ctx, 50*time.Millisecond); err != nil {
					return Ticket{}, err
				}
				continue
			}
			// Placed here by another node's Enter: claim it.
			if ok, err := n.adopt(ctx, room, st.epoch); err != nil {
				return Ticket{}, err
			} else if ok {
				return n.hold(room, st.epoch), nil
			}
		case st.live && st.nodeAlive && !st.nodeDraining:
			n.m.redirects.Inc()
			return Ticket{Redirect: st.url}, nil
		case st.live:
			// The host is dead, silent or leaving but its lease still
			// runs: a frozen host could still be writing until it runs
			// out. Look again at least every second: a host that answers
			// again is redirected to.
			wait := min(st.remaining+50*time.Millisecond, time.Second)
			if err := sleep(ctx, wait); err != nil {
				return Ticket{}, fmt.Errorf("cluster: room %s is still leased to a node that stopped answering: %w", room, err)
			}
			round--
		default:
			target, err := n.choose(ctx)
			if err != nil {
				return Ticket{}, err
			}
			epoch, ok, err := n.acquire(ctx, room, target.id)
			if err != nil {
				return Ticket{}, err
			}
			if !ok {
				continue // another join placed it first: look again
			}
			if epoch > 1 {
				n.m.takeovers.Inc()
				n.log.Info("cluster: room taken", "room", room, "epoch", epoch, "for", target.url)
			}
			if target.id == n.id {
				return n.hold(room, epoch), nil
			}
			n.m.redirects.Inc()
			return Ticket{Redirect: target.url}, nil
		}
	}
	return Ticket{}, ErrUnsettled
}

// enterHeld counts one more participant of a room this node hosts.
func (n *Node) enterHeld(room string) (Ticket, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	l := n.held[room]
	if l == nil || l.leaving || n.draining {
		return Ticket{}, false
	}
	l.refs++
	return n.ticket(room, l), true
}

func (n *Node) holds(room string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.held[room] != nil
}

func (n *Node) leavingHere(room string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	l := n.held[room]
	return l != nil && l.leaving
}

// hold records a lease this node has just taken, with one participant.
func (n *Node) hold(room string, epoch int64) Ticket {
	n.mu.Lock()
	defer n.mu.Unlock()
	l := &lease{epoch: epoch, refs: 1}
	n.held[room] = l
	n.m.rooms.Set(float64(len(n.held)))
	return n.ticket(room, l)
}

func (n *Node) ticket(room string, l *lease) Ticket {
	done := false
	return Ticket{release: func() {
		n.mu.Lock()
		defer n.mu.Unlock()
		if !done {
			done = true
			l.refs--
		}
	}}
}

type roomLease struct {
	node, url               string
	epoch                   int64
	live                    bool
	nodeAlive, nodeDraining bool
	remaining               time.Duration
}

func (n *Node) lookup(ctx context.Context, room string) (roomLease, error) {
	var st roomLease
	var url *string
	var alive, draining *bool
	var ms float64
	err := n.pool.QueryRow(ctx, `SELECT l.node_id, l.epoch, l.expires_at > now(),
			extract(epoch FROM l.expires_at - now()) * 1000, n.url,
			n.heartbeat_at > now() - make_interval(secs => $2), n.draining
		FROM room_leases l LEFT JOIN cluster_nodes n ON n.id = l.node_id
		WHERE l.room = $1`, room, n.answering().Seconds()).
		Scan(&st.node, &st.epoch, &st.live, &ms, &url, &alive, &draining)
	if errors.Is(err, pgx.ErrNoRows) {
		return roomLease{}, nil
	}
	if err != nil {
		return roomLease{}, err
	}
	st.remaining = time.Duration(ms * float64(time.Millisecond))
	if url != nil {
		st.url = *url
	}
	st.nodeAlive = alive != nil && *alive
	st.nodeDraining = draining != nil && *draining
	return st, nil
}

// answering is how recent a host's heartbeat must be for a join to be
// sent to it: two and a half renewals (every node renews as often, the
// same flags everywhere). A host that missed more is probably dead: the
// join waits for its lease to run out rather than bounce off a node that
// refuses connections, with the client backing off meanwhile.
func (n *Node) answering() time.Duration {
	return max(n.cfg.Renew*5/2, time.Second)
}

// acquire takes room's lease for node if nobody holds it: one statement,
// on the database's clock. A room leased before gets the next epoch.
func (n *Node) acquire(ctx context.Context, room, node string) (int64, bool, error) {
	var epoch int64
	err := n.pool.QueryRow(ctx, `INSERT INTO room_leases AS l (room, node_id, epoch, expires_at)
		VALUES ($1, $2, 1, now() + make_interval(secs => $3))
		ON CONFLICT (room) DO UPDATE SET node_id = excluded.node_id, epoch = l.epoch + 1, expires_at = excluded.expires_at
		WHERE l.expires_at <= now()
		RETURNING epoch`, room, node, n.cfg.TTL.Seconds()).Scan(&epoch)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	return epoch, true, nil
}

// adopt claims a lease another node took for this one (placement),
// renewing it at the same epoch.
func (n *Node) adopt(ctx context.Context, room string, epoch int64) (bool, error) {
	tag, err := n.pool.Exec(ctx, `UPDATE room_leases SET expires_at = now() + make_interval(secs => $4)
		WHERE room = $1 AND node_id = $2 AND epoch = $3 AND expires_at > now()`, room, n.id, epoch, n.cfg.TTL.Seconds())
	if err != nil {
		return false, err
	}
	return tag.RowsAffected() == 1, nil
}

type candidate struct {
	id, url      string
	participants int
	rooms        int
}

// choose picks the node for a new room: the less loaded of two random
// live nodes that are not draining, this node when loads are equal.
func (n *Node) choose(ctx context.Context) (candidate, error) {
	rows, err := n.pool.Query(ctx, `SELECT id, url, participants, rooms FROM cluster_nodes
		WHERE heartbeat_at > now() - make_interval(secs => $1) AND NOT draining`, n.cfg.TTL.Seconds())
	if err != nil {
		return candidate{}, err
	}
	live, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (candidate, error) {
		var c candidate
		err := row.Scan(&c.id, &c.url, &c.participants, &c.rooms)
		return c, err
	})
	if err != nil {
		return candidate{}, err
	}
	if len(live) == 0 {
		if n.isDraining() {
			return candidate{}, ErrDraining
		}
		// Our own heartbeat may be late (a slow database): we are alive.
		return candidate{id: n.id, url: n.cfg.URL}, nil
	}
	var self *candidate
	if n.isDraining() {
		// Our row may not say so yet.
		live = slices.DeleteFunc(live, func(c candidate) bool { return c.id == n.id })
		if len(live) == 0 {
			return candidate{}, ErrDraining
		}
	}
	for i := range live {
		if live[i].id == n.id {
			self = &live[i]
		}
	}
	i := rand.IntN(len(live))
	best := live[i]
	if len(live) > 1 {
		j := rand.IntN(len(live) - 1)
		if j >= i {
			j++
		}
		best = lighter(best, live[j])
	}
	// The join is already here: stay unless this node is busier.
	if self != nil && load(*self) <= load(best) {
		return *self, nil
	}
	return best, nil
}

func load(c candidate) int { return c.participants*4 + c.rooms }

// lighter is the less loaded of a and b (a on a tie).
func lighter(a, b candidate) candidate {
	if load(b) < load(a) {
		return b
	}
	return a
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Place implements signaling.Placer.
func (n *Node) Place(ctx context.Context, room string) (string, func(), error) {
	t, err := n.Enter(ctx, room)
	if err != nil {
		return "", nil, err
	}
	if t.Redirect != "" {
		return t.Redirect, nil, nil
	}
	return "", t.Release, nil
}
