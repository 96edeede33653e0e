package api

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/backchannel-rtc/backchannel/recorder/export"
	"github.com/backchannel-rtc/backchannel/recorder/internal/rectest"
)

func pythonCSV(t *testing.T, data []byte) [][]string {
	t.Helper()
	py, err := exec.LookPath("python3")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("python3 missing (CI=true: not skipping)")
		}
		t.Skip("python3 missing")
	}
	cmd := exec.Command(py, "-c", `import csv, io, json, sys
data = sys.stdin.buffer.read().decode("utf-8-sig")
print(json.dumps(list(csv.reader(io.StringIO(data, newline=""), strict=True))))`)
	cmd.Stdin = bytes.NewReader(data)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("python csv: %v: %s", err, out)
	}
	var rows [][]string
	if err := json.Unmarshal(out, &rows); err != nil {
		t.Fatalf("python output: %v: %s", err, out)
	}
	return rows
}

func testCSV(t *testing.T, b backend) {
	e := newAPIEnv(t, b, Config{})
	sid, mid := rectest.SeedChat(t, e.R)
	admin := token(t, "ops", "", true)

	d := answer(t, e.do(t, "GET", "/v1/sessions/"+sid+"/chat", admin, nil), 200)
	link, _ := d["chat_download_url"].(string)
	if exp := fmt.Sprint(d["chat_download_url_expiry"]); !strings.HasSuffix(exp, ".000Z") {
		t.Errorf("expiry %q: want RFC 3339 with milliseconds, UTC", exp)
	}
	expiry, err := time.Parse(time.RFC3339, fmt.Sprint(d["chat_download_url_expiry"]))
	if err != nil || !strings.HasPrefix(link, e.Srv.URL+"/") || expiry.Sub(e.Clock.Now()) > time.Hour+time.Second ||
		expiry.Sub(e.Clock.Now()) < 59*time.Minute {
		t.Fatalf("link %q expiry %v (%v)", link, d["chat_download_url_expiry"], err)
	}
	res := e.do(t, "GET", link, "", nil)
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "text/csv; charset=utf-8" ||
		res.Header.Get("Content-Disposition") != `attachment; filename="chat-`+sid+`.csv"` {
		t.Fatalf("download: %d %v %s", res.StatusCode, res.Header, body)
	}
	if !bytes.Contains(body, []byte("\r\n")) {
		t.Fatal("no CRLF line endings")
	}
	rows, err := csv.NewReader(bytes.NewReader(body)).ReadAll()
	if err != nil {
		t.Fatalf("encoding/csv: %v", err)
	}
	if !slices.Equal(rows[0], export.Header) || strings.Join(rows[0][:10], ",") !=
		"id,participantId,sessionId,meetingId,displayName,pinned,isEdited,payloadType,payload,createdAt" {
		t.Fatalf("header %v", rows[0])
	}
	// encoding/csv with UseCRLF writes a line break inside a quoted cell as
	// CRLF; Go's reader gives it back as LF, Python keeps CRLF.
	py := pythonCSV(t, body)
	for _, row := range py {
		for i := range row {
			row[i] = strings.ReplaceAll(row[i], "\r\n", "\n")
		}
	}
	if !slices.EqualFunc(py, rows, slices.Equal) {
		t.Fatalf("python reads differently:\n%q\n%q", py, rows)
	}
	if len(rows) != 13 {
		t.Fatalf("%d rows", len(rows))
	}
	by := map[string][]string{}
	for _, r := range rows[1:] {
		by[r[14]] = r
		if r[2] != sid || r[3] != mid {
			t.Fatalf("ids in %v", r)
		}
		if _, err := time.Parse("2006-01-02T15:04:05.000Z07:00", r[9]); err != nil || !strings.HasSuffix(r[9], "Z") || len(r[9]) != 24 {
			t.Fatalf("createdAt %q", r[9])
		}
	}
	check := func(seq string, col int, want string) {
		t.Helper()
		if got := by[seq][col]; got != want {
			t.Errorf("seq %s column %s = %q, want %q", seq, export.Header[col], got, want)
		}
	}
	check("1", 5, "true")
	check("1", 8, "hello, world")
	check("1", 12, "👍:alice|bob;🎉:carol")
	check("1", 9, "2025-03-14T09:00:01.000Z")
	check("2", 10, "bob")
	check("2", 7, "TEXT_MESSAGE")
	check("3", 6, "true")
	check("3", 8, "fixed")
	check("4", 13, "true")
	check("4", 8, "")
	check("5", 11, "mcsv000001")
	check("5", 8, "replying, with \"quotes\"\nand a newline")
	check("6", 7, "IMAGE_MESSAGE")
	check("7", 7, "FILE_MESSAGE")
	check("8", 4, `'=HYPERLINK("x")`)
	check("8", 8, "'=1+1")
	check("9", 8, "'-2+3")
	check("10", 8, "'@SUM(A1)")
	check("11", 8, "'\tcmd")
	check("12", 8, "日本語 ✓ émoji 🎉")
	check("1", 13, "false")
	// The file payloads are working signed download URLs.
	for _, seq := range []string{"6", "7"} {
		u := by[seq][8]
		if !strings.HasPrefix(u, e.Srv.URL+"/v1/attachments/") {
			t.Fatalf("payload %q", u)
		}
		if res := e.do(t, "GET", u, "", nil); res.StatusCode != 404 { // no bytes stored in this test
			t.Fatalf("payload URL refused: %d", res.StatusCode)
		}
	}
	// BOM on request.
	res = e.do(t, "GET", link+"&bom=1", "", nil)
	bb, _ := io.ReadAll(res.Body)
	if !bytes.HasPrefix(bb, []byte("\xEF\xBB\xBFid,participantId")) {
		t.Fatalf("no BOM: %q", bb[:20])
	}
	// The meeting's chat covers all its sessions.
	d = answer(t, e.do(t, "GET", "/v1/meetings/"+mid+"/chat", admin, nil), 200)
	res = e.do(t, "GET", d["chat_download_url"].(string), "", nil)
	mrows, err := csv.NewReader(res.Body).ReadAll()
	if err != nil || len(mrows) != 13 || res.Header.Get("Content-Disposition") != `attachment; filename="chat-`+mid+`.csv"` {
		t.Fatalf("meeting csv %d %v", len(mrows), err)
	}
	// Tampered and expired links are refused with a reason.
	u, _ := url.Parse(link)
	for name, mod := range map[string]func(u url.URL) string{
		"sig": func(u url.URL) string {
			q := u.Query()
			sig := q.Get("sig")
			first := "A" // a different first character (1 in 64 signatures begins with A)
			if sig[0] == 'A' {
				first = "B"
			}
			q.Set("sig", first+sig[1:])
			u.RawQuery = q.Encode()
			return u.String()
		},
		"exp": func(u url.URL) string {
			q := u.Query()
			q.Set("exp", q.Get("exp")+"0")
			u.RawQuery = q.Encode()
			return u.String()
		},
		"path": func(u url.URL) string { u.Path = "/v1/chat-replay/meetings/" + mid; return u.String() },
		"none": func(u url.URL) string { u.RawQuery = ""; return u.String() },
	} {
		if v := answer(t, e.do(t, "GET", mod(*u), "", nil), 403); !strings.Contains(fmt.Sprint(v["error"]), "signature") {
			t.Fatalf("%s tampering: %v", name, v)
		}
	}
	e.Clock.Add(time.Hour + 2*time.Second)
	if v := answer(t, e.do(t, "GET", link, "", nil), 403); !strings.Contains(fmt.Sprint(v["error"]), "expired") {
		t.Fatalf("expired: %v", v)
	}
	// Unknown ids: 404 in the same envelope.
	answer(t, e.do(t, "GET", "/v1/sessions/nope/chat", admin, nil), 404)
	answer(t, e.do(t, "GET", "/v1/meetings/nope/chat", admin, nil), 404)
	// Auth.
	answer(t, e.do(t, "GET", "/v1/sessions/"+sid+"/chat", "", nil), 401)
	answer(t, e.do(t, "GET", "/v1/sessions/"+sid+"/chat", "garbage", nil), 401)
	answer(t, e.do(t, "GET", "/v1/sessions/"+sid+"/chat", token(t, "alice", "csv", false), nil), 403)
	answer(t, e.do(t, "GET", "/v1/sessions/"+sid+"/chat", token(t, "ops", "other-room", true), nil), 404)
	answer(t, e.do(t, "GET", "/v1/sessions/"+sid+"/chat", token(t, "ops", "csv", true), nil), 200)
}

func testAdminAPI(t *testing.T, b backend) {
	e := newAPIEnv(t, b, Config{PublicURL: "https://meet.example.com/"})
	sid, mid := rectest.SeedChat(t, e.R)
	admin := token(t, "ops", "", true)
	writeAll(t, e.R, msg("csv", 13, "bob", "100% of_it", 20), msg("other", 1, "x", "100% elsewhere", 20))

	d := answer(t, e.do(t, "GET", "/v1/meetings", admin, nil), 200)
	if ms := d["meetings"].([]any); len(ms) != 2 {
		t.Fatalf("meetings %v", d)
	}
	d = answer(t, e.do(t, "GET", "/v1/meetings?room=csv", admin, nil), 200)
	ms := d["meetings"].([]any)
	if len(ms) != 1 || ms[0].(map[string]any)["id"] != mid || ms[0].(map[string]any)["live"] != true {
		t.Fatalf("meetings?room %v", d)
	}
	answer(t, e.do(t, "GET", "/v1/meetings?room=csv", token(t, "ops", "other", true), nil), 403)
	answer(t, e.do(t, "GET", "/v1/meetings", token(t, "alice", "csv", false), nil), 403)
	answer(t, e.do(t, "GET", "/v1/meetings", "", nil), 401)

	d = answer(t, e.do(t, "GET", "/v1/meetings/"+mid, admin, nil), 200)
	ss := d["sessions"].([]any)
	s0 := ss[0].(map[string]any)
	if len(ss) != 1 || s0["id"] != sid || s0["messageCount"].(float64) != 13 || len(s0["participants"].([]any)) != 3 {
		t.Fatalf("meeting %v", d)
	}
	answer(t, e.do(t, "GET", "/v1/meetings/nope", admin, nil), 404)

	// Pagination, admin view (private recipients visible).
	var seqs []float64
	cursor := ""
	for pages := 0; ; pages++ {
		d = answer(t, e.do(t, "GET", "/v1/sessions/"+sid+"/messages?limit=5&cursor="+cursor, admin, nil), 200)
		for _, m := range d["messages"].([]any) {
			mm := m.(map[string]any)
			seqs = append(seqs, mm["seq"].(float64))
			// Chat packets leave kind and text out at their defaults;
			// this API's message object keeps both (docs/api.md).
			if _, ok := mm["kind"].(string); !ok {
				t.Fatalf("a message without kind: %v", mm)
			}
			if _, ok := mm["text"].(string); !ok {
				t.Fatalf("a message without text: %v", mm)
			}
			if mm["seq"].(float64) == 2 && fmt.Sprint(mm["to"]) != "[bob]" {
				t.Fatalf("private recipients hidden from admin: %v", mm)
			}
			if mm["seq"].(float64) == 6 && !strings.HasPrefix(fmt.Sprint(mm["attachmentUrl"]), "https://meet.example.com/v1/attachments/") {
				t.Fatalf("attachment url %v", mm["attachmentUrl"])
			}
		}
		cursor, _ = d["nextCursor"].(string)
		if cursor == "" || pages > 10 {
			break
		}
	}
	if len(seqs) != 13 || seqs[0] != 1 || seqs[12] != 13 {
		t.Fatalf("paginated seqs %v", seqs)
	}
	d = answer(t, e.do(t, "GET", "/v1/sessions/"+sid+"/messages?limit=100000", admin, nil), 200)
	if len(d["messages"].([]any)) != 13 {
		t.Fatal("limit not clamped to max")
	}
	d = answer(t, e.do(t, "GET", "/v1/sessions/"+sid+"/messages?limit=-4", admin, nil), 200)
	if len(d["messages"].([]any)) != 1 {
		t.Fatal("limit not clamped to 1")
	}
	answer(t, e.do(t, "GET", "/v1/sessions/"+sid+"/messages?cursor=x", admin, nil), 400)

	// Search: case-insensitive, LIKE metacharacters literal, one meeting.
	search := func(q string) []string {
		d := answer(t, e.do(t, "GET", "/v1/meetings/"+mid+"/messages/search?q="+url.QueryEscape(q), admin, nil), 200)
		var ids []string
		for _, m := range d["messages"].([]any) {
			ids = append(ids, m.(map[string]any)["id"].(string))
		}
		return ids
	}
	if got := search("HELLO"); !slices.Equal(got, []string{"mcsv000001"}) {
		t.Fatalf("search HELLO %v", got)
	}
	if got := search("100%"); !slices.Equal(got, []string{"mcsv000013"}) {
		t.Fatalf("search 100%% %v", got)
	}
	if got := search("%"); len(got) != 1 {
		t.Fatalf("search %% matched %v", got)
	}
	if got := search("0_ of"); len(got) != 0 {
		t.Fatalf("underscore is a wildcard: %v", got)
	}
	if got := search("regret"); len(got) != 0 {
		t.Fatalf("deleted text found: %v", got)
	}
	if got := search(strings.Repeat("x", 5000)); len(got) != 0 {
		t.Fatalf("long query %v", got)
	}
	answer(t, e.do(t, "GET", "/v1/meetings/"+mid+"/messages/search?q=", admin, nil), 400)

	d = answer(t, e.do(t, "GET", "/v1/sessions/"+sid+"/chat", admin, nil), 200)
	if !strings.HasPrefix(d["chat_download_url"].(string), "https://meet.example.com/v1/chat-replay/sessions/"+sid+"?") {
		t.Fatalf("PublicURL not used: %v", d)
	}
}
