package bench

import (
	"bytes"
	"strconv"
)

// A bench message's text is a compact prefix, then 'x' padding up to the
// configured size:
//
//	bc1.<phase>.<sender>.<k>.<send unix ns>.<dest|g>.xxxx…
//
// phase is 'w' (warm-up) or 'm' (measured); sender and dest are participant
// indexes, k the sender's own sequence (0, 1, …), g a group message. The
// server never sees anything but an ordinary text message.
const textMagic = "bc1."

const (
	phaseWarm     = 'w'
	phaseMeasured = 'm'
)

// appendText appends the text of message k of sender s to dst, padded with
// 'x' so that the text is size bytes (or just the prefix if it is longer).
func appendText(dst []byte, phase byte, s, k int, sentNs int64, dest, size int) []byte {
	start := len(dst)
	dst = append(dst, textMagic...)
	dst = append(dst, phase, '.')
	dst = strconv.AppendInt(dst, int64(s), 10)
	dst = append(dst, '.')
	dst = strconv.AppendInt(dst, int64(k), 10)
	dst = append(dst, '.')
	dst = strconv.AppendInt(dst, sentNs, 10)
	dst = append(dst, '.')
	if dest < 0 {
		dst = append(dst, 'g')
	} else {
		dst = strconv.AppendInt(dst, int64(dest), 10)
	}
	dst = append(dst, '.')
	for len(dst)-start < size {
		dst = append(dst, 'x')
	}
	return dst
}

// stamp is what a text's prefix says.
type stamp struct {
	phase  byte
	sender int
	k      int
	sentNs int64
	dest   int // -1: group
}

// parseText reads a bench text's prefix; ok is false for any other text.
func parseText(t []byte) (st stamp, ok bool) {
	if !bytes.HasPrefix(t, []byte(textMagic)) {
		return st, false
	}
	t = t[len(textMagic):]
	if len(t) < 2 || t[1] != '.' {
		return st, false
	}
	st.phase = t[0]
	t = t[2:]
	var v [4]int64
	for i := range 4 {
		if i == 3 && len(t) > 0 && t[0] == 'g' {
			v[3] = -1
			t = t[1:]
		} else {
			n, rest, good := parseUint(t)
			if !good {
				return st, false
			}
			v[i], t = n, rest
		}
		if len(t) == 0 || t[0] != '.' {
			return st, false
		}
		t = t[1:]
	}
	st.sender, st.k, st.sentNs, st.dest = int(v[0]), int(v[1]), v[2], int(v[3])
	return st, st.phase == phaseWarm || st.phase == phaseMeasured
}

func parseUint(b []byte) (int64, []byte, bool) {
	var n int64
	i := 0
	for ; i < len(b) && b[i] >= '0' && b[i] <= '9' && i < 19; i++ {
		n = n*10 + int64(b[i]-'0')
	}
	return n, b[i:], i > 0
}

// appendChatPacket appends a chat packet carrying text (ASCII, nothing to
// escape) to dst, addressed to `to` when it is not empty.
func appendChatPacket(dst []byte, clientID string, text []byte, to string) []byte {
	dst = append(dst, `{"type":"chat","clientId":"`...)
	dst = append(dst, clientID...)
	dst = append(dst, `","text":"`...)
	dst = append(dst, text...)
	dst = append(dst, '"')
	if to != "" {
		dst = append(dst, `,"to":["`...)
		dst = append(dst, to...)
		dst = append(dst, `"]`...)
	}
	return append(dst, '}')
}

var (
	msgPrefix = []byte(`{"type":"message","message":{`)
	ackPrefix = []byte(`{"type":"ack","clientId":"`)
	seqKey    = []byte(`"seq":`)
	textKey   = []byte(`"text":"`)
)

// fastMessage reads the seq and text of a `message` event without a full
// JSON decode (the load generator shares the machine with the server, so
// its own CPU matters). ok is false when b is not a message event it can
// read this way; the caller then decodes it properly.
func fastMessage(b []byte) (seq int64, text []byte, ok bool) {
	if !bytes.HasPrefix(b, msgPrefix) {
		return 0, nil, false
	}
	rest := b[len(msgPrefix):]
	i := bytes.Index(rest, seqKey)
	if i < 0 {
		return 0, nil, false
	}
	seq, _, ok = parseUint(rest[i+len(seqKey):])
	if !ok {
		return 0, nil, false
	}
	j := bytes.Index(rest, textKey)
	if j < 0 {
		return 0, nil, false
	}
	t := rest[j+len(textKey):]
	e := bytes.IndexByte(t, '"')
	if e < 0 || bytes.IndexByte(t[:e], '\\') >= 0 {
		return 0, nil, false
	}
	return seq, t[:e], true
}

// fastAck reads an ack's clientId and seq.
func fastAck(b []byte) (clientID []byte, seq int64, ok bool) {
	if !bytes.HasPrefix(b, ackPrefix) {
		return nil, 0, false
	}
	rest := b[len(ackPrefix):]
	e := bytes.IndexByte(rest, '"')
	if e < 0 {
		return nil, 0, false
	}
	clientID = rest[:e]
	i := bytes.Index(rest[e:], seqKey)
	if i < 0 {
		return nil, 0, false
	}
	seq, _, ok = parseUint(rest[e+i+len(seqKey):])
	return clientID, seq, ok
}
