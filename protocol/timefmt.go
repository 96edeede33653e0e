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

// MarshalJSON writes the ack with its time in TimeFormat (CreatedAt is the
// last field, so the shadowing field keeps the order).
func (a AckEvent) MarshalJSON() ([]byte, error) {
	type plain AckEvent
	return json.Marshal(struct {
		plain
		CreatedAt wireTime `json:"createdAt"`
	}{plain(a), wireTime(a.CreatedAt)})
}

// MarshalJSON writes the event with its time in TimeFormat (EditedAt is
// the last field, so the shadowing field keeps the order).
func (e EditedEvent) MarshalJSON() ([]byte, error) {
	type plain EditedEvent
	return json.Marshal(struct {
		plain
		EditedAt wireTime `json:"editedAt"`
	}{plain(e), wireTime(e.EditedAt)})
}
