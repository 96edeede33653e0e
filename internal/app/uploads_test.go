package app_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/backchannel-rtc/backchannel/internal/app"
)

// TestUploadLimitsWired: the server's upload limits reach the attachment
// endpoint: a participant past its burst gets 429 with Retry-After, and
// an upload past the room quota gets 413.
func TestUploadLimitsWired(t *testing.T) {
	a := startServer(t, nil, func(c *app.Config) {
		c.Uploads = app.UploadLimits{Rate: 1, Burst: 1, RoomQuota: 10}
	})
	post := func(identity, body string) *http.Response {
		t.Helper()
		tok, err := a.Token("up", identity, identity, false)
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest("POST", a.URL()+"/v1/rooms/up/attachments?name=n.txt", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res
	}
	if res := post("alice", "123456"); res.StatusCode != http.StatusCreated {
		t.Fatalf("first upload: %d", res.StatusCode)
	}
	if res := post("alice", "abcdef"); res.StatusCode != http.StatusTooManyRequests || res.Header.Get("Retry-After") == "" {
		t.Fatalf("second upload at once: %d, Retry-After %q", res.StatusCode, res.Header.Get("Retry-After"))
	}
	if res := post("bob", "abcdef"); res.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("upload past the room quota: %d", res.StatusCode)
	}
}
