package app_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/backchannel-rtc/backchannel/internal/app"
	"github.com/backchannel-rtc/backchannel/recorder/recordertest"
)

// TestClusterAttachmentsFromAnyNode: with the --data folder shared (as
// docs/cluster.md asks), a file uploaded through one node is downloaded
// through another, with a link the second node signs.
func TestClusterAttachmentsFromAnyNode(t *testing.T) {
	dsn := recordertest.Postgres(t)
	shared := t.TempDir()
	nodes := []*app.App{
		startNode(t, dsn, func(c *app.Config) { c.DataDir = shared }),
		startNode(t, dsn, func(c *app.Config) { c.DataDir = shared }),
	}
	tok, err := nodes[0].Token("files", "alice", "Alice", false)
	if err != nil {
		t.Fatal(err)
	}
	body := "notes for the meeting, uploaded through one node"
	req, _ := http.NewRequest("POST", nodes[0].URL()+"/v1/rooms/files/attachments?name=notes.txt", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+tok)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var up struct{ ID string }
	_ = json.NewDecoder(res.Body).Decode(&up)
	res.Body.Close()
	if res.StatusCode != http.StatusCreated || up.ID == "" {
		t.Fatalf("upload: %d %+v", res.StatusCode, up)
	}
	req, _ = http.NewRequest("GET", nodes[1].URL()+"/v1/attachments/"+up.ID+"/url", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	res, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var link struct{ URL string }
	_ = json.NewDecoder(res.Body).Decode(&link)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(link.URL, nodes[1].URL()) {
		t.Fatalf("download link from the other node: %d %q", res.StatusCode, link.URL)
	}
	res, err = http.Get(link.URL)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || string(got) != body {
		t.Fatalf("download through the other node: %d %q", res.StatusCode, got)
	}
}
