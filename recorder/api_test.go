package recorder

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/backchannel-rtc/backchannel/auth"
	"github.com/backchannel-rtc/backchannel/chat"
)

var testKeys = auth.KeyProvider{APIKey: "APIkey", APISecret: "secret-of-at-least-32-bytes-xxxxxxxxx"}

func token(t testing.TB, identity, room string, admin bool) string {
	t.Helper()
	tok, err := testKeys.Mint(auth.TokenOptions{Identity: identity, Name: identity,
		Grant: auth.VideoGrant{Room: room, RoomJoin: true, RoomAdmin: admin}, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type apiEnv struct {
	r     *Recorder
	srv   *httptest.Server
	clock *clock
}

func newAPIEnv(t *testing.T, b backend, cfg APIConfig) *apiEnv {
	r := openT(t, b.config(t))
	c := &clock{t: time.Now()}
	cfg.Now = c.now
	srv := httptest.NewServer(r.Handler(testKeys, cfg))
	t.Cleanup(srv.Close)
	return &apiEnv{r: r, srv: srv, clock: c}
}

// do sends a request; tok "" sends none.
func (e *apiEnv) do(t testing.TB, method, path, tok string, body io.Reader, hdr ...string) *http.Response {
	t.Helper()
	u := path
	if !strings.HasPrefix(u, "http") {
		u = e.srv.URL + path
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { res.Body.Close() })
	return res
}

// envelope decodes a RealtimeKit-style answer, checking the status.
func envelope(t testing.TB, res *http.Response, code int) map[string]any {
	t.Helper()
	var v map[string]any
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != code {
		t.Fatalf("%s: status %d, want %d: %s", res.Request.URL.Path, res.StatusCode, code, b)
	}
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("not JSON: %s", b)
	}
	if ok, _ := v["success"].(bool); ok != (code < 300) {
		t.Fatalf("success=%v for %d: %s", v["success"], code, b)
	}
	if d, ok := v["data"].(map[string]any); ok {
		return d
	}
	return v
}

// seedChat records a session with every kind of message; it returns the
// session id and meeting id.
func seedChat(t *testing.T, r *Recorder) (sessionID, meetingID string) {
	img := AttachmentRow{ID: "01JIMAGE000000000000000001", Room: "csv", Uploader: "alice", Name: "cat.png",
		ContentType: "image/png", Size: 4, Hash: strings.Repeat("ab", 32), Image: true, Width: 1, Height: 1, CreatedAt: at(0)}
	file := AttachmentRow{ID: "01JFILE0000000000000000001", Room: "csv", Uploader: "bob", Name: "notes.pdf",
		ContentType: "application/pdf", Size: 9, Hash: strings.Repeat("cd", 32), CreatedAt: at(0)}
	if err := r.db.Create(&[]AttachmentRow{img, file}).Error; err != nil {
		t.Fatal(err)
	}
	mk := func(seq int64, from, name, text string, sec int, to ...string) chat.Change {
		c := msg("csv", seq, from, text, sec, to...)
		c.Message.SenderName = name
		return c
	}
	imgMsg := mk(6, "alice", "Alice", "", 6)
	imgMsg.Message.Kind, imgMsg.Message.Attachment = chat.KindImage, img.chat()
	fileMsg := mk(7, "bob", "Bob", "", 7)
	fileMsg.Message.Kind, fileMsg.Message.Attachment = chat.KindFile, file.chat()
	reply := mk(5, "bob", "Bob", "replying, with \"quotes\"\nand a newline", 5)
	reply.Message.ReplyTo = "mcsv000001"
	writeAll(t, r,
		join("csv", "alice", "Alice", 0), join("csv", "bob", "Bob", 0), join("csv", "mallory", "=HYPERLINK(\"x\")", 0),
		mk(1, "alice", "Alice", "hello, world", 1),
		mk(2, "alice", "Alice", "psst", 2, "bob"),
		mk(3, "bob", "Bob", "typo", 3),
		mk(4, "bob", "Bob", "regret", 4),
		reply, imgMsg, fileMsg,
		mk(8, "mallory", "=HYPERLINK(\"x\")", "=1+1", 8),
		mk(9, "mallory", "=HYPERLINK(\"x\")", "-2+3", 9),
		mk(10, "mallory", "=HYPERLINK(\"x\")", "@SUM(A1)", 10),
		mk(11, "mallory", "=HYPERLINK(\"x\")", "\tcmd", 11),
		mk(12, "alice", "Alice", "日本語 ✓ émoji 🎉", 12),
		chat.Change{Kind: chat.ChangeEdit, Room: "csv", MessageID: "mcsv000003", Text: "fixed", Identity: "bob", At: at(13)},
		chat.Change{Kind: chat.ChangeDelete, Room: "csv", MessageID: "mcsv000004", Identity: "bob", At: at(14)},
		chat.Change{Kind: chat.ChangeReaction, Room: "csv", MessageID: "mcsv000001", Identity: "alice", Emoji: "👍", On: true, At: at(15)},
		chat.Change{Kind: chat.ChangeReaction, Room: "csv", MessageID: "mcsv000001", Identity: "bob", Emoji: "👍", On: true, At: at(16)},
		chat.Change{Kind: chat.ChangeReaction, Room: "csv", MessageID: "mcsv000001", Identity: "carol", Emoji: "🎉", On: true, At: at(17)},
		chat.Change{Kind: chat.ChangePin, Room: "csv", MessageID: "mcsv000001", Identity: "alice", On: true, At: at(18)},
	)
	var s Session
	if err := r.db.Where("room = ?", "csv").Take(&s).Error; err != nil {
		t.Fatal(err)
	}
	return s.ID, s.MeetingID
}

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
	e := newAPIEnv(t, b, APIConfig{})
	sid, mid := seedChat(t, e.r)
	admin := token(t, "ops", "", true)

	d := envelope(t, e.do(t, "GET", "/v1/sessions/"+sid+"/chat", admin, nil), 200)
	link, _ := d["chat_download_url"].(string)
	expiry, err := time.Parse(time.RFC3339, fmt.Sprint(d["chat_download_url_expiry"]))
	if err != nil || !strings.HasPrefix(link, e.srv.URL+"/") || expiry.Sub(e.clock.now()) > time.Hour+time.Second ||
		expiry.Sub(e.clock.now()) < 59*time.Minute {
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
	if !slices.Equal(rows[0], CSVHeader) || strings.Join(rows[0][:10], ",") !=
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
		if _, err := time.Parse(csvTime, r[9]); err != nil || !strings.HasSuffix(r[9], "Z") || len(r[9]) != 24 {
			t.Fatalf("createdAt %q", r[9])
		}
	}
	check := func(seq string, col int, want string) {
		t.Helper()
		if got := by[seq][col]; got != want {
			t.Errorf("seq %s column %s = %q, want %q", seq, CSVHeader[col], got, want)
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
		if !strings.HasPrefix(u, e.srv.URL+"/v1/attachments/") {
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
	d = envelope(t, e.do(t, "GET", "/v1/meetings/"+mid+"/chat", admin, nil), 200)
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
		if v := envelope(t, e.do(t, "GET", mod(*u), "", nil), 403); !strings.Contains(fmt.Sprint(v["error"]), "signature") {
			t.Fatalf("%s tampering: %v", name, v)
		}
	}
	e.clock.add(time.Hour + 2*time.Second)
	if v := envelope(t, e.do(t, "GET", link, "", nil), 403); !strings.Contains(fmt.Sprint(v["error"]), "expired") {
		t.Fatalf("expired: %v", v)
	}
	// Unknown ids: 404 in the same envelope.
	envelope(t, e.do(t, "GET", "/v1/sessions/nope/chat", admin, nil), 404)
	envelope(t, e.do(t, "GET", "/v1/meetings/nope/chat", admin, nil), 404)
	// Auth.
	envelope(t, e.do(t, "GET", "/v1/sessions/"+sid+"/chat", "", nil), 401)
	envelope(t, e.do(t, "GET", "/v1/sessions/"+sid+"/chat", "garbage", nil), 401)
	envelope(t, e.do(t, "GET", "/v1/sessions/"+sid+"/chat", token(t, "alice", "csv", false), nil), 403)
	envelope(t, e.do(t, "GET", "/v1/sessions/"+sid+"/chat", token(t, "ops", "other-room", true), nil), 404)
	envelope(t, e.do(t, "GET", "/v1/sessions/"+sid+"/chat", token(t, "ops", "csv", true), nil), 200)
}

func testAdminAPI(t *testing.T, b backend) {
	e := newAPIEnv(t, b, APIConfig{PublicURL: "https://meet.example.com/"})
	sid, mid := seedChat(t, e.r)
	admin := token(t, "ops", "", true)
	writeAll(t, e.r, msg("csv", 13, "bob", "100% of_it", 20), msg("other", 1, "x", "100% elsewhere", 20))

	d := envelope(t, e.do(t, "GET", "/v1/meetings", admin, nil), 200)
	if ms := d["meetings"].([]any); len(ms) != 2 {
		t.Fatalf("meetings %v", d)
	}
	d = envelope(t, e.do(t, "GET", "/v1/meetings?room=csv", admin, nil), 200)
	ms := d["meetings"].([]any)
	if len(ms) != 1 || ms[0].(map[string]any)["id"] != mid || ms[0].(map[string]any)["live"] != true {
		t.Fatalf("meetings?room %v", d)
	}
	envelope(t, e.do(t, "GET", "/v1/meetings?room=csv", token(t, "ops", "other", true), nil), 403)
	envelope(t, e.do(t, "GET", "/v1/meetings", token(t, "alice", "csv", false), nil), 403)
	envelope(t, e.do(t, "GET", "/v1/meetings", "", nil), 401)

	d = envelope(t, e.do(t, "GET", "/v1/meetings/"+mid, admin, nil), 200)
	ss := d["sessions"].([]any)
	s0 := ss[0].(map[string]any)
	if len(ss) != 1 || s0["id"] != sid || s0["messageCount"].(float64) != 13 || len(s0["participants"].([]any)) != 3 {
		t.Fatalf("meeting %v", d)
	}
	envelope(t, e.do(t, "GET", "/v1/meetings/nope", admin, nil), 404)

	// Pagination, admin view (private recipients visible).
	var seqs []float64
	cursor := ""
	for pages := 0; ; pages++ {
		d = envelope(t, e.do(t, "GET", "/v1/sessions/"+sid+"/messages?limit=5&cursor="+cursor, admin, nil), 200)
		for _, m := range d["messages"].([]any) {
			mm := m.(map[string]any)
			seqs = append(seqs, mm["seq"].(float64))
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
	d = envelope(t, e.do(t, "GET", "/v1/sessions/"+sid+"/messages?limit=100000", admin, nil), 200)
	if len(d["messages"].([]any)) != 13 {
		t.Fatal("limit not clamped to max")
	}
	d = envelope(t, e.do(t, "GET", "/v1/sessions/"+sid+"/messages?limit=-4", admin, nil), 200)
	if len(d["messages"].([]any)) != 1 {
		t.Fatal("limit not clamped to 1")
	}
	envelope(t, e.do(t, "GET", "/v1/sessions/"+sid+"/messages?cursor=x", admin, nil), 400)

	// Search: case-insensitive, LIKE metacharacters literal, one meeting.
	search := func(q string) []string {
		d := envelope(t, e.do(t, "GET", "/v1/meetings/"+mid+"/messages/search?q="+url.QueryEscape(q), admin, nil), 200)
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
	envelope(t, e.do(t, "GET", "/v1/meetings/"+mid+"/messages/search?q=", admin, nil), 400)

	d = envelope(t, e.do(t, "GET", "/v1/sessions/"+sid+"/chat", admin, nil), 200)
	if !strings.HasPrefix(d["chat_download_url"].(string), "https://meet.example.com/v1/chat-replay/sessions/"+sid+"?") {
		t.Fatalf("PublicURL not used: %v", d)
	}
}
