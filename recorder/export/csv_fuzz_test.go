package export

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// csvExpected is what a cell must read back as, from the contract (docs/api.md)
// rather than from the code: a leading = + - @ tab or CR gets a single
// quote (OWASP), and a line break inside a cell is an LF (CRLF and a lone
// CR included).
func csvExpected(s string) string {
	if s != "" && strings.ContainsAny(s[:1], "=+-@\t\r") {
		s = "'" + s
	}
	return strings.NewReplacer("\r\n", "\n", "\r", "\n").Replace(s)
}

// FuzzCSVWriter: whatever the cells hold (chat text, display names,
// identities, emoji: attacker-controlled), the row the export writes
// parses back with encoding/csv into the same number of records and fields,
// every field equal to the neutralised input, and no cell a spreadsheet
// would run as a formula. The export's own encoder (appendCell,
// appendRecipients) must write exactly the bytes of writeRow and
// decodeList.
func FuzzCSVWriter(f *testing.F) {
	for _, s := range [][3]string{
		{"hello, world", `say "hi"`, "multi\nline"},
		{"=HYPERLINK(\"http://x\")", "+1", "-2"},
		{"@SUM(A1)", "\tindent", "\rcr"},
		{"a\r\nb", "a\rb", "a\n\rb"},
		{"", " leading space", "\\."},
		{"👍:alice|bob;🎉:carol", "'already", "\"\""},
		{"\xff\xfe", "é", "\u2028"},
		{`\.`, "\u00a0nbsp", "\u0085nel"},
		{`["a","b"]`, `["a\"","b"]`, `["x","y\u003c"]`},
		{`[""]`, `["",""]`, "[\"\x01\"]"},
	} {
		f.Add(s[0], s[1], s[2])
	}
	f.Fuzz(func(t *testing.T, a, b, c string) {
		in := []string{a, b, c, "01JQ2Z8K0V6T3W5Y7A9C1E3G5H", a + b, "true", "false", "TEXT_MESSAGE", c,
			"2025-03-15T10:00:01.000Z", b + ";" + c, "", a, "false", "-1", "true"}
		var buf bytes.Buffer
		cw := newCSVWriter(&buf)
		if err := cw.Write(Header); err != nil {
			t.Fatal(err)
		}
		for range 2 {
			rec := append([]string(nil), in...)
			if err := writeRow(cw, rec); err != nil {
				t.Fatal(err)
			}
		}
		// The export's encoder, cell by cell.
		fast := []byte(strings.Join(Header, ",") + "\r\n")
		for range 2 {
			for i, cell := range in {
				if i > 0 {
					fast = append(fast, ',')
				}
				fast = appendCell(fast, []byte(cell))
			}
			fast = append(fast, '\r', '\n')
		}
		for _, stored := range []string{a, b, c, encodeList([]string{a, b, c}), encodeList([]string{a})} {
			want := strings.Join(decodeList(stored), ";")
			if got := string(appendRecipients(nil, []byte(stored))); got != want {
				t.Fatalf("recipients of %q: %q, want %q", stored, got, want)
			}
		}
		cw.Flush()
		if err := cw.Error(); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(fast, buf.Bytes()) {
			t.Fatalf("appendCell wrote\n%q\nwriteRow wrote\n%q", fast, buf.Bytes())
		}
		if !bytes.HasSuffix(buf.Bytes(), []byte("\r\n")) {
			t.Fatalf("record does not end with CRLF: %q", buf.Bytes())
		}
		recs, err := csv.NewReader(bytes.NewReader(buf.Bytes())).ReadAll()
		if err != nil {
			t.Fatalf("output does not parse: %v\n%q", err, buf.Bytes())
		}
		if len(recs) != 3 {
			t.Fatalf("%d records read back, want 3 (header and two rows):\n%q", len(recs), buf.Bytes())
		}
		for _, got := range recs[1:] {
			if len(got) != len(in) {
				t.Fatalf("%d fields read back, want %d", len(got), len(in))
			}
			for i := range in {
				if want := csvExpected(in[i]); got[i] != want {
					t.Fatalf("field %d: read back %q, want %q (written %q)", i, got[i], want, in[i])
				}
				if got[i] != "" && strings.ContainsAny(got[i][:1], "=+-@\t\r") {
					t.Fatalf("field %d starts with a formula character: %q", i, got[i])
				}
			}
		}
	})
}

// TestAppendCSVTime: the hand-written timestamp is AppendFormat's, for
// times in any zone, with sub-millisecond parts, and outside 0000-9999.
func TestAppendCSVTime(t *testing.T) {
	zone := time.FixedZone("x", -(3*3600 + 1800))
	times := []time.Time{{}, time.Unix(0, 0), time.Date(2025, 3, 14, 9, 0, 1, 999999999, zone),
		time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 1000000, time.UTC)}
	r := rand.New(rand.NewPCG(1, 2))
	for range 10000 {
		times = append(times, time.Unix(r.Int64N(1<<36)-1<<35, r.Int64N(1e9)).In(zone))
	}
	for _, tm := range times {
		if got, want := string(appendCSVTime(nil, tm)), tm.UTC().Format(csvTime); got != want {
			t.Fatalf("%v: %q, want %q", tm, got, want)
		}
	}
}

// encodeList and decodeList are the recorder's stored form of a recipient
// list (store.go): a JSON array, "" for none, unreadable as none.
func encodeList(l []string) string {
	if len(l) == 0 {
		return ""
	}
	b, _ := json.Marshal(l)
	return string(b)
}

func decodeList(s string) []string {
	if s == "" {
		return nil
	}
	var l []string
	if json.Unmarshal([]byte(s), &l) != nil {
		return nil
	}
	return l
}
