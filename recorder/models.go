package recorder

import "time"

// The GORM models. They describe the current schema; the schema itself is
// created and changed only by the SQL files in migrations/ (migrate.go), so
// a model change always comes with a new migration file
// (TestMigrationsCoverModels fails otherwise).
//
// There are no foreign-key constraints: the writer is the only writer and
// keeps the rows consistent, and constraint checks would slow the batched
// inserts. Timestamps are always stored in UTC (SQLite keeps them as text,
// which then sorts in time order); lists are ordered on seq or on ULID ids,
// which sort by creation time.

// Meeting is a named room over time: one row per room name.
type Meeting struct {
	ID        string    `gorm:"primaryKey;size:26"`
	Room      string    `gorm:"size:255;not null;uniqueIndex:idx_meetings_room"`
	CreatedAt time.Time `gorm:"not null"`
}

// Session is one continuous occupancy of a meeting's room: from the first
// join while nobody was present to the last leave. EndReason is "left" (the
// last participant left), "recovered" (closed after a crash or restart, at
// the last activity seen) or "" while open.
type Session struct {
	ID        string     `gorm:"primaryKey;size:26"`
	MeetingID string     `gorm:"size:26;not null;index:idx_sessions_meeting"`
	Room      string     `gorm:"size:255;not null;index:idx_sessions_room"`
	Node      string     `gorm:"size:255;not null;default:''"`
	StartedAt time.Time  `gorm:"not null"`
	EndedAt   *time.Time ``
	EndReason string     `gorm:"size:32;not null;default:''"`
}

// Participant is one identity's presence in a session: its first join and,
// once it has no connection left, its last leave.
type Participant struct {
	SessionID string     `gorm:"primaryKey;size:26"`
	Identity  string     `gorm:"primaryKey;size:255"`
	Name      string     `gorm:"size:255;not null;default:''"`
	JoinedAt  time.Time  `gorm:"not null"`
	LeftAt    *time.Time ``
}

// MessageRow is a chat message and its current state. A meeting is one
// room, so a meeting's messages are found by room (the (room, seq) index);
// meeting_id has no index of its own, to keep inserts cheap. Recipients repeats
// the private destinations as a JSON array (for reading them back in one
// row; "[]", or "" in rows from before 00007, for a message to everyone;
// jsonb on PostgreSQL); MessageRecipient rows make "viewer is a recipient" a query.
// Deleting blanks Text and AttachmentID: a tombstone keeps id and seq only.
type MessageRow struct {
	ID         string `gorm:"primaryKey;size:64"`
	Room       string `gorm:"size:255;not null;uniqueIndex:idx_messages_room_seq,priority:1"`
	Seq        int64  `gorm:"not null;uniqueIndex:idx_messages_room_seq,priority:2;index:idx_messages_session_seq,priority:2"`
	SessionID  string `gorm:"size:26;not null;index:idx_messages_session_seq,priority:1"`
	MeetingID  string `gorm:"size:26;not null"`
	Sender     string `gorm:"size:255;not null"`
	SenderName string `gorm:"size:255;not null;default:''"`
	Kind       string `gorm:"size:16;not null"`
	Text       string `gorm:"type:text;not null;default:''"`
	// E2EE is an end-to-end encrypted message's envelope as JSON (jsonb
	// on PostgreSQL); nil for a message in clear. Text is then empty.
	E2EE         *string    `gorm:"column:e2ee"`
	Private      bool       `gorm:"not null;default:false"`
	Recipients   string     `gorm:"type:text;not null;default:''"`
	ReplyTo      string     `gorm:"size:64;not null;default:''"`
	ClientID     string     `gorm:"size:128;not null;default:''"`
	AttachmentID string     `gorm:"size:64;not null;default:''"`
	CreatedAt    time.Time  `gorm:"not null"`
	EditedAt     *time.Time ``
	Deleted      bool       `gorm:"not null;default:false"`
	DeletedAt    *time.Time ``
	DeletedBy    string     `gorm:"size:255;not null;default:''"`
	// Epoch is the room lease's fencing epoch the message was written
	// under (package cluster); 0 on a single node.
	Epoch int64 `gorm:"not null;default:0"`
}

// TableName implements gorm's Tabler.
func (MessageRow) TableName() string { return "messages" }

// MessageRecipient is one destination identity of a private message.
type MessageRecipient struct {
	MessageID string `gorm:"primaryKey;size:64"`
	Identity  string `gorm:"primaryKey;size:255"`
}

// Reaction is one identity's emoji on a message.
type Reaction struct {
	MessageID string    `gorm:"primaryKey;size:64"`
	Emoji     string    `gorm:"primaryKey;size:64"`
	Identity  string    `gorm:"primaryKey;size:255"`
	CreatedAt time.Time `gorm:"not null"`
}

// Pin marks a pinned message.
type Pin struct {
	MessageID string    `gorm:"primaryKey;size:64"`
	Room      string    `gorm:"size:255;not null;index:idx_pins_room"`
	PinnedBy  string    `gorm:"size:255;not null;default:''"`
	PinnedAt  time.Time `gorm:"not null"`
}

// RoomMute records that a moderator took away an identity's right to chat
// in a room; unmuting deletes the row.
type RoomMute struct {
	Room     string    `gorm:"primaryKey;size:255"`
	Identity string    `gorm:"primaryKey;size:255"`
	MutedBy  string    `gorm:"size:255;not null;default:''"`
	MutedAt  time.Time `gorm:"not null"`
}

// ReadHorizon is the highest seq an identity has read in a room.
type ReadHorizon struct {
	Room      string    `gorm:"primaryKey;size:255"`
	Identity  string    `gorm:"primaryKey;size:255"`
	Seq       int64     `gorm:"not null"`
	UpdatedAt time.Time `gorm:"not null"`
}

// AttachmentRow is one upload. The bytes live in DataDir/attachments under
// their SHA-256 (Hash), so identical uploads share one file.
type AttachmentRow struct {
	ID          string    `gorm:"primaryKey;size:26"`
	Room        string    `gorm:"size:255;not null;index:idx_attachments_room"`
	Uploader    string    `gorm:"size:255;not null"`
	Name        string    `gorm:"size:255;not null;default:''"`
	ContentType string    `gorm:"size:255;not null"`
	Size        int64     `gorm:"not null"`
	Hash        string    `gorm:"size:64;not null;index:idx_attachments_hash"`
	Image       bool      `gorm:"not null;default:false"`
	Width       int       `gorm:"not null;default:0"`
	Height      int       `gorm:"not null;default:0"`
	CreatedAt   time.Time `gorm:"not null"`
	// UsedAt is when chat last resolved the upload for a message: the
	// sweeper (recorder/attachments) spares it for a grace after that.
	UsedAt *time.Time
}

// TableName implements gorm's Tabler.
func (AttachmentRow) TableName() string { return "attachments" }

// Outbox statuses.
const (
	OutboxPending   = "pending"
	OutboxDelivered = "delivered"
	OutboxFailed    = "failed" // given up: visible, never retried again
)

// OutboxEvent is a webhook event waiting for delivery, written in the same
// transaction as the state it describes (see Config.Outbox). Endpoint
// is the endpoint id it is for ("" before fan-out to endpoints).
type OutboxEvent struct {
	ID            string     `gorm:"primaryKey;size:26"`
	EventType     string     `gorm:"size:64;not null"`
	Payload       string     `gorm:"type:text;not null"`
	Endpoint      string     `gorm:"size:255;not null;default:''"`
	Status        string     `gorm:"size:16;not null;default:'pending';index:idx_outbox_due,priority:1"`
	Attempts      int        `gorm:"not null;default:0"`
	NextAttemptAt time.Time  `gorm:"not null;index:idx_outbox_due,priority:2"`
	LastError     string     `gorm:"type:text;not null;default:''"`
	CreatedAt     time.Time  `gorm:"not null"`
	DeliveredAt   *time.Time ``
	// ClaimedBy is the cluster node holding a sending row ('' on a single
	// node): another node may take the row back once that node is dead.
	ClaimedBy string `gorm:"size:26;not null;default:''"`
}

// TableName implements gorm's Tabler.
func (OutboxEvent) TableName() string { return "webhook_outbox" }

// ClusterNode is one running node of a cluster (package cluster): its
// public URL, a check of its API secret, its heartbeat on the database's
// clock and its load. ID is per process.
type ClusterNode struct {
	ID           string    `gorm:"primaryKey;size:26"`
	URL          string    `gorm:"size:1024;not null;index:idx_cluster_nodes_url"`
	SecretCheck  string    `gorm:"size:64;not null"`
	StartedAt    time.Time `gorm:"not null"`
	HeartbeatAt  time.Time `gorm:"not null"`
	Draining     bool      `gorm:"not null;default:false"`
	Participants int       `gorm:"not null;default:0"`
	Rooms        int       `gorm:"not null;default:0"`
	CPU          float64   `gorm:"not null;default:0"`
}

// RoomLease says which node may write about a live room, until ExpiresAt,
// at Epoch (the fencing token every write checks: fence.go).
type RoomLease struct {
	Room      string    `gorm:"primaryKey;size:255"`
	NodeID    string    `gorm:"size:26;not null;index:idx_room_leases_node"`
	Epoch     int64     `gorm:"not null"`
	ExpiresAt time.Time `gorm:"not null"`
}

// allModels lists every model, for the migration coverage test.
func allModels() []any {
	return []any{&Meeting{}, &Session{}, &Participant{}, &MessageRow{}, &MessageRecipient{},
		&Reaction{}, &Pin{}, &ReadHorizon{}, &AttachmentRow{}, &OutboxEvent{}, &RoomMute{},
		&ClusterNode{}, &RoomLease{}}
}
