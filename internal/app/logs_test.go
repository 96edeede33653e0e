package app_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/backchannel-rtc/backchannel/auth"
	"github.com/backchannel-rtc/backchannel/client"
	"github.com/backchannel-rtc/backchannel/internal/app"
	"github.com/backchannel-rtc/backchannel/internal/logs"
)

// syncBuffer is the log's destination: handlers write from many
// goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestMeetingLogIsJSONWithoutSecrets runs one meeting (two participants,
// chat, an upload and its download, the API, refused sockets, a leave and
// a shutdown) on a server logging JSON at debug, Pion's lines included:
// every line is a JSON object; the
// joins, the leaves with their reasons, the API requests with their ids
// and the refused sockets are there; and neither the API secret nor any
// token nor any signed link appears anywhere in it.
func TestMeetingLogIsJSONWithoutSecrets(t *testing.T) {
	const secret = "logtest-secret-9f8e7d6c5b4a"
	var buf syncBuffer
	log, err := logs.New(&buf, "json", slog.LevelDebug)
	if err != nil {
		t.Fatal(err)
	}
	a := startServer(t, nil, func(c *app.Config) {
		c.APISecret, c.Logger, c.Dev = secret, log, true
	})
	keys := auth.KeyProvider{APIKey: "testkey", APISecret: secret}
	var tokens []string // everything that must not be logged
	mint := func(o auth.TokenOptions) string {
		tok, err := keys.Mint(o)
		if err != nil {
			t.Fatal(err)
		}
		tokens = append(tokens, tok)
		return tok
	}
	httpDo := func(method, url, tok string, body io.Reader) (*http.Response, []byte) {
		req, _ := http.NewRequest(method, url, body)
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	// The browser's way in under --dev: a token from the server.
	resp, b := httpDo("GET", a.URL()+"/v1/dev/token?room=standup&name=alice", "", nil)
	var dev struct{ Token string }
	if err := json.Unmarshal(b, &dev); err != nil || resp.StatusCode != 200 {
		t.Fatalf("dev token: %d %s", resp.StatusCode, b)
	}
	tokens = append(tokens, dev.Token)
	alice, err := client.Join(ctx, a.URL(), dev.Token, client.Options{LoopbackOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer alice.Close()
	bob, err := client.Join(ctx, a.URL(), mint(auth.TokenOptions{Identity: "bob",
		Grant: auth.VideoGrant{Room: "standup", RoomJoin: true}}), client.Options{LoopbackOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		msg, _ := json.Marshal(map[string]string{"type": "chat", "clientId": "c" + string(rune('0'+i)), "text": "hello"})
		if err := alice.SendChat(msg); err != nil {
			t.Fatal(err)
		}
	}

	// An upload, and its signed download link.
	resp, b = httpDo("POST", a.URL()+"/v1/rooms/standup/attachments?name=notes.txt", dev.Token, strings.NewReader("notes\n"))
	var up struct{ ID string }
	if json.Unmarshal(b, &up); resp.StatusCode != 201 || up.ID == "" {
		t.Fatalf("upload: %d %s", resp.StatusCode, b)
	}
	resp, b = httpDo("GET", a.URL()+"/v1/attachments/"+up.ID+"/url", dev.Token, nil)
	var link struct {
		URL  string `json:"url"`
		Data struct {
			URL string `json:"url"`
		} `json:"data"` // should the answer ever take the API's envelope
	}
	json.Unmarshal(b, &link)
	if link.URL == "" {
		link.URL = link.Data.URL
	}
	if resp.StatusCode != 200 || !strings.Contains(link.URL, "?") {
		t.Fatalf("attachment url: %d %s", resp.StatusCode, b)
	}
	_, query, _ := strings.Cut(link.URL, "?")
	if resp, _ := httpDo("GET", link.URL, "", nil); resp.StatusCode != 200 {
		t.Fatalf("download: %d", resp.StatusCode)
	}

	// The API, with a request id of ours and one of the server's.
	admin := mint(auth.TokenOptions{Identity: "ops", Grant: auth.VideoGrant{RoomAdmin: true}})
	req, _ := http.NewRequest("GET", a.URL()+"/v1/meetings?room=standup", nil)
	req.Header.Set("Authorization", "Bearer "+admin)
	req.Header.Set("X-Request-Id", "proxy-id-42")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("X-Request-Id") != "proxy-id-42" {
		t.Fatalf("meetings: %d, X-Request-Id %q", resp.StatusCode, resp.Header.Get("X-Request-Id"))
	}
	resp, _ = httpDo("GET", a.URL()+"/v1/no-such-route", admin, nil)
	serverID := resp.Header.Get("X-Request-Id")
	if resp.StatusCode != 404 || len(serverID) != 24 {
		t.Fatalf("404: %d, X-Request-Id %q", resp.StatusCode, serverID)
	}

	// Refused sockets: a forged token, an expired one, one for no room.
	forged, _ := auth.KeyProvider{APIKey: "testkey", APISecret: "not-the-secret"}.Mint(auth.TokenOptions{
		Identity: "mallory", Grant: auth.VideoGrant{Room: "standup", RoomJoin: true}})
	tokens = append(tokens, forged)
	expired := mint(auth.TokenOptions{Identity: "late", TTL: time.Second, NotBefore: time.Now().Add(-time.Hour),
		Grant: auth.VideoGrant{Room: "standup", RoomJoin: true}})
	for _, tok := range []string{forged, expired, admin} {
		if _, err := client.Join(ctx, a.URL(), tok, client.Options{LoopbackOnly: true}); err == nil {
			t.Fatal("a bad token joined")
		}
	}

	// Bob leaves; alice is there until the server shuts down.
	if err := bob.Close(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "bob's leave", func() bool {
		return strings.Contains(buf.String(), `"msg":"participant left","request_id"`) // alice's comes at shutdown
	})
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}

	out := buf.String()
	for _, s := range append(tokens, secret, query) {
		if s != "" && strings.Contains(out, s) {
			t.Errorf("the log contains a secret, token or signed link: %.40s…", s)
		}
	}
	for _, tok := range tokens { // nor a token's signature alone
		if i := strings.LastIndexByte(tok, '.'); i > 0 && strings.Contains(out, tok[i+1:]) {
			t.Errorf("the log contains a token's signature")
		}
	}

	type line map[string]any
	var lines []line
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var l line
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("not a JSON line: %v: %s", err, sc.Text())
		}
		lines = append(lines, l)
	}
	t.Logf("%d log lines", len(lines))
	find := func(what string, match func(l line) bool) line {
		t.Helper()
		for _, l := range lines {
			if match(l) {
				return l
			}
		}
		t.Errorf("no %s line in the log", what)
		return nil
	}
	is := func(kv ...any) func(l line) bool {
		return func(l line) bool {
			for i := 0; i < len(kv); i += 2 {
				if l[kv[i].(string)] != kv[i+1] {
					return false
				}
			}
			return true
		}
	}
	find("alice's join", is("msg", "participant joined", "identity", "alice", "room", "standup"))
	find("bob's join", is("msg", "participant joined", "identity", "bob", "room", "standup"))
	// A client that says leave and closes its connections at once may
	// be seen first through its chat channel closing.
	if l := find("bob's leave", is("msg", "participant left", "identity", "bob")); l != nil &&
		l["reason"] != "client left" && l["reason"] != "chat channel closed" {
		t.Errorf("bob's leave: %v", l)
	}
	find("alice's leave at shutdown", is("msg", "participant left", "identity", "alice", "reason", "server shutting down"))
	find("the forged token's refusal", is("msg", "socket refused", "reason", "invalid token signature", "status", 401.0))
	find("the expired token's refusal", is("msg", "socket refused", "reason", "token expired"))
	find("the room-less token's refusal", is("msg", "socket refused", "identity", "ops", "status", 403.0))
	find("the upload", is("msg", "http request", "method", "POST", "route", "/v1/rooms/{room}/attachments", "status", 201.0))
	find("the download", is("msg", "http request", "route", "/v1/attachments/{id}", "status", 200.0))
	api := find("the meetings API call", is("msg", "http request", "method", "GET", "route", "/v1/meetings", "status", 200.0,
		"request_id", "proxy-id-42"))
	if _, ok := api["duration_ms"].(float64); api != nil && !ok {
		t.Errorf("API line without a duration: %v", api)
	}
	find("the 404", is("msg", "http request", "status", 404.0, "request_id", serverID))
	// Pion's lines come through slog, and a meeting that goes well has
	// none above debug: the default level shows none of them.
	find("Pion's own lines", is("component", "pion", "level", "DEBUG"))
	for _, l := range lines {
		if l["component"] == "pion" && l["level"] != "DEBUG" {
			t.Errorf("Pion logs above debug in a meeting that went well: %v", l)
		}
	}
}
