package app_test

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/backchannel-rtc/backchannel/chat"
	"github.com/backchannel-rtc/backchannel/chat/chattest"
	"github.com/backchannel-rtc/backchannel/client"
	"github.com/backchannel-rtc/backchannel/internal/app"
	"github.com/backchannel-rtc/backchannel/recorder/webhook"
	"github.com/backchannel-rtc/backchannel/sfu"
)

// hookReceiver is a webhook endpoint that verifies every request with the
// Standard Webhooks library.
type hookReceiver struct {
	t      testing.TB
	srv    *httptest.Server
	secret string
	wh     *standardwebhooks.Webhook

	mu       sync.Mutex
	status   int
	delay    time.Duration
	hits     int
	accepted []hookEvent
	perID    map[string]int // endpoint path + webhook-id -> accepted
}

type hookEvent struct {
	Path, ID, Type string
	Data           map[string]any
}

func newHookReceiver(t testing.TB) *hookReceiver {
	var b [32]byte
	_, _ = rand.Read(b[:])
	r := &hookReceiver{t: t, secret: "whsec_" + base64.StdEncoding.EncodeToString(b[:]), status: 200, perID: map[string]int{}}
	var err error
	if r.wh, err = standardwebhooks.NewWebhook(r.secret); err != nil {
		t.Fatal(err)
	}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.hits++
		status, delay := r.status, r.delay
		r.mu.Unlock()
		if err := r.wh.Verify(body, req.Header); err != nil {
			t.Errorf("signature does not verify: %v", err)
			w.WriteHeader(400)
			return
		}
		if delay > 0 {
			select {
			case <-time.After(delay):
			case <-req.Context().Done():
				return
			}
		}
		if status/100 == 2 {
			var m struct {
				Type      string         `json:"type"`
				Timestamp time.Time      `json:"timestamp"`
				Data      map[string]any `json:"data"`
			}
			if err := json.Unmarshal(body, &m); err != nil || m.Timestamp.IsZero() {
				t.Errorf("body %q: %v", body, err)
			}
			id := req.Header.Get("webhook-id")
			r.mu.Lock()
			r.accepted = append(r.accepted, hookEvent{req.URL.Path, id, m.Type, m.Data})
			r.perID[req.URL.Path+" "+id]++
			r.mu.Unlock()
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *hookReceiver) set(status int, delay time.Duration) {
	r.mu.Lock()
	r.status, r.delay = status, delay
	r.mu.Unlock()
}

func (r *hookReceiver) at(endpoint string) []hookEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []hookEvent
	for _, e := range r.accepted {
		if e.Path == "/"+endpoint {
			out = append(out, e)
		}
	}
	return out
}

func (r *hookReceiver) hitCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.hits
}

func (r *hookReceiver) perIDCount(path, id string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.perID["/"+path+" "+id]
}

func (r *hookReceiver) checkOnce(t testing.TB) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	for k, n := range r.perID {
		if n != 1 {
			t.Errorf("%s accepted %d times", k, n)
		}
	}
}

func (r *hookReceiver) endpoint(id string, events ...string) webhook.Endpoint {
	return webhook.Endpoint{ID: id, URL: r.srv.URL + "/" + id, Secret: r.secret, Events: events}
}

func types(es []hookEvent) map[string]int {
	m := map[string]int{}
	for _, e := range es {
		m[e.Type]++
	}
	return m
}

func sameCounts(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// scriptedMeeting: alice and bob join, alice says something to everyone
// and something to bob alone (both acked, so durable), both leave.
func scriptedMeeting(t *testing.T, a *app.App, room string) {
	env := &wireEnv{a: a}
	alice := chattest.Join(t, env, room, "alice", chattest.Grants{Name: "Alice"})
	bob := chattest.Join(t, env, room, "bob", chattest.Grants{Name: "Bob"})
	alice.Say("hello everyone", nil)
	alice.Say("just for bob", map[string]any{"to": []string{"bob"}})
	env.Leave(t, bob.P)
	env.Leave(t, alice.P)
}

var allEvents = map[string]int{webhook.MeetingStarted: 1, webhook.ParticipantJoined: 2, webhook.ChatMessageCreated: 2,
	webhook.ParticipantLeft: 2, webhook.MeetingEnded: 1, webhook.MeetingChatSynced: 1}

// TestWebhooksEndToEnd scripts a meeting through the real server (Go
// clients over WebRTC data channels) and checks what two endpoints
// receive, the chat download link of meeting.chatSynced, and the
// deliveries API (list, read, redeliver with the same webhook-id).
func TestWebhooksEndToEnd(t *testing.T) {
	rcv := newHookReceiver(t)
	all := rcv.endpoint("all", webhook.EventTypes...)
	all.PrivateChat = true
	cc := chat.DefaultConfig()
	cc.DepartureTimeout = 200 * time.Millisecond // the meeting ends soon after both left
	a := startServer(t, nil, func(c *app.Config) {
		c.ChatConfig = &cc
		c.Webhooks = webhook.Config{Endpoints: []webhook.Endpoint{all, rcv.endpoint("default")},
			Schedule: []time.Duration{0, 20 * time.Millisecond, 50 * time.Millisecond}, PollInterval: 50 * time.Millisecond}
	})
	scriptedMeeting(t, a, "standup")
	eventually(t, 15*time.Second, "every event at both endpoints", func() bool {
		return len(rcv.at("all")) >= 9 && len(rcv.at("default")) >= 7
	})
	time.Sleep(200 * time.Millisecond)
	rcv.checkOnce(t)
	if g := types(rcv.at("all")); !sameCounts(g, allEvents) {
		t.Errorf("endpoint all got %v, want %v", g, allEvents)
	}
	noChat := map[string]int{}
	for k, v := range allEvents {
		if k != webhook.ChatMessageCreated {
			noChat[k] = v
		}
	}
	if g := types(rcv.at("default")); !sameCounts(g, noChat) {
		t.Errorf("endpoint default got %v, want %v", g, noChat)
	}
	var synced map[string]any
	sessions := map[any]bool{}
	var syncedID string
	for _, e := range rcv.at("all") {
		sessions[e.Data["sessionId"]] = true
		if e.Type == webhook.MeetingChatSynced {
			synced, syncedID = e.Data, e.ID
		}
		if e.Type == webhook.ChatMessageCreated {
			m := e.Data["message"].(map[string]any)
			if m["private"] == true && fmt.Sprint(m["recipients"]) != "[bob]" {
				t.Errorf("private message without its recipients: %v", m)
			}
		}
	}
	if len(sessions) != 1 {
		t.Errorf("events of one session carry session ids %v", sessions)
	}
	resp, err := http.Get(synced["chatDownloadUrl"].(string))
	if err != nil {
		t.Fatal(err)
	}
	csv, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(csv), "hello everyone") || !strings.Contains(string(csv), "just for bob") {
		t.Errorf("chatDownloadUrl: %d %s", resp.StatusCode, csv)
	}

	// The deliveries API.
	admin, _ := a.Token("", "ops", "Ops", true)
	roomAdmin, _ := a.Token("standup", "mod", "Mod", true)
	call := func(method, path, token string) (int, map[string]any) {
		req, _ := http.NewRequest(method, a.URL()+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	if code, _ := call("GET", "/v1/webhooks/deliveries", ""); code != 401 {
		t.Errorf("no token: %d", code)
	}
	if code, _ := call("GET", "/v1/webhooks/deliveries", roomAdmin); code != 403 {
		t.Errorf("room-limited admin: %d", code)
	}
	code, out := call("GET", "/v1/webhooks/deliveries?event=meeting.chatSynced&endpoint=all&status=delivered", admin)
	list, _ := out["data"].(map[string]any)["deliveries"].([]any)
	if code != 200 || len(list) != 1 {
		t.Fatalf("list: %d %v", code, out)
	}
	d := list[0].(map[string]any)
	if d["webhookId"] != syncedID || d["attempts"] != 1.0 {
		t.Errorf("listed delivery %v", d)
	}
	code, out = call("GET", "/v1/webhooks/deliveries?limit=4", admin)
	page := out["data"].(map[string]any)
	if code != 200 || len(page["deliveries"].([]any)) != 4 || page["nextCursor"] == "" {
		t.Errorf("page: %d %v", code, out)
	}
	code, out = call("GET", "/v1/webhooks/deliveries?limit=500&cursor="+page["nextCursor"].(string), admin)
	if n := len(out["data"].(map[string]any)["deliveries"].([]any)); code != 200 || n != 16-4 {
		t.Errorf("second page: %d, %d deliveries", code, n)
	}
	code, out = call("GET", "/v1/webhooks/deliveries/"+d["id"].(string), admin)
	one := out["data"].(map[string]any)
	if code != 200 || len(one["attemptLog"].([]any)) != 1 || one["payload"] == nil {
		t.Errorf("get: %d %v", code, out)
	}
	if code, _ := call("POST", "/v1/webhooks/deliveries/nope/redeliver", admin); code != 404 {
		t.Errorf("redeliver unknown: %d", code)
	}
	code, out = call("POST", "/v1/webhooks/deliveries/"+d["id"].(string)+"/redeliver", admin)
	if code != 200 {
		t.Fatalf("redeliver: %d %v", code, out)
	}
	eventually(t, 5*time.Second, "the redelivery, with the same webhook-id", func() bool { return rcv.perIDCount("all", syncedID) == 2 })
	if code, out := call("GET", "/v1/webhooks/endpoints", admin); code != 200 || strings.Contains(fmt.Sprint(out), rcv.secret) {
		t.Errorf("endpoints: %d %v", code, out)
	}
}

// startUnmanaged starts a server the test closes itself.
func startUnmanaged(t *testing.T, dir string, wc webhook.Config) *app.App {
	t.Helper()
	a, err := app.New(app.Config{
		Addr: "127.0.0.1:0", DataDir: dir, APIKey: "testkey", APISecret: "testsecret-0123456789",
		RTC: sfu.Config{UDPAddr: "127.0.0.1:0", LoopbackOnly: true}, Webhooks: wc,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	a.Serve()
	return a
}

// TestWebhooksSurviveServerRestart: the receiver refuses (500) during a
// meeting, the server is restarted on the same data, the receiver accepts:
// every event arrives once, none was lost.
func TestWebhooksSurviveServerRestart(t *testing.T) {
	rcv := newHookReceiver(t)
	rcv.set(500, 0)
	all := rcv.endpoint("all", webhook.EventTypes...)
	all.PrivateChat = true
	var schedule []time.Duration
	for range 1000 {
		schedule = append(schedule, 20*time.Millisecond)
	}
	wc := webhook.Config{Endpoints: []webhook.Endpoint{all}, Schedule: schedule, PollInterval: 50 * time.Millisecond}
	dir := t.TempDir()
	a := startUnmanaged(t, dir, wc)
	scriptedMeeting(t, a, "standup")
	eventually(t, 10*time.Second, "refused attempts", func() bool { return rcv.hitCount() >= 30 })
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if n := len(rcv.at("all")); n != 0 {
		t.Fatalf("%d accepted while refusing", n)
	}
	rcv.set(200, 0)
	a = startUnmanaged(t, dir, wc)
	defer a.Close()
	eventually(t, 15*time.Second, "every event after the restart", func() bool { return len(rcv.at("all")) >= 9 })
	time.Sleep(200 * time.Millisecond)
	rcv.checkOnce(t)
	if g := types(rcv.at("all")); !sameCounts(g, allEvents) {
		t.Errorf("got %v, want %v", g, allEvents)
	}
}

// TestSlowWebhookReceiverDoesNotSlowChat measures chat latency (send to
// receipt at another participant) on a server whose only webhook endpoint
// takes longer than the attempt timeout to answer every message event,
// and on one without webhooks, in alternating rounds; the medians stay
// within noise.
func TestSlowWebhookReceiverDoesNotSlowChat(t *testing.T) {
	rcv := newHookReceiver(t)
	rcv.set(200, 2*time.Second)
	unlimited := chat.DefaultConfig()
	unlimited.Rate = 0
	slow := startServer(t, nil, func(c *app.Config) {
		c.ChatConfig = &unlimited
		c.Webhooks = webhook.Config{Endpoints: []webhook.Endpoint{rcv.endpoint("slow", webhook.EventTypes...)},
			Timeout: 200 * time.Millisecond, Schedule: []time.Duration{0, 10 * time.Millisecond, 10 * time.Millisecond},
			Workers: 4, PollInterval: 50 * time.Millisecond}
	})
	plain := startServer(t, nil, func(c *app.Config) { c.ChatConfig = &unlimited })

	type probe struct {
		sender *client.Client
		mu     sync.Mutex
		got    []time.Duration
	}
	newProbe := func(a *app.App) *probe {
		p := &probe{}
		join(t, a, "lat", "reader", client.Options{OnChat: func(b []byte) {
			var m struct {
				Type    string `json:"type"`
				Message struct {
					Text string `json:"text"`
				} `json:"message"`
			}
			if json.Unmarshal(b, &m) != nil || m.Type != "message" || !strings.HasPrefix(m.Message.Text, "t=") {
				return
			}
			ns, _ := strconv.ParseInt(m.Message.Text[2:], 10, 64)
			p.mu.Lock()
			p.got = append(p.got, time.Since(time.Unix(0, ns)))
			p.mu.Unlock()
		}})
		p.sender = join(t, a, "lat", "sender", client.Options{})
		return p
	}
	ps, pp := newProbe(slow), newProbe(plain)
	n := 0
	round := func(p *probe, count int) {
		for range count {
			n++
			b, _ := json.Marshal(map[string]any{"type": "chat", "clientId": fmt.Sprintf("c-%d", n), "text": fmt.Sprintf("t=%d", time.Now().UnixNano())})
			if err := p.sender.SendChat(b); err != nil {
				t.Fatal(err)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	const rounds, per = 6, 40
	for i := range rounds {
		if i%2 == 0 {
			round(ps, per)
			round(pp, per)
		} else {
			round(pp, per)
			round(ps, per)
		}
	}
	for _, p := range []*probe{ps, pp} {
		eventually(t, 10*time.Second, "every message received", func() bool {
			p.mu.Lock()
			defer p.mu.Unlock()
			return len(p.got) == rounds*per
		})
	}
	median := func(p *probe) time.Duration {
		p.mu.Lock()
		defer p.mu.Unlock()
		s := append([]time.Duration(nil), p.got...)
		sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
		return s[len(s)/2]
	}
	mSlow, mPlain := median(ps), median(pp)
	hits := rcv.hitCount()
	t.Logf("chat latency median: %v with a slow webhook receiver (%d requests, each timed out), %v without", mSlow, hits, mPlain)
	// Each request holds a delivery worker for the whole 200 ms timeout;
	// 20 of them are 4 s of workers stuck on the slow receiver while the
	// ~5 s of chat rounds ran. An idle machine makes ~80, one shared with
	// the race detector and another package's browser tests ~40.
	if hits < 20 {
		t.Errorf("only %d webhook requests: the slow receiver was not exercised", hits)
	}
	if len(rcv.at("slow")) != 0 {
		t.Errorf("a request outlived the timeout and was accepted")
	}
	if mSlow > 3*mPlain+30*time.Millisecond {
		t.Errorf("chat median latency %v with a slow webhook receiver vs %v without: webhooks slow chat down", mSlow, mPlain)
	}
}
