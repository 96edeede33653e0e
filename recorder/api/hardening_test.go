package api

import (
	"net/url"
	"testing"

	"github.com/backchannel-rtc/backchannel/recorder/internal/rectest"
)

// TestAPIHostileQueries: huge, negative, overflowing and garbage limits
// and cursors on every paginated admin endpoint are clamped or refused
// (400), never passed to the database as they are.
func TestAPIHostileQueries(t *testing.T) {
	for _, b := range []backend{sqliteBackend, postgresBackend} {
		t.Run(b.Name, func(t *testing.T) {
			e := newAPIEnv(t, b, Config{})
			sid, mid := rectest.SeedChat(t, e.R)
			admin := token(t, "ops", "csv", true)
			count := func(path string, code int) (int, string) {
				t.Helper()
				d := answer(t, e.do(t, "GET", path, admin, nil), code)
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
