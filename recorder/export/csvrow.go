package export

// The export's CSV encoder. It writes exactly what writeRow (neutralise,
// normaliseBreaks, then encoding/csv with CRLF) writes, cell by cell, but
// appends bytes to one reused buffer: no []string per row, no string per
// cell. At half a million rows a second those allocations and the extra
// passes over every cell were most of the export's time. FuzzCSVWriter
// compares the two byte for byte.

import (
	"encoding/binary"
	"encoding/json"
	"strconv"
	"time"
	"unicode"
	"unicode/utf8"
)

// csvSpecial marks the bytes that force encoding/csv to quote a cell.
var csvSpecial = [256]bool{',': true, '"': true, '\r': true, '\n': true}

// formulaStart marks the first bytes neutralise defuses.
var formulaStart = [256]bool{'=': true, '+': true, '-': true, '@': true, '\t': true, '\r': true}

// appendCell appends one cell as writeRow would write it: a formula gets a
// leading quote, line breaks become LF, and the cell is quoted (with LF
// written as CRLF) when encoding/csv would quote it.
func appendCell(dst, s []byte) []byte {
	if len(s) == 0 {
		return dst
	}
	prefix := formulaStart[s[0]]
	// encoding/csv also quotes `\.` and a cell starting with a space rune;
	// after a prefix the cell starts with "'", which is neither.
	if !hasCSVSpecial(s) && (prefix || !leadingSpace(s) && string(s) != `\.`) {
		if prefix {
			dst = append(dst, '\'')
		}
		return append(dst, s...)
	}
	dst = append(dst, '"')
	if prefix {
		dst = append(dst, '\'')
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '"':
			dst = append(dst, '"', '"')
		case '\r':
			if i+1 < len(s) && s[i+1] == '\n' {
				i++
			}
			dst = append(dst, '\r', '\n')
		case '\n':
			dst = append(dst, '\r', '\n')
		default:
			dst = append(dst, c)
		}
	}
	return append(dst, '"')
}

// hasCSVSpecial reports whether s holds a comma, a quote, a CR or an LF,
// eight bytes at a time (most cells have none: this runs on every byte of
// the export).
func hasCSVSpecial(s []byte) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	// zero reports whether any byte of v is 0 (exact: no false positives).
	zero := func(v uint64) bool { return (v-ones) & ^v & highs != 0 }
	for len(s) >= 8 {
		w := binary.LittleEndian.Uint64(s)
		if zero(w^(ones*',')) || zero(w^(ones*'"')) || zero(w^(ones*'\r')) || zero(w^(ones*'\n')) {
			return true
		}
		s = s[8:]
	}
	for _, c := range s {
		if csvSpecial[c] {
			return true
		}
	}
	return false
}

func leadingSpace(s []byte) bool {
	if s[0] < utf8.RuneSelf {
		return asciiSpace[s[0]]
	}
	r, _ := utf8.DecodeRune(s)
	return unicode.IsSpace(r)
}

var asciiSpace = [256]bool{' ': true, '\t': true, '\n': true, '\v': true, '\f': true, '\r': true}

// appendCellString is appendCell for a string (attachment URLs).
func appendCellString(dst []byte, s string) []byte {
	return appendCell(dst, []byte(s))
}

// appendBool appends "true" or "false" (neither needs neutralising nor
// quoting).
func appendBool(dst []byte, b bool) []byte {
	if b {
		return append(dst, "true"...)
	}
	return append(dst, "false"...)
}

// appendRecipients appends strings.Join(decodeList(s), ";"). The stored
// list is what encodeList wrote (json.Marshal of a []string); the common
// case, plain ["a","b"] with no escapes, is split in place, anything else
// goes through decodeList so the result is the same for any stored value.
func appendRecipients(dst, s []byte) []byte {
	if len(s) == 0 {
		return dst
	}
	if out, ok := splitPlainList(dst, s); ok {
		return out
	}
	var l []string
	if json.Unmarshal(s, &l) != nil {
		return dst
	}
	for i, v := range l {
		if i > 0 {
			dst = append(dst, ';')
		}
		dst = append(dst, v...)
	}
	return dst
}

// splitPlainList handles ["a","b"] where no string holds a backslash, a
// quote or a control byte and all is valid UTF-8: there json.Unmarshal
// returns the bytes between the quotes unchanged.
func splitPlainList(dst, s []byte) ([]byte, bool) {
	n := len(s)
	if n < 4 || s[0] != '[' || s[1] != '"' || s[n-2] != '"' || s[n-1] != ']' || !utf8.Valid(s) {
		return dst, false
	}
	start := len(dst)
	in := s[2 : n-2]
	for i := 0; i < len(in); i++ {
		c := in[i]
		switch {
		case c == '"':
			if i+2 >= len(in) || in[i+1] != ',' || in[i+2] != '"' {
				return dst[:start], false
			}
			dst = append(dst, ';')
			i += 2
		case c == '\\' || c < 0x20:
			return dst[:start], false
		default:
			dst = append(dst, c)
		}
	}
	return dst, true
}

// reactionMark is one reaction of the message being written, in the order
// loadExtras reads them (created_at, emoji, identity).
type reactionMark struct{ emoji, identity []byte }

// appendReactions appends formatReactions of marks: emojis in order of
// first appearance, each with its identities.
func appendReactions(dst []byte, marks []reactionMark) []byte {
	groups := 0
	for i, m := range marks {
		first := true // is this the emoji's first appearance?
		for _, p := range marks[:i] {
			if string(p.emoji) == string(m.emoji) {
				first = false
				break
			}
		}
		if !first {
			continue
		}
		if groups > 0 {
			dst = append(dst, ';')
		}
		groups++
		dst = append(dst, m.emoji...)
		dst = append(dst, ':')
		dst = append(dst, m.identity...)
		for _, q := range marks[i+1:] {
			if string(q.emoji) == string(m.emoji) {
				dst = append(dst, '|')
				dst = append(dst, q.identity...)
			}
		}
	}
	return dst
}

// appendCSVTime appends t in csvTime (UTC, milliseconds truncated), as
// AppendFormat would, without parsing the layout for every row.
func appendCSVTime(dst []byte, t time.Time) []byte {
	t = t.UTC()
	year, month, day := t.Date()
	if year < 0 || year > 9999 {
		return t.AppendFormat(dst, csvTime)
	}
	hour, minute, sec := t.Clock()
	ms := t.Nanosecond() / 1e6
	return append(dst, byte('0'+year/1000), byte('0'+year/100%10), byte('0'+year/10%10), byte('0'+year%10), '-',
		byte('0'+month/10), byte('0'+month%10), '-', byte('0'+day/10), byte('0'+day%10), 'T',
		byte('0'+hour/10), byte('0'+hour%10), ':', byte('0'+minute/10), byte('0'+minute%10), ':',
		byte('0'+sec/10), byte('0'+sec%10), '.', byte('0'+ms/100), byte('0'+ms/10%10), byte('0'+ms%10), 'Z')
}

// appendSeq appends the decimal seq.
func appendSeq(dst []byte, seq int64) []byte {
	return strconv.AppendInt(dst, seq, 10)
}
