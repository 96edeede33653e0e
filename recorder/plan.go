package recorder

// Turning a batch of chat changes into rows. plan runs on the writer
// goroutine against a copy of the rooms' presence state; apply writes the
// plan in one transaction; adopt makes the copy current once it committed.
// A plan is computed once and replayed unchanged on transient retries, so
// the ids it generated (sessions, meetings) stay the same and every
// statement is idempotent.
//
// Sessions come from joins and leaves: a join while nobody is present
// opens one; the room staying empty for chat's departure timeout
// (ChangeEnd) closes it, and a join before that continues it. A session found
// open in the database that this process has not seen live (left by a
// crash of another process or a skipped recovery) is closed at its last
// activity by the next join, which opens a fresh one; a message arriving
// with no session open opens one without a join.

import (
	"database/sql"
	"fmt"
	"time"

	"github.com/oklog/ulid/v2"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/backchannel-rtc/backchannel/chat"
)

type plan struct {
	rooms        map[string]*roomState
	meetings     []Meeting
	sessions     []Session
	stale        []*Session
	ends         []*Session
	participants []*Participant
	pidx         map[[2]string]*Participant
	messages     []MessageRow
	midx         map[string]int
	recipients   []MessageRecipient
	updates      []*msgUpdate
	uidx         map[string]*msgUpdate
	reactions    []*reactionOp
	ridx         map[[3]string]*reactionOp
	pins         []*pinOp
	pinidx       map[string]*pinOp
	reads        []*ReadHorizon
	readidx      map[[2]string]*ReadHorizon
	mutes        []*muteOp
	muteidx      map[[2]string]*muteOp
	batch        Batch
	// replay: an attempt to apply the plan has failed, so some of it may
	// be stored already (a commit whose outcome was unknown). Only the
	// first attempt may use statements without ON CONFLICT (bulk.go).
	replay bool
	// outbox are the rows the Outbox returned for the last attempt.
	outbox []OutboxEvent
	// epochs are the lease epochs the plan writes under, by room (a
	// cluster node only: fence.go).
	epochs map[string]int64
}

// room returns the plan's copy of a room's state, loading it from the
// database the first time this process sees the room.
func (w *writer) room(p *plan, name string) (*roomState, error) {
	if s, ok := p.rooms[name]; ok {
		return s, nil
	}
	if s, ok := w.rooms[name]; ok && s.epoch == p.epochs[name] {
		c := s.clone()
		p.rooms[name] = c
		return c, nil
	}
	db := w.r.db.WithContext(w.ctx)
	// A room this node (re)takes is loaded again: another node may have
	// written about it since (fence.go).
	s := &roomState{present: map[string]int{}, epoch: p.epochs[name]}
	var m Meeting
	if err := db.Where("room = ?", name).Limit(1).Find(&m).Error; err != nil {
		return nil, err
	}
	if m.ID == "" {
		m = Meeting{ID: ulid.Make().String(), Room: name, CreatedAt: time.Now().UTC()}
		p.meetings = append(p.meetings, m)
	}
	s.meetingID = m.ID
	var open Session
	if err := db.Where("room = ? AND ended_at IS NULL", name).Order("id DESC").Limit(1).Find(&open).Error; err != nil {
		return nil, err
	}
	if open.ID != "" {
		// On a single node an open session this process did not see live
		// was left by a crash: the next join closes it. On a cluster node
		// it is the session of a room taken over from another node (dead
		// or drained): the meeting goes on in it.
		s.session, s.stale = &open, w.r.cfg.Leases == nil
	}
	p.rooms[name] = s
	return s, nil
}

func (w *writer) openSession(p *plan, s *roomState, room string, at time.Time) {
	sess := Session{ID: ulid.Make().String(), MeetingID: s.meetingID, Room: room, Node: w.r.cfg.Node, StartedAt: at}
	p.sessions = append(p.sessions, sess)
	p.batch.Started = append(p.batch.Started, sess)
	s.session, s.stale = &sess, false
}

func (p *plan) participant(sessionID, identity string) *Participant {
	return p.pidx[[2]string{sessionID, identity}]
}

func (w *writer) plan(items []item) (*plan, error) {
	p := &plan{
		rooms:   map[string]*roomState{},
		pidx:    map[[2]string]*Participant{},
		midx:    map[string]int{},
		uidx:    map[string]*msgUpdate{},
		ridx:    map[[3]string]*reactionOp{},
		pinidx:  map[string]*pinOp{},
		readidx: map[[2]string]*ReadHorizon{},
		muteidx: map[[2]string]*muteOp{},
	}
	w.epochs(p, items)
	for _, it := range items {
		c := it.c
		if c.Kind == 0 { // Flush marker
			continue
		}
		s, err := w.room(p, c.Room)
		if err != nil {
			return nil, err
		}
		at := c.At.UTC()
		if at.IsZero() {
			at = time.Now().UTC()
		}
		switch c.Kind {
		case chat.ChangeJoin:
			if s.count == 0 && s.session != nil && s.stale {
				p.stale = append(p.stale, s.session)
				s.session = nil
			}
			if s.session == nil {
				w.openSession(p, s, c.Room, at)
			}
			s.present[c.Identity]++
			s.count++
			if s.present[c.Identity] == 1 {
				if pt := p.participant(s.session.ID, c.Identity); pt != nil {
					pt.LeftAt, pt.Name = nil, c.Name
				} else {
					pt = &Participant{SessionID: s.session.ID, Identity: c.Identity, Name: c.Name, JoinedAt: at}
					p.participants = append(p.participants, pt)
					p.pidx[[2]string{pt.SessionID, pt.Identity}] = pt
				}
			}
		case chat.ChangeLeave:
			if s.present[c.Identity] == 0 || s.session == nil {
				break // a leave we never saw join (e.g. from before a restart)
			}
			s.present[c.Identity]--
			s.count--
			if s.present[c.Identity] == 0 {
				delete(s.present, c.Identity)
				pt := p.participant(s.session.ID, c.Identity)
				if pt == nil {
					pt = &Participant{SessionID: s.session.ID, Identity: c.Identity, Name: c.Name, JoinedAt: at}
					p.participants = append(p.participants, pt)
					p.pidx[[2]string{pt.SessionID, pt.Identity}] = pt
				}
				left := at
				pt.LeftAt = &left
			}
		case chat.ChangeEnd:
			// The room stayed empty for chat's departure timeout: only now
			// does its session end, so that a participant who drops and
			// comes back within it continues the same session.
			if s.count > 0 || s.session == nil || s.stale {
				break // someone is present, or nothing of ours is open
			}
			// Recorded before the session is forgotten, for the batch info.
			p.batch.Changes = append(p.batch.Changes, c)
			p.batch.SessionIDs = append(p.batch.SessionIDs, s.session.ID)
			p.batch.MeetingIDs = append(p.batch.MeetingIDs, s.meetingID)
			end := at
			s.session.EndedAt, s.session.EndReason = &end, "left"
			p.ends = append(p.ends, s.session)
			s.session = nil
			continue
		case chat.ChangeMessage:
			if c.Message == nil {
				return nil, fmt.Errorf("recorder: message change without a message")
			}
			if s.session == nil {
				w.openSession(p, s, c.Room, at)
			}
			p.addMessage(c.Room, s, c.Message)
		case chat.ChangeEdit, chat.ChangeDelete:
			p.editMessage(c, at)
		case chat.ChangeReaction:
			r := Reaction{MessageID: c.MessageID, Emoji: c.Emoji, Identity: c.Identity, CreatedAt: at}
			k := [3]string{r.MessageID, r.Emoji, r.Identity}
			if op := p.ridx[k]; op != nil {
				op.on = c.On
			} else {
				op = &reactionOp{r: r, on: c.On}
				p.reactions = append(p.reactions, op)
				p.ridx[k] = op
			}
		case chat.ChangePin:
			pin := Pin{MessageID: c.MessageID, Room: c.Room, PinnedBy: c.Identity, PinnedAt: at}
			if op := p.pinidx[c.MessageID]; op != nil {
				op.p, op.on = pin, c.On
			} else {
				op = &pinOp{p: pin, on: c.On}
				p.pins = append(p.pins, op)
				p.pinidx[c.MessageID] = op
			}
		case chat.ChangeRead:
			k := [2]string{c.Room, c.Identity}
			if h := p.readidx[k]; h != nil {
				h.Seq, h.UpdatedAt = max(h.Seq, c.Seq), at
			} else {
				h = &ReadHorizon{Room: c.Room, Identity: c.Identity, Seq: c.Seq, UpdatedAt: at}
				p.reads = append(p.reads, h)
				p.readidx[k] = h
			}
		case chat.ChangeMute:
			m := RoomMute{Room: c.Room, Identity: c.Identity, MutedBy: c.By, MutedAt: at}
			k := [2]string{c.Room, c.Identity}
			if op := p.muteidx[k]; op != nil {
				op.m, op.on = m, c.On // the last of a batch wins
			} else {
				op = &muteOp{m: m, on: c.On}
				p.mutes = append(p.mutes, op)
				p.muteidx[k] = op
			}
		default:
			return nil, fmt.Errorf("recorder: unknown change kind %d", c.Kind)
		}
		p.batch.Changes = append(p.batch.Changes, c)
		sid := ""
		if s.session != nil {
			sid = s.session.ID
		}
		p.batch.SessionIDs = append(p.batch.SessionIDs, sid)
		p.batch.MeetingIDs = append(p.batch.MeetingIDs, s.meetingID)
	}
	return p, nil
}

// chunk is the most rows in one multi-row INSERT (kept under SQLite's
// 32766 and PostgreSQL's 65535 bind parameters).
const chunk = 1000

// apply writes the plan in one transaction, then tells the Outbox about
// the rows that transaction committed (never before: delivery must not
// look for rows that are not visible yet).
func (w *writer) apply(p *plan) error {
	p.outbox = nil
	if err := w.applyCommit(p); err != nil {
		return err
	}
	if len(p.outbox) > 0 {
		w.r.cfg.Outbox.Committed(p.outbox)
		p.outbox = nil
	}
	return nil
}

func (w *writer) applyCommit(p *plan) error {
	db := w.r.db.WithContext(w.ctx)
	if db.Dialector.Name() != "postgres" {
		return db.Transaction(func(tx *gorm.DB) error { return w.applyTx(tx, nil, p) })
	}
	// A connection of its own, so that COPY (bulk.go) can reach pgx under
	// the transaction.
	return db.Connection(func(c *gorm.DB) error {
		conn, _ := c.Statement.ConnPool.(*sql.Conn)
		return c.Transaction(func(tx *gorm.DB) error { return w.applyTx(tx, conn, p) })
	})
}

// applyTx writes the plan in tx; conn is tx's connection, if known.
func (w *writer) applyTx(tx *gorm.DB, conn *sql.Conn, p *plan) error {
	if err := w.checkFence(tx, p); err != nil {
		return err
	}
	nothing := clause.OnConflict{DoNothing: true}
	if len(p.meetings) > 0 {
		if err := tx.Clauses(nothing).Create(&p.meetings).Error; err != nil {
			return err
		}
	}
	if len(p.sessions) > 0 {
		if err := tx.Clauses(nothing).Create(&p.sessions).Error; err != nil {
			return err
		}
	}
	if len(p.messages) > 0 {
		if err := w.insertMessages(tx, conn, p.messages, p.replay); err != nil {
			return err
		}
	}
	if len(p.recipients) > 0 {
		if err := w.insertRecipients(tx, p.recipients); err != nil {
			return err
		}
	}
	for _, u := range p.updates {
		q := tx.Model(&MessageRow{}).Where("id = ? AND room = ? AND deleted = ?", u.id, u.room, false)
		var err error
		if u.deleted {
			err = q.Updates(map[string]any{"text": "", "attachment_id": "", "deleted": true,
				"deleted_at": u.deletedAt, "deleted_by": u.deletedBy, "e2ee": nil}).Error
		} else {
			set := map[string]any{"text": *u.text, "edited_at": *u.editedAt}
			if u.e2ee != nil {
				set["e2ee"] = *u.e2ee
			}
			err = q.Updates(set).Error
		}
		if err != nil {
			return err
		}
	}
	var adds []Reaction
	for _, op := range p.reactions {
		if op.on {
			adds = append(adds, op.r)
		} else if err := tx.Where("message_id = ? AND emoji = ? AND identity = ?",
			op.r.MessageID, op.r.Emoji, op.r.Identity).Delete(&Reaction{}).Error; err != nil {
			return err
		}
	}
	if len(adds) > 0 {
		if err := tx.Clauses(nothing).CreateInBatches(&adds, chunk).Error; err != nil {
			return err
		}
	}
	for _, op := range p.pins {
		var err error
		if op.on {
			err = tx.Clauses(clause.OnConflict{
				Columns:   []clause.Column{{Name: "message_id"}},
				DoUpdates: clause.AssignmentColumns([]string{"pinned_by", "pinned_at"}),
			}).Create(&op.p).Error
		} else {
			err = tx.Where("message_id = ? AND room = ?", op.p.MessageID, op.p.Room).Delete(&Pin{}).Error
		}
		if err != nil {
			return err
		}
	}
	for _, op := range p.mutes {
		var err error
		if op.on {
			err = tx.Clauses(clause.OnConflict{
				Columns:   []clause.Column{{Name: "room"}, {Name: "identity"}},
				DoUpdates: clause.AssignmentColumns([]string{"muted_by", "muted_at"}),
			}).Create(&op.m).Error
		} else {
			err = tx.Where("room = ? AND identity = ?", op.m.Room, op.m.Identity).Delete(&RoomMute{}).Error
		}
		if err != nil {
			return err
		}
	}
	if len(p.reads) > 0 {
		if err := tx.Clauses(clause.OnConflict{
			Columns: []clause.Column{{Name: "room"}, {Name: "identity"}},
			DoUpdates: clause.Set{
				{Column: clause.Column{Name: "seq"}, Value: gorm.Expr("CASE WHEN excluded.seq > read_horizons.seq THEN excluded.seq ELSE read_horizons.seq END")},
				{Column: clause.Column{Name: "updated_at"}, Value: gorm.Expr("excluded.updated_at")},
			},
		}).Create(&p.reads).Error; err != nil {
			return err
		}
	}
	if len(p.participants) > 0 {
		if err := tx.Clauses(clause.OnConflict{
			Columns: []clause.Column{{Name: "session_id"}, {Name: "identity"}},
			DoUpdates: clause.Set{
				// A leave carries no name: keep the one the join gave.
				{Column: clause.Column{Name: "name"}, Value: gorm.Expr("CASE WHEN excluded.name <> '' THEN excluded.name ELSE participants.name END")},
				{Column: clause.Column{Name: "left_at"}, Value: gorm.Expr("excluded.left_at")},
			},
		}).Create(&p.participants).Error; err != nil {
			return err
		}
	}
	p.batch.Ended = p.batch.Ended[:0]
	for _, s := range p.stale {
		if _, err := closeStale(tx, s); err != nil {
			return err
		}
		p.batch.Ended = append(p.batch.Ended, *s)
	}
	for _, s := range p.ends {
		if err := tx.Model(&Session{}).Where("id = ?", s.ID).
			Updates(map[string]any{"ended_at": *s.EndedAt, "end_reason": s.EndReason}).Error; err != nil {
			return err
		}
		p.batch.Ended = append(p.batch.Ended, *s)
	}
	if ob := w.r.cfg.Outbox; ob != nil {
		// The batch's events go in at the end, in one statement, instead
		// of one round trip each (a webhook for chat messages has a row
		// per message).
		rows, err := ob.Events(tx, &p.batch)
		if err != nil {
			return fmt.Errorf("recorder: outbox events: %w", err)
		}
		if len(rows) > 0 {
			if err := w.insertOutbox(tx, rows); err != nil {
				return fmt.Errorf("recorder: outbox: %w", err)
			}
		}
		p.outbox = rows
	}
	return nil
}

// adopt makes the committed plan's room states current.
func (w *writer) adopt(p *plan) {
	for name, s := range p.rooms {
		w.rooms[name] = s
	}
}
