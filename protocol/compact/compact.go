package compact

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/oklog/ulid/v2"

	"github.com/backchannel-rtc/backchannel/protocol"
)

// Protocol is the data channel's protocol string that asks for this
// encoding. A chat channel opened with any other protocol string speaks
// JSON.
const Protocol = "backchannel-cbor-1"

// Type codes of the packets with integer keys (key 0 of the map). A map
// without key 0 is a generic packet: the JSON object, as a CBOR map with
// the same text keys.
const (
	typeMessage = 1
	typeAck     = 2
)

// wireMessage is a plain message (no attachment, no end-to-end envelope,
// no reactions) with integer keys, its ids as the 16 bytes of the ULID and
// its times as milliseconds since the Unix epoch. Any other message
// travels as a generic packet.
type wireMessage struct {
	ID         []byte   `cbor:"1,keyasint"`
	Seq        int64    `cbor:"2,keyasint"`
	Sender     string   `cbor:"3,keyasint"`
	SenderName string   `cbor:"4,keyasint"`
	Kind       string   `cbor:"5,keyasint,omitempty"`
	Text       string   `cbor:"6,keyasint,omitempty"`
	To         []string `cbor:"7,keyasint,omitempty"`
	ReplyTo    []byte   `cbor:"8,keyasint,omitempty"`
	CreatedAt  int64    `cbor:"9,keyasint"`
	EditedAt   int64    `cbor:"10,keyasint,omitempty"`
	Deleted    bool     `cbor:"11,keyasint,omitempty"`
	Pinned     bool     `cbor:"12,keyasint,omitempty"`
}

// wireEvent is a `message` event (Type 1, Message) or a message's `ack`
// (Type 2, ClientID, ID, Seq, CreatedAt).
type wireEvent struct {
	Type      int          `cbor:"0,keyasint"`
	Message   *wireMessage `cbor:"1,keyasint,omitempty"`
	ClientID  string       `cbor:"2,keyasint,omitempty"`
	ID        []byte       `cbor:"3,keyasint,omitempty"`
	Seq       int64        `cbor:"4,keyasint,omitempty"`
	CreatedAt int64        `cbor:"5,keyasint,omitempty"`
}

var (
	encMode cbor.EncMode
	decMode cbor.DecMode
)

func init() {
	var err error
	if encMode, err = (cbor.EncOptions{ShortestFloat: cbor.ShortestFloat16}).EncMode(); err != nil {
		panic(err)
	}
	if decMode, err = (cbor.DecOptions{
		DefaultMapType: reflect.TypeOf(map[string]any(nil)),
		MaxNestedLevels: 16,
	}).DecMode(); err != nil {
		panic(err)
	}
}

// ErrNotCBOR is returned by ToJSON for bytes that are not one CBOR map.
var ErrNotCBOR = errors.New("not a CBOR map")

// FromJSON encodes one server packet, given as the JSON the protocol
// documents, in the compact encoding. The server marshals each packet
// once as JSON and encodes it once more for the compact connections
// among its recipients.
func FromJSON(b []byte) ([]byte, error) {
	if c, ok := typed(b); ok {
		return c, nil
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, err
	}
	return encMode.Marshal(integers(v))
}

// typed encodes the message and ack events with integer keys, when every
// field has its compact form.
func typed(b []byte) ([]byte, bool) {
	switch {
	case bytes.HasPrefix(b, []byte(`{"type":"message",`)):
		var ev protocol.MessageEvent
		if json.Unmarshal(b, &ev) != nil || ev.Message == nil {
			return nil, false
		}
		m := ev.Message
		if m.Attachment != nil || m.E2EE != nil || len(m.Reactions) > 0 {
			return nil, false
		}
		w := &wireMessage{Seq: m.Seq, Sender: m.Sender, SenderName: m.SenderName, Text: m.Text,
			To: m.To, CreatedAt: m.CreatedAt.UnixMilli(), Deleted: m.Deleted, Pinned: m.Pinned}
		var ok bool
		if w.ID, ok = ulidBytes(m.ID); !ok {
			return nil, false
		}
		if m.ReplyTo != "" {
			if w.ReplyTo, ok = ulidBytes(m.ReplyTo); !ok {
				return nil, false
			}
		}
		if m.Kind != protocol.KindText {
			w.Kind = string(m.Kind)
		}
		if m.EditedAt != nil {
			w.EditedAt = m.EditedAt.UnixMilli()
		}
		c, err := encMode.Marshal(wireEvent{Type: typeMessage, Message: w})
		return c, err == nil
	case bytes.HasPrefix(b, []byte(`{"type":"ack",`)) && bytes.Contains(b, []byte(`"createdAt"`)):
		var ev protocol.AckEvent
		if json.Unmarshal(b, &ev) != nil || ev.ClientID == "" {
			return nil, false
		}
		id, ok := ulidBytes(ev.ID)
		if !ok {
			return nil, false
		}
		c, err := encMode.Marshal(wireEvent{Type: typeAck, ClientID: ev.ClientID, ID: id, Seq: ev.Seq,
			CreatedAt: ev.CreatedAt.UnixMilli()})
		return c, err == nil
	}
	return nil, false
}

// ToJSON decodes one packet in the compact encoding to its JSON form: the
// server reads a compact client's packets this way (then parses them as it
// parses any JSON packet), and the Go client gives its users JSON.
func ToJSON(b []byte) ([]byte, error) {
	if len(b) == 0 || b[0]>>5 != 5 { // major type 5: a map
		return nil, ErrNotCBOR
	}
	var w wireEvent
	if err := decMode.Unmarshal(b, &w); err == nil && w.Type != 0 {
		return w.json()
	}
	var v any
	if err := decMode.Unmarshal(b, &v); err != nil {
		return nil, fmt.Errorf("compact: %w", err)
	}
	return json.Marshal(v)
}

func (w *wireEvent) json() ([]byte, error) {
	switch w.Type {
	case typeMessage:
		if w.Message == nil {
			return nil, errors.New("compact: message event without a message")
		}
		m := w.Message
		pm := &protocol.Message{ID: ulidString(m.ID), Seq: m.Seq, Sender: m.Sender, SenderName: m.SenderName,
			Kind: protocol.Kind(m.Kind), Text: m.Text, To: m.To, ReplyTo: ulidString(m.ReplyTo),
			CreatedAt: time.UnixMilli(m.CreatedAt).UTC(), Deleted: m.Deleted, Pinned: m.Pinned}
		if pm.Kind == "" {
			pm.Kind = protocol.KindText
		}
		if m.EditedAt != 0 {
			t := time.UnixMilli(m.EditedAt).UTC()
			pm.EditedAt = &t
		}
		return json.Marshal(protocol.MessageEvent{Type: "message", Message: pm})
	case typeAck:
		return json.Marshal(protocol.AckEvent{Type: "ack", ClientID: w.ClientID, ID: ulidString(w.ID), Seq: w.Seq,
			CreatedAt: time.UnixMilli(w.CreatedAt).UTC()})
	}
	return nil, fmt.Errorf("compact: unknown packet type code %d", w.Type)
}

// ulidBytes is the binary form of a canonical ULID string; anything else
// (ok false) keeps its packet generic, so no id is ever rewritten.
func ulidBytes(s string) ([]byte, bool) {
	u, err := ulid.ParseStrict(s)
	if err != nil || u.String() != s {
		return nil, false
	}
	return u[:], true
}

func ulidString(b []byte) string {
	if len(b) != len(ulid.ULID{}) {
		return ""
	}
	return ulid.ULID(b).String()
}

// integers turns JSON's float64 numbers back into integers where they are
// whole, so that a seq costs one to nine bytes rather than a float's nine.
func integers(v any) any {
	switch x := v.(type) {
	case float64:
		if x == math.Trunc(x) && math.Abs(x) <= 1<<53 {
			return int64(x)
		}
	case map[string]any:
		for k, e := range x {
			x[k] = integers(e)
		}
	case []any:
		for i, e := range x {
			x[i] = integers(e)
		}
	}
	return v
}

// Plain is what a compact `message` or `ack` event says, for a reader
// that wants it without going through JSON (the load generator).
type Plain struct {
	Type     string // "message" or "ack"
	Seq      int64
	Text     string // message
	ClientID string // ack
}

// DecodePlain reads a compact `message` or `ack` event; ok is false for
// any other packet (ToJSON reads those).
func DecodePlain(b []byte) (p Plain, ok bool) {
	var w wireEvent
	if len(b) == 0 || b[0]>>5 != 5 || decMode.Unmarshal(b, &w) != nil {
		return p, false
	}
	switch {
	case w.Type == typeMessage && w.Message != nil:
		return Plain{Type: "message", Seq: w.Message.Seq, Text: w.Message.Text}, true
	case w.Type == typeAck:
		return Plain{Type: "ack", Seq: w.Seq, ClientID: w.ClientID}, true
	}
	return p, false
}
