package recorder

// Exported reads for the recorder's sibling packages (api, attachments,
// export), over the read side in store.go: the same visibility rule and
// the same hydration as the chat's own reads.

import (
	"context"

	"gorm.io/gorm"

	"github.com/backchannel-rtc/backchannel/chat"
)

// VisibleTo restricts a query on messages to what viewer may see (every
// message when viewer is ""): group messages, and private messages viewer
// sent or received.
func VisibleTo(q *gorm.DB, viewer string) *gorm.DB { return visibleTo(q, viewer) }

// Messages turns rows into chat messages with their reactions, pin and
// attachment, in three set queries.
func (r *Recorder) Messages(ctx context.Context, rows []MessageRow) ([]chat.Message, error) {
	return r.hydrate(ctx, rows)
}

// Chat is the attachment as chat sends it.
func (a *AttachmentRow) Chat() *chat.Attachment { return a.chat() }
