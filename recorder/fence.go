package recorder

// Fencing: on a cluster node (package cluster), a room's changes may be
// written only while this node holds the room's lease, at the epoch it
// took it with. The check runs inside the transaction that writes them:
// the lease rows of the batch's rooms are read with a share lock, so a
// takeover (an UPDATE of the row, which increments the epoch) waits for
// the transaction to end, and a transaction that starts after the takeover
// sees the new epoch and writes nothing for that room. Whatever this node
// believes, a node that lost a room (paused, partitioned, killed and
// restarted) cannot write about it: the database decides.
//
// The changes of a fenced room fail with ErrFenced, which is temporary
// for their senders (they resend on the room's new node, where clientId
// makes the resend idempotent); the rest of the batch is written.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Leases is what the cluster node tells the writer about the rooms it
// hosts. Nil (a single node) writes without fencing.
type Leases interface {
	// NodeID is this node's id in room_leases.
	NodeID() string
	// Epoch is the epoch at which this node holds room's lease; false
	// when it does not hold it.
	Epoch(room string) (int64, bool)
	// Fenced tells the node that a write found room's lease gone or at
	// another epoch: it stops serving the room now, without waiting for
	// its next renewal. It must not block.
	Fenced(room string)
}

// ErrFenced is what done reports for a change about a room this node no
// longer hosts. It is temporary: the room's new node accepts a resend.
var ErrFenced = errors.New("recorder: this node no longer hosts the room; reconnect")

// fencedError lists the rooms a transaction found fenced.
type fencedError struct{ rooms []string }

func (e *fencedError) Error() string {
	return fmt.Sprintf("recorder: fenced rooms %s", strings.Join(e.rooms, ", "))
}

// epochs records, for the plan, the epoch of every room in items (0 for
// a room not held: the check in the transaction then fences it).
func (w *writer) epochs(p *plan, items []item) {
	l := w.r.cfg.Leases
	if l == nil {
		return
	}
	p.epochs = map[string]int64{}
	for _, it := range items {
		if it.c.Room == "" {
			continue
		}
		if _, ok := p.epochs[it.c.Room]; !ok {
			e, _ := l.Epoch(it.c.Room)
			p.epochs[it.c.Room] = e
		}
	}
}

// unfenced finishes at once the items about rooms this node no longer
// holds and returns the others.
func (w *writer) unfenced(items []item) []item {
	l := w.r.cfg.Leases
	if l == nil {
		return items
	}
	keep := items[:0:0]
	for _, it := range items {
		if it.c.Room != "" {
			if _, ok := l.Epoch(it.c.Room); !ok {
				w.fence(it)
				continue
			}
		}
		keep = append(keep, it)
	}
	return keep
}

func (w *writer) fence(it item) {
	w.stats.update(func(s *WriterStats) { s.Failed++; s.Fenced++ })
	it.finish(ErrFenced)
}

// checkFence is the first statement of a write transaction on a cluster
// node: every room of the plan must be held by this node at the plan's
// epoch, and stays so until the transaction ends (FOR SHARE).
func (w *writer) checkFence(tx *gorm.DB, p *plan) error {
	if w.r.cfg.Leases == nil || len(p.epochs) == 0 {
		return nil
	}
	rooms := make([]string, 0, len(p.epochs))
	for r := range p.epochs {
		rooms = append(rooms, r)
	}
	sort.Strings(rooms) // one lock order for every transaction
	var held []RoomLease
	q := tx.Select("room", "epoch").Where("node_id = ? AND room IN ?", w.r.cfg.Leases.NodeID(), rooms).Order("room")
	if tx.Dialector.Name() == "postgres" {
		q = q.Clauses(clause.Locking{Strength: "SHARE"})
	}
	if err := q.Find(&held).Error; err != nil {
		return err
	}
	var lost []string
	for _, r := range rooms {
		i := slices.IndexFunc(held, func(l RoomLease) bool { return l.Room == r })
		if i < 0 || held[i].Epoch != p.epochs[r] || p.epochs[r] == 0 {
			lost = append(lost, r)
		}
	}
	if len(lost) > 0 {
		return &fencedError{rooms: lost}
	}
	return nil
}

// fenced finishes the items about the rooms of fe with ErrFenced, forgets
// what the writer knew of those rooms (a later tenure reloads them), tells
// the node, and returns the other items.
func (w *writer) fenced(items []item, fe *fencedError) []item {
	keep := items[:0:0]
	for _, it := range items {
		if it.c.Room != "" && slices.Contains(fe.rooms, it.c.Room) {
			w.fence(it)
			continue
		}
		keep = append(keep, it)
	}
	for _, r := range fe.rooms {
		delete(w.rooms, r)
		w.r.cfg.Leases.Fenced(r)
	}
	w.r.log.Warn("recorder: changes refused, this node no longer hosts the rooms", "rooms", fe.rooms)
	return keep
}

// CloseOrphan ends the open session of a room whose host died and which
// nobody has used since (a cluster node's sweep, package cluster): at its
// last recorded activity, as a single node does at start-up after a
// crash, with its webhooks. The caller holds the room's lease at epoch;
// the transaction checks it, so a room someone took meanwhile is left
// alone (ErrFenced). It reports whether a session was closed.
func (r *Recorder) CloseOrphan(ctx context.Context, room string, epoch int64) (bool, error) {
	if r.cfg.Leases == nil {
		return false, fmt.Errorf("%w: CloseOrphan is for cluster nodes", ErrConfig)
	}
	var closed []Session
	var events []OutboxEvent
	err := r.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var held []RoomLease
		if err := tx.Clauses(clause.Locking{Strength: "SHARE"}).
			Where("room = ? AND node_id = ? AND epoch = ?", room, r.cfg.Leases.NodeID(), epoch).
			Find(&held).Error; err != nil {
			return err
		}
		if len(held) == 0 {
			return ErrFenced
		}
		var open []Session
		if err := tx.Where("room = ? AND ended_at IS NULL", room).Order("id").Find(&open).Error; err != nil {
			return err
		}
		for i := range open {
			if _, err := closeStale(tx, &open[i]); err != nil {
				return err
			}
		}
		if ob := r.cfg.Outbox; ob != nil && len(open) > 0 {
			rows, err := ob.Events(tx, &Batch{Ended: open})
			if err != nil {
				return err
			}
			if len(rows) > 0 {
				if err := tx.Create(&rows).Error; err != nil {
					return err
				}
			}
			events = rows
		}
		closed = open
		return nil
	})
	if err != nil {
		return false, err
	}
	if len(events) > 0 {
		r.cfg.Outbox.Committed(events)
	}
	for _, s := range closed {
		r.log.Info("recorder: closed the session of a room its host left behind", "session", s.ID, "room", room, "ended_at", s.EndedAt)
	}
	return len(closed) > 0, nil
}
