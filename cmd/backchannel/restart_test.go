package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/backchannel-rtc/backchannel/auth"
	"github.com/backchannel-rtc/backchannel/client"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// binary builds the real backchannel binary once per test run.
func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "bc-bin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "backchannel")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

func freePort(t *testing.T, network string) int {
	t.Helper()
	if network == "udp" {
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.LocalAddr().(*net.UDPAddr).Port
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// server is a backchannel process under test.
type server struct {
	cmd  *exec.Cmd
	url  string
	log  *lockedBuffer // read while the process writes
	args []string
}

func startProcess(t *testing.T, data string, httpPort, udpPort int) *server {
	t.Helper()
	return startProcessWith(t, data, httpPort, udpPort, nil)
}

// startProcessWith adds environment variables (NAME=value) and flags.
func startProcessWith(t *testing.T, data string, httpPort, udpPort int, env []string, flags ...string) *server {
	t.Helper()
	args := []string{"serve", "--dev", "--chat-rate", "0", "--data", data,
		"--addr", fmt.Sprintf("127.0.0.1:%d", httpPort), "--rtc-bind", "127.0.0.1",
		"--rtc-udp-port", fmt.Sprint(udpPort), "--rtc-tcp-port", "0", "--log-level", "warn"}
	args = append(args, flags...)
	s := &server{url: fmt.Sprintf("http://127.0.0.1:%d", httpPort), log: &lockedBuffer{}, args: args}
	s.cmd = exec.Command(binary(t), args...)
	s.cmd.Env = append(os.Environ(), env...)
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = s.cmd.Process.Kill()
		_ = s.cmd.Wait()
	})
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get(s.url + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return s
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("server did not come up: %v\n%s", err, s.log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

type packet struct {
	Type     string `json:"type"`
	ClientID string `json:"clientId"`
	ID       string `json:"id"`
	Seq      int64  `json:"seq"`
	More     bool   `json:"more"`
	Code     string `json:"code"`
	Messages []struct {
		ID   string `json:"id"`
		Seq  int64  `json:"seq"`
		Text string `json:"text"`
	} `json:"messages"`
}

type chatClient struct {
	*client.Client
	mu      sync.Mutex
	acks    map[string]string // clientId -> message id
	pages   chan packet
	replays chan packet
}

func joinChat(t *testing.T, url, room, identity string) *chatClient {
	t.Helper()
	tok, err := auth.KeyProvider{APIKey: "devkey", APISecret: "secret"}.Mint(auth.TokenOptions{
		Identity: identity, Grant: auth.VideoGrant{Room: room, RoomJoin: true}})
	if err != nil {
		t.Fatal(err)
	}
	c := &chatClient{acks: map[string]string{}, pages: make(chan packet, 16), replays: make(chan packet, 4)}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	c.Client, err = client.Join(ctx, url, tok, client.Options{LoopbackOnly: true, OnChat: func(b []byte) {
		var p packet
		if json.Unmarshal(b, &p) != nil {
			return
		}
		switch {
		case p.Type == "ack":
			c.mu.Lock()
			c.acks[p.ClientID] = p.ID
			c.mu.Unlock()
		case p.Type == "history" && p.ClientID == "page":
			c.pages <- p
		case p.Type == "history":
			select {
			case c.replays <- p:
			default:
			}
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func (c *chatClient) acked() map[string]string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]string, len(c.acks))
	for k, v := range c.acks {
		out[k] = v
	}
	return out
}

func (c *chatClient) say(t *testing.T, clientID string) {
	t.Helper()
	b, _ := json.Marshal(map[string]string{"type": "chat", "clientId": clientID, "text": clientID})
	if err := c.SendChat(b); err != nil {
		t.Fatal(err)
	}
}

// history pages back through the whole room: text -> ids seen.
func (c *chatClient) history(t *testing.T) map[string][]string {
	t.Helper()
	seen := map[string][]string{}
	before := int64(0)
	for {
		b, _ := json.Marshal(map[string]any{"type": "history", "clientId": "page", "before": before, "limit": 100})
		if err := c.SendChat(b); err != nil {
			t.Fatal(err)
		}
		var p packet
		select {
		case p = <-c.pages:
		case <-time.After(10 * time.Second):
			t.Fatal("no history page")
		}
		for _, m := range p.Messages {
			seen[m.Text] = append(seen[m.Text], m.ID)
		}
		if !p.More || len(p.Messages) == 0 {
			return seen
		}
		before = p.Messages[0].Seq
	}
}

// TestKilledServerLosesNoAckedMessage: the server is killed with SIGKILL
// while a client is sending; after a restart every acknowledged message is
// in history and in the CSV export exactly once, and retrying the unacked
// ones by clientId creates no duplicate.
func TestKilledServerLosesNoAckedMessage(t *testing.T) {
	data := t.TempDir()
	httpPort, udpPort := freePort(t, "tcp"), freePort(t, "udp")
	s := startProcess(t, data, httpPort, udpPort)
	c := joinChat(t, s.url, "restart", "alice")

	const ackedTarget, total = 300, 2000
	sent := 0
	for ; sent < total; sent++ {
		c.say(t, fmt.Sprintf("m-%05d", sent))
		if len(c.acked()) >= ackedTarget {
			break
		}
		if sent%50 == 49 {
			time.Sleep(2 * time.Millisecond) // let acks come back while sending
		}
	}
	for len(c.acked()) < ackedTarget {
		time.Sleep(time.Millisecond)
	}
	// Kill it mid-stream: more messages are in flight than acked.
	for i := 0; i < 50; i++ {
		sent++
		c.say(t, fmt.Sprintf("m-%05d", sent-1))
	}
	if err := s.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = s.cmd.Wait()
	acked := c.acked()
	t.Logf("sent %d, acked %d before SIGKILL", sent, len(acked))

	s2 := startProcess(t, data, httpPort, udpPort)
	c2 := joinChat(t, s2.url, "restart", "alice")
	hist := c2.history(t)
	for cid, id := range acked {
		ids := hist[cid]
		if len(ids) != 1 || ids[0] != id {
			t.Fatalf("acked message %s (%s) is in history as %v", cid, id, ids)
		}
	}
	for text, ids := range hist {
		if len(ids) != 1 {
			t.Fatalf("%s is in history %d times", text, len(ids))
		}
	}

	// The client retries everything it sent that was not acked, with the
	// same clientId: whatever the dead server had already stored is
	// answered with its original ack, the rest is created once.
	for i := range sent {
		cid := fmt.Sprintf("m-%05d", i)
		if _, ok := acked[cid]; !ok {
			c2.say(t, cid)
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	for len(c2.acked()) < sent-len(acked) {
		if time.Now().After(deadline) {
			t.Fatalf("retries acked: %d of %d", len(c2.acked()), sent-len(acked))
		}
		time.Sleep(10 * time.Millisecond)
	}
	hist = c2.history(t)
	if len(hist) != sent {
		t.Fatalf("history holds %d distinct messages, want %d", len(hist), sent)
	}
	for text, ids := range hist {
		if len(ids) != 1 {
			t.Fatalf("%s is in history %d times after the retry", text, len(ids))
		}
	}
	c2.Close()

	// The meeting's chat replay CSV (both sessions: before and after the
	// kill) through the API, as a meeting owner downloads it.
	admin, _ := auth.KeyProvider{APIKey: "devkey", APISecret: "secret"}.Mint(auth.TokenOptions{
		Identity: "owner", Grant: auth.VideoGrant{Room: "restart", RoomAdmin: true}})
	var list struct {
		Data struct {
			Meetings []struct {
				ID           string `json:"id"`
				SessionCount int    `json:"sessionCount"`
			} `json:"meetings"`
		} `json:"data"`
	}
	getJSON(t, s2.url+"/v1/meetings?room=restart", admin, &list)
	if len(list.Data.Meetings) != 1 || list.Data.Meetings[0].SessionCount != 2 {
		t.Fatalf("meetings: %+v (want one meeting with two sessions)", list.Data.Meetings)
	}
	var link struct {
		Success bool `json:"success"`
		Data    struct {
			URL string `json:"chat_download_url"`
		} `json:"data"`
	}
	meetingID := list.Data.Meetings[0].ID
	getJSON(t, s2.url+"/v1/meetings/"+meetingID+"/chat", admin, &link)
	resp, err := http.Get(link.Data.URL)
	if err != nil {
		t.Fatal(err)
	}
	meetingCSV, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(bytes.NewReader(meetingCSV)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, r := range rows[1:] {
		count[r[8]]++ // payload
	}
	for i := range sent {
		if cid := fmt.Sprintf("m-%05d", i); count[cid] != 1 {
			t.Fatalf("%s appears %d times in the meeting CSV", cid, count[cid])
		}
	}
	if len(rows)-1 != sent {
		t.Fatalf("CSV has %d rows, want %d", len(rows)-1, sent)
	}

	// `backchannel export --meeting` reads the same database and writes
	// the same CSV as the meeting's link.
	exportCmd := func(args ...string) (stdout []byte, stderr string) {
		t.Helper()
		var out, errOut bytes.Buffer
		cmd := exec.Command(binary(t), append([]string{"export", "--data", data}, args...)...)
		cmd.Stdout, cmd.Stderr = &out, &errOut
		if err := cmd.Run(); err != nil {
			t.Fatalf("export %q: %v: %s", args, err, errOut.String())
		}
		return out.Bytes(), errOut.String()
	}
	if out, _ := exportCmd("--meeting", meetingID); !bytes.Equal(out, meetingCSV) {
		t.Fatalf("export --meeting differs from the meeting link's CSV (%d bytes, want %d)", len(out), len(meetingCSV))
	}
	// --room exports one session, the latest (after the restart), and
	// says so, naming the meeting that exports both.
	out, stderr := exportCmd("--room", "restart")
	if rows, err = csv.NewReader(bytes.NewReader(out)).ReadAll(); err != nil || len(rows) < 2 || len(rows)-1 >= sent {
		t.Fatalf("export --room: %d rows, %v", len(rows), err)
	}
	if !strings.Contains(stderr, "the latest of its 2 sessions; --meeting "+meetingID) {
		t.Fatalf("export --room says %q", stderr)
	}

	// `backchannel token --admin` without a room is the token the
	// webhook deliveries API takes.
	tok, err := exec.Command(binary(t), "token", "--api-key", "devkey", "--api-secret", "secret", "--identity", "ops", "--admin").Output()
	if err != nil {
		t.Fatal(err)
	}
	var deliveries map[string]any
	getJSON(t, s2.url+"/v1/webhooks/deliveries", strings.TrimSpace(string(tok)), &deliveries)
}

func getJSON(t *testing.T, url, token string, v any) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

// TestClientsReconnectAfterKill: the server is killed mid-meeting and
// started again; a client keeps sending throughout, reconnects by itself,
// retries what was not acknowledged by clientId, and the history ends up
// with every message exactly once.
func TestClientsReconnectAfterKill(t *testing.T) {
	data := t.TempDir()
	httpPort, udpPort := freePort(t, "tcp"), freePort(t, "udp")
	s := startProcess(t, data, httpPort, udpPort)
	tok, _ := auth.KeyProvider{APIKey: "devkey", APISecret: "secret"}.Mint(auth.TokenOptions{
		Identity: "alice", Grant: auth.VideoGrant{Room: "kill", RoomJoin: true}})
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	sess, err := client.Dial(ctx, s.url, tok, client.Options{LoopbackOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	var reconnects atomic.Int32
	sess.OnReconnect(func(*client.Client) { reconnects.Add(1) })

	const total = 1500
	killed := make(chan struct{})
	go func() {
		defer close(killed)
		time.Sleep(300 * time.Millisecond)
		_ = s.cmd.Process.Signal(syscall.SIGKILL)
		_ = s.cmd.Wait()
	}()
	for i := range total {
		if i == total/2 {
			<-killed // half before the kill, half while it is down or back
			startProcess(t, data, httpPort, udpPort)
		}
		b, _ := json.Marshal(map[string]string{"type": "chat", "clientId": fmt.Sprintf("k-%05d", i), "text": fmt.Sprintf("k-%05d", i)})
		if err := sess.SendChat(b); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Millisecond)
	}
	deadline := time.Now().Add(30 * time.Second)
	for sess.Unacked() > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d messages never acknowledged", sess.Unacked())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if reconnects.Load() == 0 {
		t.Fatal("the client never reconnected")
	}
	c := joinChat(t, fmt.Sprintf("http://127.0.0.1:%d", httpPort), "kill", "bob")
	hist := c.history(t)
	if len(hist) != total {
		t.Fatalf("history has %d distinct messages, want %d", len(hist), total)
	}
	for text, ids := range hist {
		if len(ids) != 1 {
			t.Fatalf("%s is in history %d times", text, len(ids))
		}
	}
}
