package recorder

// How a batch's messages, edits and deletes become rows and updates of
// the plan (plan.go).

import (
	"time"

	"github.com/backchannel-rtc/backchannel/chat"
)

func (p *plan) addMessage(room string, s *roomState, m *chat.Message) {
	row := MessageRow{
		ID: m.ID, Room: room, Seq: m.Seq, SessionID: s.session.ID, MeetingID: s.meetingID,
		Sender: m.Sender, SenderName: m.SenderName, Kind: string(m.Kind), Text: m.Text,
		Private: len(m.To) > 0, ReplyTo: m.ReplyTo, ClientID: m.ClientID,
		CreatedAt: m.CreatedAt.UTC(), Deleted: m.Deleted, Epoch: p.epochs[room],
	}
	if row.Kind == "" {
		row.Kind = string(chat.KindText)
	}
	if m.E2EE != nil && !m.Deleted {
		row.E2EE = encodeEnvelope(m.E2EE)
	}
	if row.CreatedAt.IsZero() {
		row.CreatedAt = time.Now().UTC()
	}
	if m.EditedAt != nil {
		t := m.EditedAt.UTC()
		row.EditedAt = &t
	}
	if m.Attachment != nil && !m.Deleted {
		row.AttachmentID = m.Attachment.ID
	}
	if m.Deleted {
		row.Text = ""
	}
	row.Recipients = encodeList(m.To) // "[]" for everyone: valid JSON for jsonb
	if row.Private {
		for _, to := range m.To {
			p.recipients = append(p.recipients, MessageRecipient{MessageID: m.ID, Identity: to})
		}
	}
	p.midx[m.ID] = len(p.messages)
	p.messages = append(p.messages, row)
}

// editMessage folds an edit or delete into the message if it is in this
// batch, else into one update per message.
func (p *plan) editMessage(c chat.Change, at time.Time) {
	if i, ok := p.midx[c.MessageID]; ok && p.messages[i].Room == c.Room {
		row := &p.messages[i]
		if row.Deleted {
			return
		}
		if c.Kind == chat.ChangeDelete {
			row.Deleted, row.DeletedAt, row.DeletedBy = true, &at, c.Identity
			row.Text, row.AttachmentID, row.E2EE = "", "", nil
		} else {
			row.Text, row.EditedAt = c.Text, &at
			if c.E2EE != nil {
				row.E2EE = encodeEnvelope(c.E2EE)
			}
		}
		return
	}
	u := p.uidx[c.MessageID]
	if u == nil {
		u = &msgUpdate{id: c.MessageID, room: c.Room}
		p.updates = append(p.updates, u)
		p.uidx[c.MessageID] = u
	}
	if u.deleted {
		return
	}
	if c.Kind == chat.ChangeDelete {
		u.deleted, u.deletedAt, u.deletedBy = true, at, c.Identity
	} else {
		text := c.Text
		u.text, u.editedAt = &text, &at
		if c.E2EE != nil {
			u.e2ee = encodeEnvelope(c.E2EE)
		}
	}
}
