package recorder

import (
	"bytes"
	"encoding/csv"
	"strings"
	"testing"
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
// would run as a formula.
func FuzzCSVWriter(f *testing.F) {
	for _, s := range [][3]string{
		{"hello, world", `say "hi"`, "multi\nline"},
		{"=HYPERLINK(\"http://x\")", "+1", "-2"},
		{"@SUM(A1)", "\tindent", "\rcr"},
		{"a\r\nb", "a\rb", "a\n\rb"},
		{"", " leading space", "\\."},
		{"👍:alice|bob;🎉:carol", "'already", "\"\""},
		{"\xff\xfe", "é", "\u2028"},
	} {
		f.Add(s[0], s[1], s[2])
	}
	f.Fuzz(func(t *testing.T, a, b, c string) {
		in := []string{a, b, c, "01JQ2Z8K0V6T3W5Y7A9C1E3G5H", a + b, "true", "false", "TEXT_MESSAGE", c,
			"2025-03-15T10:00:01.000Z", b + ";" + c, "", a, "false", "-1"}
		var buf bytes.Buffer
		cw := newCSVWriter(&buf)
		if err := cw.Write(CSVHeader); err != nil {
			t.Fatal(err)
		}
		for range 2 {
			rec := append([]string(nil), in...)
			if err := writeRow(cw, rec); err != nil {
				t.Fatal(err)
			}
		}
		cw.Flush()
		if err := cw.Error(); err != nil {
			t.Fatal(err)
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
