package cluster

import (
	"context"
	"time"
)

// Drain hands this node's rooms over (SIGTERM): the node stops taking
// rooms and is marked draining so no other node places one here; chat
// stops in every room; the writes already queued are made durable; each
// lease is released (the next node takes the room at epoch+1 without
// waiting for the TTL); and only then are the participants told to
// reconnect, so that when they arrive anywhere the room is free to take.
func (n *Node) Drain(ctx context.Context) error {
	n.mu.Lock()
	n.draining = true // no join enters a held room any more (enterHeld)
	rooms := make(map[string]*lease, len(n.held))
	for r, l := range n.held {
		if !l.leaving {
			rooms[r] = l
		}
	}
	n.mu.Unlock()
	start := time.Now()
	if _, err := n.pool.Exec(ctx, `UPDATE cluster_nodes SET draining = true WHERE id = $1`, n.id); err != nil {
		n.log.Warn("cluster: could not mark the node draining", "err", err)
	}
	for r := range rooms {
		if f := n.cfg.Hooks.Stop; f != nil {
			f(r)
		}
	}
	// The leases still hold while the queued writes commit under them.
	var err error
	if f := n.cfg.Hooks.Flush; f != nil {
		err = f(ctx)
	}
	n.mu.Lock()
	for _, l := range rooms {
		l.leaving = true
	}
	n.mu.Unlock()
	for r, l := range rooms {
		if e := n.release(ctx, r, l.epoch); e != nil {
			// Its lease runs out within the TTL instead.
			n.log.Warn("cluster: releasing a lease on drain", "room", r, "err", e)
			if err == nil {
				err = e
			}
		}
	}
	for r, l := range rooms {
		if f := n.cfg.Hooks.Move; f != nil {
			f(r)
		}
		n.forget(r, l)
	}
	n.m.drained.Add(float64(len(rooms)))
	n.log.Info("cluster: node drained", "rooms", len(rooms), "took", time.Since(start).Round(time.Millisecond))
	return err
}

// Pause stops the lease loop until resume is called: the node neither
// renews nor notices lost leases, as if frozen, while everything else
// runs. It exists for fault-injection tests (a zombie host).
func (n *Node) Pause() (resume func()) {
	ch := make(chan struct{})
	n.mu.Lock()
	n.paused = ch
	n.mu.Unlock()
	return func() {
		n.mu.Lock()
		if n.paused == ch {
			n.paused = nil
		}
		n.mu.Unlock()
		close(ch)
	}
}

func (n *Node) waitPaused() {
	n.mu.Lock()
	ch := n.paused
	n.mu.Unlock()
	if ch == nil {
		return
	}
	select {
	case <-ch:
	case <-n.stop:
	}
}
