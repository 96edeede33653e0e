package recorder

import (
	"bytes"
	"context"
	"encoding/csv"
	"net/url"
	"testing"
	"time"

	"github.com/backchannel-rtc/backchannel/auth"
)

// TestAPIHostileQueries: huge, negative, overflowing and garbage limits
// and cursors on every paginated admin endpoint are clamped or refused
// (400), never passed to the database as they are.
func TestAPIHostileQueries(t *testing.T) {
	for _, b := range []backend{sqliteBackend, postgresBackend} {
		t.Run(b.name, func(t *testing.T) {
			e := newAPIEnv(t, b, APIConfig{})
			sid, mid := seedChat(t, e.r)
			admin := token(t, "ops", "csv", true)
			count := func(path string, code int) (int, string) {
				t.Helper()
				d := envelope(t, e.do(t, "GET", path, admin, nil), code)
				if code != 200 {
					return 0, ""
				}
				for _, k := range []string{"messages", "meetings"} {
					if l, ok := d[k].([]any); ok {
						next, _ := d["nextCursor"].(string)
						return len(l), next
					}
				}
				t.Fatalf("%s: no list in %v", path, d)
				return 0, ""
			}
			msgs := "/v1/sessions/" + sid + "/messages"
			all, _ := count(msgs, 200)
			if all != 12 {
				t.Fatalf("%d messages seeded", all)
			}
			for q, want := range map[string]int{
				"limit=1000000":              all,
				"limit=99999999999999999999": all, // overflow: the default
				"limit=-1":                   1,
				"limit=0":                    1,
				"limit=abc":                  all,
				"limit=1e6":                  all,
				"limit=%00":                  all,
				"cursor=9223372036854775807": 0,
			} {
				if n, _ := count(msgs+"?"+q, 200); n != want {
					t.Errorf("messages?%s: %d messages, want %d", q, n, want)
				}
			}
			for _, q := range []string{"cursor=-5", "cursor=abc", "cursor=99999999999999999999", "cursor=1.5"} {
				count(msgs+"?"+q, 400)
			}

			search := "/v1/meetings/" + mid + "/messages/search?q=" + url.QueryEscape("a")
			found, _ := count(search, 200)
			if found == 0 {
				t.Fatal("search found nothing")
			}
			for q, want := range map[string]int{"limit=1000000": found, "limit=-3": 1, "limit=zz": found} {
				if n, _ := count(search+"&"+q, 200); n != want {
					t.Errorf("search&%s: %d, want %d", q, n, want)
				}
			}
			for _, q := range []string{"cursor=-1", "cursor=abc", "cursor=99999999999999999999"} {
				count(search+"&"+q, 400)
			}

			for q, want := range map[string]int{"limit=1000000": 1, "limit=-7": 1, "limit=x": 1,
				"cursor=" + url.QueryEscape("'; DROP TABLE meetings;--"): 0} {
				if n, _ := count("/v1/meetings?"+q, 200); n != want {
					t.Errorf("meetings?%s: %d, want %d", q, n, want)
				}
			}
			if n, _ := count("/v1/meetings", 200); n != 1 {
				t.Fatalf("meetings after the injection attempt: %d", n)
			}
		})
	}
}

// TestCSVKeepsLineBreaks: a CR inside a chat text is exported as a line
// break, not silently dropped (encoding/csv with CRLF record ends drops a
// lone CR), and the row still parses.
func TestCSVKeepsLineBreaks(t *testing.T) {
	r := openT(t, sqliteBackend.config(t))
	writeAll(t, r, join("crlf", "alice", "Alice", 0),
		msg("crlf", 1, "alice", "one\rtwo", 1), msg("crlf", 2, "alice", "three\r\nfour", 2),
		msg("crlf", 3, "alice", "\r=1+1", 3))
	s, err := r.LatestSession(context.Background(), "crlf")
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := r.WriteCSV(context.Background(), &buf, CSVScope{SessionID: s.ID}, CSVOptions{}); err != nil {
		t.Fatal(err)
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

// TestUploadNeedsCanPublishData: a participant whose token does not allow
// publishing data cannot upload an attachment (it could not send the
// message that carries it either).
func TestUploadNeedsCanPublishData(t *testing.T) {
	e := newAPIEnv(t, sqliteBackend, APIConfig{})
	mute, err := testKeys.Mint(auth.TokenOptions{Identity: "viewer", TTL: time.Hour,
		Grant: auth.VideoGrant{Room: "att", RoomJoin: true, CanPublishData: auth.Bool(false)}})
	if err != nil {
		t.Fatal(err)
	}
	envelope(t, e.do(t, "POST", "/v1/rooms/att/attachments?name=a.txt", mute, bytes.NewReader([]byte("hello"))), 403)
	if res := e.do(t, "POST", "/v1/rooms/att/attachments?name=a.txt", token(t, "alice", "att", false), bytes.NewReader([]byte("hello"))); res.StatusCode != 201 {
		t.Fatalf("upload with canPublishData: %d", res.StatusCode)
	}
}
