package rectest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/backchannel-rtc/backchannel/auth"
	"github.com/backchannel-rtc/backchannel/recorder"
)

// Keys are the test server's API key and secret.
var Keys = auth.KeyProvider{APIKey: "APIkey", APISecret: "secret-of-at-least-32-bytes-xxxxxxxxx"}

// Token mints a token of Keys for identity in room ("" for every room).
func Token(t testing.TB, identity, room string, admin bool) string {
	t.Helper()
	tok, err := Keys.Mint(auth.TokenOptions{Identity: identity, Name: identity,
		Grant: auth.VideoGrant{Room: room, RoomJoin: true, RoomAdmin: admin}, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// Clock is a settable test clock.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock starts at the current time.
func NewClock() *Clock { return &Clock{t: time.Now()} }

// Now is the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Add moves the clock.
func (c *Clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// Env is a recorder behind a real HTTP server.
type Env struct {
	R     *recorder.Recorder
	Srv   *httptest.Server
	Clock *Clock
}

// NewEnv opens a recorder on b and serves what register adds to a mux,
// with the env's clock.
func NewEnv(t testing.TB, b Backend, register func(mux *http.ServeMux, r *recorder.Recorder, now func() time.Time)) *Env {
	r := Open(t, b.Config(t))
	c := NewClock()
	mux := http.NewServeMux()
	register(mux, r, c.Now)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &Env{R: r, Srv: srv, Clock: c}
}

// Do sends a request to path (or to an absolute URL); tok "" sends no
// token; hdr are header name, value pairs.
func (e *Env) Do(t testing.TB, method, path, tok string, body io.Reader, hdr ...string) *http.Response {
	t.Helper()
	u := path
	if !strings.HasPrefix(u, "http") {
		u = e.Srv.URL + path
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

// Envelope decodes a RealtimeKit-style answer, checking the status; it
// returns data when there is one, else the whole answer.
func Envelope(t testing.TB, res *http.Response, code int) map[string]any {
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
