package cluster

import (
	"context"
	"net/url"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/backchannel-rtc/backchannel/internal/logsummary"
)

// loop renews the heartbeat and the leases every Renew, releases the
// leases of rooms no longer in use, and stops serving rooms whose lease
// is gone.
//
// The database being unreachable is not a lost lease: nobody can take a
// room meanwhile (taking needs the database too), so the node keeps its
// rooms live, with acks withheld by the recorder until the database is
// back. The first renewal that then succeeds keeps the rooms still held
// at this node's epoch and gives up the others; no write can land under
// a lost epoch in between, because every write transaction checks it.
func (n *Node) loop() {
	defer close(n.done)
	t := time.NewTicker(n.cfg.Renew)
	defer t.Stop()
	var fails logsummary.Summary
	for round := 1; ; round++ {
		var fenced string
		select {
		case <-n.stop:
			return
		case fenced = <-n.fenced:
		case <-t.C:
		}
		n.waitPaused()
		if fenced != "" {
			n.confirmLost(fenced)
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), n.cfg.Renew)
		err := n.tick(ctx)
		cancel()
		if err == nil && round%sweepEvery == 0 {
			ctx, cancel := context.WithTimeout(context.Background(), n.cfg.TTL)
			err = n.sweepOrphans(ctx)
			cancel()
		}
		now := time.Now()
		if err != nil {
			n.m.renewFailures.Inc()
			if ok, c := fails.Hit(now); ok {
				n.log.Warn("cluster: cannot renew leases, keeping the rooms live until the database answers",
					"failures", c, "err", err)
			}
			continue
		}
		if ok, d, c := fails.End(now); ok {
			n.log.Info("cluster: leases renewed again", "failures", c, "after", d.Round(time.Millisecond))
		}
	}
}

// tick is one round: heartbeat, renewals, releases.
func (n *Node) tick(ctx context.Context) error {
	ps, rs := 0, 0
	if f := n.cfg.Hooks.Load; f != nil {
		ps, rs = f()
	}
	tag, err := n.pool.Exec(ctx, `UPDATE cluster_nodes SET heartbeat_at = now(), participants = $2, rooms = $3, cpu = $4
		WHERE id = $1`, n.id, ps, rs, n.cpu.sample())
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		// Our row was removed (a day without heartbeat): put it back.
		if _, err := n.pool.Exec(ctx, `INSERT INTO cluster_nodes (id, url, secret_check, started_at, heartbeat_at, draining)
			VALUES ($1, $2, $3, now(), now(), $4) ON CONFLICT (id) DO NOTHING`,
			n.id, n.cfg.URL, secretCheck(n.cfg.APIKey, n.cfg.APISecret), n.isDraining()); err != nil {
			return err
		}
	}
	if err := n.renew(ctx); err != nil {
		return err
	}
	if err := n.refreshPeers(ctx); err != nil {
		return err
	}
	n.releaseIdle(ctx)
	return nil
}

// renew extends every held lease still at this node's epoch, in one
// statement; a room it does not return is lost.
func (n *Node) renew(ctx context.Context) error {
	held := n.Rooms()
	if len(held) == 0 {
		return nil
	}
	rooms := make([]string, 0, len(held))
	epochs := make([]int64, 0, len(held))
	for r, e := range held {
		rooms = append(rooms, r)
		epochs = append(epochs, e)
	}
	rows, err := n.pool.Query(ctx, `UPDATE room_leases l SET expires_at = now() + make_interval(secs => $4)
		FROM unnest($1::text[], $2::bigint[]) AS h(room, epoch)
		WHERE l.room = h.room AND l.epoch = h.epoch AND l.node_id = $3
		RETURNING l.room`, rooms, epochs, n.id, n.cfg.TTL.Seconds())
	if err != nil {
		return err
	}
	returned, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return err
	}
	kept := make(map[string]bool, len(returned))
	for _, r := range returned {
		kept[r] = true
	}
	n.m.renewals.Add(float64(len(kept)))
	for r, e := range held {
		if !kept[r] {
			n.lose(r, e, "lease lost")
		}
	}
	return nil
}

// confirmLost handles a room the recorder found fenced: the database has
// already said so, inside a write transaction.
func (n *Node) confirmLost(room string) {
	n.mu.Lock()
	l := n.held[room]
	n.mu.Unlock()
	if l != nil {
		n.lose(room, l.epoch, "a write found the lease gone")
	}
}

// lose stops serving room (lost at epoch): chat stops at once, the
// participants are told to reconnect, and the entry goes once both are
// done, so a new tenure never sees the old one's state.
func (n *Node) lose(room string, epoch int64, why string) {
	n.mu.Lock()
	l := n.held[room]
	if l == nil || l.epoch != epoch || l.leaving {
		n.mu.Unlock()
		return
	}
	l.leaving = true
	n.mu.Unlock()
	n.m.lost.Inc()
	n.log.Warn("cluster: room lost, its participants reconnect to its new node", "room", room, "epoch", epoch, "why", why)
	n.bg.Add(1)
	go func() {
		defer n.bg.Done()
		if f := n.cfg.Hooks.Stop; f != nil {
			f(room)
		}
		if f := n.cfg.Hooks.Move; f != nil {
			f(room)
		}
		n.forget(room, l)
	}()
}

func (n *Node) forget(room string, l *lease) {
	n.mu.Lock()
	if n.held[room] == l {
		delete(n.held, room)
	}
	n.m.rooms.Set(float64(len(n.held)))
	n.mu.Unlock()
}

// releaseIdle gives up the leases of rooms nothing on this node uses any
// more (the meeting ended here): the next join anywhere takes the room.
func (n *Node) releaseIdle(ctx context.Context) {
	var idle []string
	n.mu.Lock()
	for r, l := range n.held {
		if l.refs == 0 && !l.leaving {
			idle = append(idle, r)
		}
	}
	n.mu.Unlock()
	for _, r := range idle {
		if f := n.cfg.Hooks.InUse; f != nil && f(r) {
			continue
		}
		n.mu.Lock()
		l := n.held[r]
		if l == nil || l.refs > 0 || l.leaving {
			n.mu.Unlock()
			continue
		}
		l.leaving = true
		n.mu.Unlock()
		if err := n.release(ctx, r, l.epoch); err != nil {
			n.log.Warn("cluster: releasing an idle room's lease", "room", r, "err", err)
			n.mu.Lock()
			l.leaving = false
			n.mu.Unlock()
			continue
		}
		n.log.Debug("cluster: idle room released", "room", r, "epoch", l.epoch)
		n.forget(r, l)
	}
}

// release ends this node's lease on room at epoch now, so that the next
// node takes it without waiting for the TTL.
func (n *Node) release(ctx context.Context, room string, epoch int64) error {
	_, err := n.pool.Exec(ctx, `UPDATE room_leases SET expires_at = now() - interval '1 millisecond'
		WHERE room = $1 AND node_id = $2 AND epoch = $3`, room, n.id, epoch)
	return err
}

func (n *Node) isDraining() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.draining
}

// refreshPeers keeps the live nodes' URLs, for IsPeerOrigin.
func (n *Node) refreshPeers(ctx context.Context) error {
	rows, err := n.pool.Query(ctx, `SELECT url FROM cluster_nodes
		WHERE heartbeat_at > now() - make_interval(secs => $1)`, n.cfg.TTL.Seconds())
	if err != nil {
		return err
	}
	urls, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return err
	}
	var hosts []string
	for _, u := range urls {
		if pu, err := url.Parse(u); err == nil {
			hosts = append(hosts, pu.Host)
		}
	}
	n.mu.Lock()
	n.peers = hosts
	n.mu.Unlock()
	return nil
}

// IsPeerOrigin reports whether a browser Origin is a page served by a
// live node of the cluster (a client redirected from that node's page).
func (n *Node) IsPeerOrigin(origin string) bool {
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.Contains(n.peers, u.Host)
}
