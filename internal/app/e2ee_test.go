package app_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/backchannel-rtc/backchannel/chat"
	"github.com/backchannel-rtc/backchannel/client"
	"github.com/backchannel-rtc/backchannel/internal/app"
	"github.com/backchannel-rtc/backchannel/protocol"
	"github.com/backchannel-rtc/backchannel/protocol/e2ee"
	"github.com/backchannel-rtc/backchannel/recorder/recordertest"
	"github.com/backchannel-rtc/backchannel/recorder/webhook"
)

// e2eePeer is a Go client with a device key that records what it reads.
type e2eePeer struct {
	c   *client.Client
	key *e2ee.PrivateKey

	mu      sync.Mutex
	read    map[string]string // message id → text read (decrypted or not)
	files   map[string]client.Received
	failed  map[string]error // message id → why it could not be opened
	packets []protocol.Head
	raw     [][]byte
}

func joinE2EE(t *testing.T, a *app.App, room, identity string, key *e2ee.PrivateKey) *e2eePeer {
	t.Helper()
	p := &e2eePeer{key: key, read: map[string]string{}, failed: map[string]error{}, files: map[string]client.Received{}}
	p.c = join(t, a, room, identity, client.Options{
		E2EEKey: key,
		OnMessage: func(r client.Received) {
			p.mu.Lock()
			defer p.mu.Unlock()
			if r.Err != nil {
				p.failed[r.Message.ID] = r.Err
				return
			}
			if r.Message.E2EE != nil && !r.Encrypted {
				t.Errorf("%s: an encrypted message read without decrypting it", identity)
			}
			p.read[r.Message.ID] = r.Text
			if r.File != nil {
				p.files[r.Message.ID] = r
			}
		},
		OnChat: func(b []byte) {
			var h protocol.Head
			_ = json.Unmarshal(b, &h)
			p.mu.Lock()
			p.packets = append(p.packets, h)
			p.raw = append(p.raw, b)
			p.mu.Unlock()
		},
	})
	return p
}

// text is what p read of message id ("" if nothing yet).
func (p *e2eePeer) text(id string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.read[id]
}

// reads reports whether p read text (as any message).
func (p *e2eePeer) reads(text string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, s := range p.read {
		if s == text {
			return true
		}
	}
	return false
}

// answer waits for the ack or error of clientID and returns it.
func (p *e2eePeer) answer(t *testing.T, clientID string) protocol.ErrorEvent {
	t.Helper()
	var out protocol.ErrorEvent
	eventually(t, 10*time.Second, "the answer to "+clientID, func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		for i, h := range p.packets {
			if h.ClientID == clientID && (h.Type == protocol.EventAck || h.Type == protocol.EventError) {
				_ = json.Unmarshal(p.raw[i], &out)
				return true
			}
		}
		return false
	})
	return out
}

// ackID is the message id the ack of clientID carries.
func (p *e2eePeer) ackID(t *testing.T, clientID string) string {
	t.Helper()
	p.answer(t, clientID)
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, h := range p.packets {
		if h.ClientID == clientID && h.Type == protocol.EventAck {
			var ack protocol.AckEvent
			_ = json.Unmarshal(p.raw[i], &ack)
			return ack.ID
		}
	}
	t.Fatalf("%s was refused", clientID)
	return ""
}

func newDeviceKey(t *testing.T) *e2ee.PrivateKey {
	k, err := e2ee.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// The markers the meeting sends encrypted: none may be found anywhere on
// the server's side.
var e2eeMarkers = []string{"MARKER-A1", "MARKER-A2", "MARKER-E1", "MARKER-EDIT", "MARKER-PLAIN",
	"MARKER-FILE-BYTES", "MARKER-FILE-NAME", "MARKER-CAPTION"}

// testE2EEMeeting runs a meeting with end-to-end encrypted private
// messages on a real server (Go clients over WebRTC data channels) in a
// room that requires them, then scans everything the server keeps.
func testE2EEMeeting(t *testing.T, dsn string) {
	rcv := newHookReceiver(t)
	all := rcv.endpoint("all", webhook.EventTypes...)
	all.PrivateChat = true
	cc := chat.DefaultConfig()
	cc.DepartureTimeout = 200 * time.Millisecond
	cc.LeaveGrace = -1
	cc.RequireE2EE = []string{"secret-*"}
	dataDir := t.TempDir()
	a := startServer(t, nil, func(c *app.Config) {
		c.ChatConfig, c.Database, c.DataDir = &cc, dsn, dataDir
		c.Webhooks = webhook.Config{Endpoints: []webhook.Endpoint{all},
			Schedule: []time.Duration{0, 20 * time.Millisecond}, PollInterval: 50 * time.Millisecond}
	})
	const room = "secret-standup"
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ka, kb, kc, ke := newDeviceKey(t), newDeviceKey(t), newDeviceKey(t), newDeviceKey(t)
	alice := joinE2EE(t, a, room, "alice", ka)
	bob := joinE2EE(t, a, room, "bob", kb)
	carol := joinE2EE(t, a, room, "carol", kc)
	eventually(t, 5*time.Second, "carol in alice's presence", func() bool {
		_, err := alice.c.SealPrivate(ctx, "probe", "", "carol")
		return err == nil
	})

	// Private and encrypted; group messages stay plaintext.
	// a1's packet is kept, to be sent again as a retry.
	env1, err := alice.c.SealPrivate(ctx, "MARKER-A1 for bob", "", "bob")
	if err != nil {
		t.Fatal(err)
	}
	a1Packet, _ := json.Marshal(protocol.EncryptedChatRequest("a1", env1, "bob"))
	if err := alice.c.SendChat(a1Packet); err != nil {
		t.Fatal(err)
	}
	if err := alice.c.SendPrivateEncrypted(ctx, "a2", "MARKER-A2 for bob and carol", "bob", "carol"); err != nil {
		t.Fatal(err)
	}
	group, _ := json.Marshal(protocol.ChatRequest("g1", "hello everyone"))
	if err := alice.c.SendChat(group); err != nil {
		t.Fatal(err)
	}
	a1, a2 := alice.ackID(t, "a1"), alice.ackID(t, "a2")
	alice.ackID(t, "g1")
	eventually(t, 5*time.Second, "bob and carol read theirs", func() bool {
		return bob.text(a1) == "MARKER-A1 for bob" && bob.text(a2) == "MARKER-A2 for bob and carol" &&
			carol.text(a2) == "MARKER-A2 for bob and carol" && alice.text(a1) == "MARKER-A1 for bob"
	})
	if carol.text(a1) != "" {
		t.Fatal("carol read a message for bob")
	}

	// An encrypted file: the server stores and serves ciphertext only.
	fileBytes := bytes.Repeat([]byte("MARKER-FILE-BYTES "), 100)
	if err := alice.c.SendPrivateEncryptedFile(ctx, "f1", "MARKER-FILE-NAME.txt", "text/plain", fileBytes, "MARKER-CAPTION", "bob"); err != nil {
		t.Fatal(err)
	}
	f1 := alice.ackID(t, "f1")
	eventually(t, 5*time.Second, "bob reads the file message", func() bool { return bob.text(f1) == "MARKER-CAPTION" })
	bob.mu.Lock()
	fr := bob.files[f1]
	bob.mu.Unlock()
	if fr.File == nil || fr.File.Name != "MARKER-FILE-NAME.txt" || fr.File.Type != "text/plain" || fr.Message.Attachment.Name != "encrypted" {
		t.Fatalf("bob's file message: %+v", fr)
	}
	got, err := bob.c.DownloadEncryptedFile(ctx, fr)
	if err != nil || !bytes.Equal(got, fileBytes) {
		t.Fatalf("bob's download: %d bytes, %v", len(got), err)
	}

	// A plaintext private message in this room is refused; the connection
	// stays up.
	plain, _ := json.Marshal(protocol.ChatRequest("p1", "MARKER-PLAIN", "bob"))
	_ = alice.c.SendChat(plain)
	if e := alice.answer(t, "p1"); e.Type != protocol.EventError || e.Code != protocol.CodeBadPacket ||
		!strings.Contains(e.Message, "end-to-end encrypted") {
		t.Fatalf("plaintext private message: %+v", e)
	}

	// Edits re-encrypt.
	if err := alice.c.EditPrivateEncrypted(ctx, "ed1", a1, "MARKER-EDIT for bob"); err != nil {
		t.Fatal(err)
	}
	alice.answer(t, "ed1")
	eventually(t, 5*time.Second, "bob reads the edit", func() bool { return bob.reads("MARKER-EDIT for bob") })

	// Carol leaves; erin, who never saw her, asks the server for her key
	// and writes to her while she is away.
	_ = carol.c.Close()
	erin := joinE2EE(t, a, room, "erin", ke)
	if err := erin.c.SendPrivateEncrypted(ctx, "e1", "MARKER-E1 for absent carol", "carol"); err != nil {
		t.Fatal(err)
	}
	e1 := erin.ackID(t, "e1")

	// Carol comes back on the same device: history opens.
	carol2 := joinE2EE(t, a, room, "carol", kc)
	eventually(t, 5*time.Second, "carol decrypts her history", func() bool {
		return carol2.text(e1) == "MARKER-E1 for absent carol" && carol2.text(a2) == "MARKER-A2 for bob and carol"
	})
	// Bob reconnects, and alice resends a1's packet as a retry by clientId
	// after a reconnect would: the same ack, stored once.
	_ = bob.c.Close()
	bob2 := joinE2EE(t, a, room, "bob", kb)
	eventually(t, 5*time.Second, "bob decrypts the edited message from history", func() bool {
		return bob2.text(a1) == "MARKER-EDIT for bob"
	})
	_ = alice.c.Close()
	alice2 := joinE2EE(t, a, room, "alice", ka)
	_ = alice2.c.SendChat(a1Packet)
	if id := alice2.ackID(t, "a1"); id != a1 {
		t.Fatalf("the retry was acked as %s, first %s", id, a1)
	}

	// Malformed envelopes: an error packet each, the connection stays up,
	// nothing is stored (the CSV below has only the four messages).
	keys := map[string]*e2ee.PublicKey{"alice": ka.Public(), "bob": kb.Public(), "carol": kc.Public()}
	good := func() *e2ee.Envelope {
		env, err := e2ee.Seal([]byte(`{"text":"MARKER-PLAIN"}`), e2ee.Context{Room: room, Sender: "alice", To: []string{"bob"}}, keys)
		if err != nil {
			t.Fatal(err)
		}
		return env
	}
	bad := map[string]func(*e2ee.Envelope) *e2ee.Envelope{
		"missing": func(e *e2ee.Envelope) *e2ee.Envelope { e.Keys = e.Keys[1:]; return e },
		"extra": func(e *e2ee.Envelope) *e2ee.Envelope {
			x, _ := e2ee.Seal([]byte("x"), e2ee.Context{Room: room, Sender: "alice", To: []string{"bob", "carol"}}, keys)
			e.Keys = x.Keys
			return e
		},
		"base64": func(e *e2ee.Envelope) *e2ee.Envelope { e.Ciphertext = "%%%" + e.Ciphertext[3:]; return e },
		"length": func(e *e2ee.Envelope) *e2ee.Envelope { e.Nonce = e.Keys[0].Key; return e },
		"suite":  func(e *e2ee.Envelope) *e2ee.Envelope { e.Suite = "bc-e2ee-v2"; return e },
		"oversized": func(e *e2ee.Envelope) *e2ee.Envelope {
			x, _ := e2ee.Seal(bytes.Repeat([]byte("MARKER-PLAIN"), 2000), e2ee.Context{Room: room, Sender: "alice", To: []string{"bob"}}, keys)
			return x
		},
	}
	for name, f := range bad {
		b, _ := json.Marshal(protocol.EncryptedChatRequest("bad-"+name, f(good()), "bob"))
		if err := alice2.c.SendChat(b); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if e := alice2.answer(t, "bad-"+name); e.Type != protocol.EventError || e.Code != protocol.CodeBadPacket {
			t.Errorf("%s envelope: %+v", name, e)
		}
	}

	// Bob on another device (a new key): everyone who talks to him hears
	// of the change, and what was sealed to his old key is "can't
	// decrypt", never text.
	_ = bob2.c.Close()
	bob3 := joinE2EE(t, a, room, "bob", newDeviceKey(t))
	eventually(t, 5*time.Second, "keyChanged at alice", func() bool {
		alice2.mu.Lock()
		defer alice2.mu.Unlock()
		for _, h := range alice2.packets {
			if h.Type == protocol.EventKeyChanged {
				return true
			}
		}
		return false
	})
	eventually(t, 5*time.Second, "bob's new device fails to open the old messages", func() bool {
		bob3.mu.Lock()
		defer bob3.mu.Unlock()
		return bob3.failed[a1] != nil && bob3.failed[a2] != nil
	})
	if bob3.text(a1) != "" || bob3.text(a2) != "" {
		t.Fatal("a message sealed to another key was shown as text")
	}

	// Everyone leaves: the meeting ends, its CSV link comes by webhook.
	for _, p := range []*e2eePeer{alice2, bob3, carol2, erin} {
		_ = p.c.Close()
	}
	var synced map[string]any
	eventually(t, 15*time.Second, "meeting.chatSynced", func() bool {
		for _, e := range rcv.at("all") {
			if e.Type == webhook.MeetingChatSynced {
				synced = e.Data
				return true
			}
		}
		return false
	})

	// The webhook bodies: envelopes, never plaintext.
	var encrypted int
	for _, e := range rcv.at("all") {
		b, _ := json.Marshal(e.Data)
		scanFor(t, "webhook "+e.Type, b)
		if e.Type == webhook.ChatMessageCreated && bytes.Contains(b, []byte(`"e2ee":{`)) {
			encrypted++
		}
	}
	if encrypted != 4 {
		t.Errorf("%d chat.message.created events carry an envelope, want 4", encrypted)
	}

	// The CSV: payload empty, encrypted=true; the group message in clear.
	resp, err := http.Get(synced["chatDownloadUrl"].(string))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	scanFor(t, "CSV", body)
	rows, err := csv.NewReader(bytes.NewReader(body)).ReadAll()
	if err != nil || len(rows) != 6 || rows[0][15] != "encrypted" {
		t.Fatalf("CSV (%v): %q", err, body)
	}
	for _, r := range rows[1:] {
		want := "true"
		if r[8] == "hello everyone" {
			want = "false"
		} else if r[8] != "" {
			t.Errorf("encrypted row with a payload: %q", r)
		}
		if r[15] != want {
			t.Errorf("row %q: encrypted=%s, want %s", r, r[15], want)
		}
	}

	// The admin API: the envelope as an opaque field.
	admin, _ := a.Token("", "ops", "Ops", true)
	req, _ := http.NewRequest("GET", a.URL()+"/v1/sessions/"+synced["sessionId"].(string)+"/messages", nil)
	req.Header.Set("Authorization", "Bearer "+admin)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	scanFor(t, "admin API", body)
	if resp.StatusCode != 200 || bytes.Count(body, []byte(`"e2ee":{"suite":"bc-e2ee-v1"`)) != 4 {
		t.Fatalf("admin API: %d %s", resp.StatusCode, body)
	}

	// Every byte the server keeps: the data directory (SQLite's database
	// and WAL, the attachment store) and, on PostgreSQL, every row.
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	_ = filepath.WalkDir(dataDir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := os.ReadFile(path)
			scanFor(t, path, b)
		}
		return nil
	})
	if dsn != "" {
		scanPostgres(t, dsn)
	}
}

// scanFor fails if b holds any plaintext marker.
func scanFor(t *testing.T, where string, b []byte) {
	t.Helper()
	for _, m := range e2eeMarkers {
		if bytes.Contains(b, []byte(m)) {
			t.Errorf("%s holds the plaintext %q", where, m)
		}
	}
}

// scanPostgres reads every row of every table as text.
func scanPostgres(t *testing.T, dsn string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'`)
	if err != nil {
		t.Fatal(err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	var envelopes int
	for _, tb := range tables {
		rows, err := conn.Query(ctx, `SELECT t::text FROM `+pgx.Identifier{tb}.Sanitize()+` t`)
		if err != nil {
			t.Fatal(err)
		}
		texts, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range texts {
			scanFor(t, "PostgreSQL table "+tb, []byte(s))
			if tb == "messages" && strings.Contains(s, "bc-e2ee-v1") {
				envelopes++
			}
		}
	}
	if envelopes != 4 {
		t.Errorf("%d message rows hold an envelope, want 4", envelopes)
	}
}

func TestE2EEMeetingSQLite(t *testing.T) { testE2EEMeeting(t, "") }

func TestE2EEMeetingPostgres(t *testing.T) { testE2EEMeeting(t, recordertest.Postgres(t)) }
