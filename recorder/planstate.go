package recorder

// The state a plan (plan.go) works on: each room's presence as the writer
// goroutine knows it, copied for a plan and adopted once it commits, and
// the folded operations a batch's changes become.

import "time"

type roomState struct {
	meetingID string
	session   *Session // open session, nil when none
	stale     bool     // session loaded from the database, not seen live
	present   map[string]int
	count     int
	epoch     int64 // the lease epoch it was loaded under (fence.go)
}

func (s *roomState) clone() *roomState {
	c := *s
	c.present = make(map[string]int, len(s.present))
	for k, v := range s.present {
		c.present[k] = v
	}
	if s.session != nil {
		sess := *s.session
		c.session = &sess
	}
	return &c
}

type msgUpdate struct {
	id, room  string
	text      *string
	e2ee      *string // an encrypted message's new envelope (JSON)
	editedAt  *time.Time
	deleted   bool
	deletedAt time.Time
	deletedBy string
}

type reactionOp struct {
	r  Reaction
	on bool
}

type pinOp struct {
	p  Pin
	on bool
}

type muteOp struct {
	m  RoomMute
	on bool
}
