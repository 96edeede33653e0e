package protocol

import (
	"encoding/json"
	"time"
)

// TimeFormat is the one format of every time the chat protocol sends
// (createdAt, editedAt): UTC with exactly three fraction digits, as the CSV
// export writes it, so that "…:37.050Z" never turns into "…:37.05Z" on one
// side. Parsing accepts any RFC 3339 time.
const TimeFormat = "2006-01-02T15:04:05.000Z07:00"

// wireTime marshals a time in TimeFormat.
type wireTime time.Time

func (t wireTime) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, len(TimeFormat)+2)
	b = append(b, '"')
	b = time.Time(t).UTC().AppendFormat(b, TimeFormat)
	return append(b, '"'), nil
}

// MarshalJSON writes the message with its times in TimeFormat. The fields
// declared here shadow the embedded ones of the same JSON name.
func (m Message) MarshalJSON() ([]byte, error) {
	type plain Message
	out := struct {
		plain
		CreatedAt wireTime  `json:"createdAt"`
		EditedAt  *wireTime `json:"editedAt,omitempty"`
	}{plain: plain(m), CreatedAt: wireTime(m.CreatedAt)}
	if m.EditedAt != nil {
		e := wireTime(*m.EditedAt)
		out.EditedAt = &e
	}
	return json.Marshal(out)
}

// MarshalJSON writes the ack with its time in TimeFormat.
func (a AckEvent) MarshalJSON() ([]byte, error) {
	type plain AckEvent
	return json.Marshal(struct {
		plain
		CreatedAt wireTime `json:"createdAt"`
	}{plain(a), wireTime(a.CreatedAt)})
}

// MarshalJSON writes the event with its time in TimeFormat.
func (e EditedEvent) MarshalJSON() ([]byte, error) {
	type plain EditedEvent
	return json.Marshal(struct {
		plain
		EditedAt wireTime `json:"editedAt"`
	}{plain(e), wireTime(e.EditedAt)})
}
