package webhook_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/backchannel-rtc/backchannel/chat"
	"github.com/backchannel-rtc/backchannel/recorder"
	"github.com/backchannel-rtc/backchannel/recorder/recordertest"
	"github.com/backchannel-rtc/backchannel/recorder/webhook"
)

var quiet = slog.New(slog.DiscardHandler)

// backends runs f on SQLite and on PostgreSQL (skipped without it unless
// CI=true). f gets a recorder config on a fresh, empty database.
func backends(t *testing.T, f func(t *testing.T, cfg recorder.Config)) {
	t.Run("sqlite", func(t *testing.T) {
		f(t, recorder.Config{DataDir: t.TempDir(), Logger: quiet})
	})
	t.Run("postgres", func(t *testing.T) {
		f(t, recorder.Config{DSN: recordertest.Postgres(t), DataDir: t.TempDir(), Logger: quiet})
	})
}

func newSecret(t testing.TB) string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return "whsec_" + base64.StdEncoding.EncodeToString(b[:])
}

// fastSchedule: many quick attempts, for tests.
func fastSchedule(n int) []time.Duration {
	s := []time.Duration{0}
	for i := 1; i < n; i++ {
		s = append(s, time.Duration(min(i, 5))*10*time.Millisecond)
	}
	return s
}

// received is one verified request.
type received struct {
	Path string
	ID   string
	Type string
	Body map[string]any
	Data map[string]any
	Raw  []byte
	At   time.Time // when the request arrived
}

// receiver is a webhook endpoint that verifies every request with the
// Standard Webhooks library and answers per its mode.
type receiver struct {
	t      testing.TB
	srv    *httptest.Server
	secret string
	wh     *standardwebhooks.Webhook

	mu       sync.Mutex
	status   int           // answer (default 204)
	delay    time.Duration // sleep before answering
	header   http.Header   // extra answer headers
	hits     int           // requests, verified or not
	bad      int           // requests that failed verification
	accepted []received    // requests answered 2xx
	perID    map[string]int
}

func newReceiver(t testing.TB) *receiver {
	r := &receiver{t: t, secret: newSecret(t), perID: map[string]int{}, status: http.StatusNoContent}
	var err error
	if r.wh, err = standardwebhooks.NewWebhook(r.secret); err != nil {
		t.Fatal(err)
	}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	arrived := time.Now()
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	r.hits++
	status, delay, hdr := r.status, r.delay, r.header
	r.mu.Unlock()
	if err := r.wh.Verify(body, req.Header); err != nil {
		r.mu.Lock()
		r.bad++
		r.mu.Unlock()
		r.t.Errorf("receiver: signature does not verify: %v (headers %v)", err, req.Header)
		http.Error(w, "bad signature", http.StatusBadRequest)
		return
	}
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-req.Context().Done():
			return
		}
	}
	for k, v := range hdr {
		w.Header()[k] = v
	}
	if status >= 200 && status < 300 {
		var m map[string]any
		if err := json.Unmarshal(body, &m); err != nil {
			r.t.Errorf("receiver: body is not JSON: %q", body)
		}
		data, _ := m["data"].(map[string]any)
		typ, _ := m["type"].(string)
		r.mu.Lock()
		r.accepted = append(r.accepted, received{Path: req.URL.Path, ID: req.Header.Get("webhook-id"), Type: typ, Body: m, Data: data, Raw: body, At: arrived})
		r.perID[req.URL.Path+" "+req.Header.Get("webhook-id")]++
		r.mu.Unlock()
	}
	w.WriteHeader(status)
}

func (r *receiver) set(status int, delay time.Duration) {
	r.mu.Lock()
	r.status, r.delay = status, delay
	r.mu.Unlock()
}

func (r *receiver) got() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.accepted...)
}

func (r *receiver) hitCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.hits
}

// checkOnce fails unless every accepted webhook-id was accepted once.
func (r *receiver) checkOnce(t testing.TB) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	for id, n := range r.perID {
		if n != 1 {
			t.Errorf("(endpoint, webhook-id) %s accepted %d times", id, n)
		}
	}
	if r.bad > 0 {
		t.Errorf("%d requests failed signature verification", r.bad)
	}
}

func (r *receiver) endpoint(id string, events ...string) webhook.Endpoint {
	return webhook.Endpoint{ID: id, URL: r.srv.URL + "/hook/" + id, Secret: r.secret, Events: events}
}

// at keeps the requests an endpoint accepted.
func at(rs []received, endpoint string) []received {
	var out []received
	for _, r := range rs {
		if r.Path == "/hook/"+endpoint {
			out = append(out, r)
		}
	}
	return out
}

// byType counts accepted events per type.
func byType(rs []received) map[string]int {
	m := map[string]int{}
	for _, r := range rs {
		m[r.Type]++
	}
	return m
}

// stack is a recorder with a Delivery wired as the server wires them.
type stack struct {
	rec *recorder.Recorder
	d   *webhook.Delivery
}

func open(t testing.TB, rcfg recorder.Config, wcfg webhook.Config) *stack {
	t.Helper()
	if wcfg.Logger == nil {
		wcfg.Logger = quiet
	}
	if wcfg.APISecret == "" {
		wcfg.APISecret = "testsecret-0123456789"
	}
	d, err := webhook.New(wcfg)
	if err != nil {
		t.Fatal(err)
	}
	rcfg.Outbox = d
	rec, err := recorder.Open(rcfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Start(rec.DB()); err != nil {
		rec.Close()
		t.Fatal(err)
	}
	s := &stack{rec: rec, d: d}
	t.Cleanup(s.close)
	return s
}

func (s *stack) close() {
	if s.rec == nil {
		return
	}
	s.d.Close()
	_ = s.rec.Close()
	s.rec = nil
}

// write writes changes and waits until they are durable.
func (s *stack) write(t testing.TB, cs ...chat.Change) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, len(cs))
	for _, c := range cs {
		wg.Add(1)
		s.rec.Write(c, func(err error) {
			if err != nil {
				errs <- err
			}
			wg.Done()
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

var msgN int

func msg(room, sender, text string, to ...string) chat.Change {
	msgN++
	return chat.Change{Kind: chat.ChangeMessage, Room: room, At: time.Now(), Message: &chat.Message{
		ID: fmt.Sprintf("m%06d-%d", msgN, time.Now().UnixNano()), Room: room, Seq: int64(msgN), Sender: sender,
		SenderName: "Name " + sender, Kind: chat.KindText, Text: text, To: to, CreatedAt: time.Now(),
	}}
}

func joinC(room, id string) chat.Change {
	return chat.Change{Kind: chat.ChangeJoin, Room: room, Identity: id, Name: "Name " + id, At: time.Now()}
}

func leaveC(room, id string) chat.Change {
	return chat.Change{Kind: chat.ChangeLeave, Room: room, Identity: id, At: time.Now()}
}

// endC is the room having stayed empty for the departure timeout.
func endC(room string) chat.Change {
	return chat.Change{Kind: chat.ChangeEnd, Room: room, At: time.Now()}
}

// meeting scripts one meeting: two participants, a group message, a
// private one, both leave. 9 events for an endpoint that wants them all
// (and private chat): started, 2 joined, 2 messages, 2 left, ended,
// chatSynced.
func meeting(t testing.TB, s *stack, room string) {
	t.Helper()
	s.write(t, joinC(room, "alice"))
	s.write(t, joinC(room, "bob"))
	s.write(t, msg(room, "alice", "hello everyone"))
	s.write(t, msg(room, "alice", "just for bob", "bob"))
	s.write(t, leaveC(room, "bob"))
	s.write(t, leaveC(room, "alice"))
	s.write(t, endC(room))
}

func eventually(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func countStatus(t testing.TB, s *stack, status string) int64 {
	t.Helper()
	var n int64
	if err := s.rec.DB().Model(&recorder.OutboxEvent{}).Where("status = ?", status).Count(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n
}

var _ = context.Background
