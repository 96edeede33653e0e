package export

import (
	"bytes"
	"context"
	"encoding/csv"
	"testing"
)

// TestCSVKeepsLineBreaks: a CR inside a chat text is exported as a line
// break, not silently dropped (encoding/csv with CRLF record ends drops a
// lone CR), and the row still parses.
func TestCSVKeepsLineBreaks(t *testing.T) {
	r := openT(t, sqliteBackend.Config(t))
	writeAll(t, r, join("crlf", "alice", "Alice", 0),
		msg("crlf", 1, "alice", "one\rtwo", 1), msg("crlf", 2, "alice", "three\r\nfour", 2),
		msg("crlf", 3, "alice", "\r=1+1", 3))
	s, err := r.Recorder.LatestSession(context.Background(), "crlf")
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := r.WriteCSV(context.Background(), &buf, Scope{SessionID: s.ID}, Options{}); err != nil {
		t.Fatal(err)
	}
	// The bytes: every line break inside a cell is CRLF, as docs/api.md
	// says (and as encoding/csv with UseCRLF writes it).
	for _, raw := range []string{"\"one\r\ntwo\"", "\"three\r\nfour\"", "\"'\r\n=1+1\""} {
		if !bytes.Contains(buf.Bytes(), []byte(raw)) {
			t.Errorf("CSV lacks %q:\n%q", raw, buf.String())
		}
	}
	recs, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"one\ntwo", "three\nfour", "'\n=1+1"}
	if len(recs) != 4 {
		t.Fatalf("%d records", len(recs))
	}
	for i, w := range want {
		if got := recs[i+1][8]; got != w {
			t.Errorf("row %d payload %q, want %q", i+1, got, w)
		}
	}
}
