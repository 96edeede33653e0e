package app_test

// Poison messages (issue 20, finding 1). What chat accepts, both databases
// store: a value the schema cannot hold is refused before fan-out with
// bad_packet, so nobody sees it and the database never gets it. A change a
// database still refuses for good (here: a constraint the test adds, which
// chat cannot know about) is withdrawn: its sender gets "rejected", and
// everyone who saw it gets a "withdrawn" event.

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/backchannel-rtc/backchannel/client"
	"github.com/backchannel-rtc/backchannel/internal/app"
	"github.com/backchannel-rtc/backchannel/recorder/recordertest"
)

// poisonPeer records what one participant receives.
type poisonPeer struct {
	id string
	c  *client.Client

	mu        sync.Mutex
	sent      map[string]time.Time // clientId -> sent
	acks      map[string]time.Time // clientId -> first ack
	ackIDs    map[string]string    // clientId -> message id
	errs      map[string]string    // clientId -> error code
	texts     []string             // every message and edit text seen live
	withdrawn []poisonPacket
}

type poisonPacket struct {
	Type     string          `json:"type"`
	ClientID string          `json:"clientId"`
	ID       string          `json:"id"`
	Seq      int64           `json:"seq"`
	Code     string          `json:"code"`
	Text     string          `json:"text"`
	Raw      json.RawMessage `json:"message"` // an object, or an error's text
	Message  *poisonMessage  `json:"-"`
	Messages []struct {
		Text string `json:"text"`
	} `json:"messages"`
}

type poisonMessage struct {
	ID   string   `json:"id"`
	Text string   `json:"text"`
	To   []string `json:"to"`
}

func newPoisonPeer(t *testing.T, a *app.App, room, id string) *poisonPeer {
	p := &poisonPeer{id: id, sent: map[string]time.Time{}, acks: map[string]time.Time{},
		ackIDs: map[string]string{}, errs: map[string]string{}}
	p.c = join(t, a, room, id, client.Options{OnChat: p.onChat})
	return p
}

func (p *poisonPeer) onChat(b []byte) {
	now := time.Now()
	var pk poisonPacket
	if json.Unmarshal(b, &pk) != nil {
		return
	}
	if len(pk.Raw) > 0 && pk.Raw[0] == '{' {
		pk.Message = new(poisonMessage)
		_ = json.Unmarshal(pk.Raw, pk.Message)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	switch pk.Type {
	case "ack":
		if _, ok := p.acks[pk.ClientID]; !ok {
			p.acks[pk.ClientID] = now
			p.ackIDs[pk.ClientID] = pk.ID
		}
	case "error":
		p.errs[pk.ClientID] = pk.Code
	case "message":
		if pk.Message != nil {
			p.texts = append(p.texts, pk.Message.Text)
		}
	case "edited":
		p.texts = append(p.texts, pk.Text)
	case "history":
		for _, m := range pk.Messages {
			p.texts = append(p.texts, m.Text)
		}
	case "withdrawn":
		p.withdrawn = append(p.withdrawn, pk)
	}
}

func (p *poisonPeer) send(t *testing.T, clientID string, pk map[string]any) {
	t.Helper()
	pk["clientId"] = clientID
	b, _ := json.Marshal(pk)
	p.mu.Lock()
	p.sent[clientID] = time.Now()
	p.mu.Unlock()
	if err := p.c.SendChat(b); err != nil {
		t.Fatalf("%s: send: %v", p.id, err)
	}
}

// latencies returns the ack latency of every clientId with the prefix.
func (p *poisonPeer) latencies(prefix string) (got []time.Duration, missing int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for cid, at := range p.sent {
		if !strings.HasPrefix(cid, prefix) {
			continue
		}
		if ack, ok := p.acks[cid]; ok {
			got = append(got, ack.Sub(at))
		} else {
			missing++
		}
	}
	return got, missing
}

func (p *poisonPeer) errCode(cid string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.errs[cid]
}

func (p *poisonPeer) ackID(cid string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.ackIDs[cid]
}

func p99Of(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)*99/100]
}

func TestPoisonMessagesSQLite(t *testing.T) { testPoisonMessages(t, "") }
func TestPoisonMessagesPostgres(t *testing.T) {
	testPoisonMessages(t, recordertest.Postgres(t))
}

// testPoisonMessages: one attacker at 10 packets/s in room x sends texts
// with NUL, private messages to a 256-character identity, edits with NUL
// and `to: []`; each is refused with bad_packet, nobody sees any of them,
// and two other rooms' ack p99 stays within twice its baseline (plus 50 ms
// of this shared machine's scheduling noise under the race detector).
func testPoisonMessages(t *testing.T, dsn string) {
	a := startServer(t, nil, func(c *app.Config) { c.Database = dsn })
	var senders []*poisonPeer
	for _, room := range []string{"r1", "r2"} {
		senders = append(senders, newPoisonPeer(t, a, room, "alice-"+room))
		newPoisonPeer(t, a, room, "bob-"+room) // a second participant in each room
	}
	mallory := newPoisonPeer(t, a, "x", "mallory")
	victim := newPoisonPeer(t, a, "x", "victim")
	mallory.send(t, "own", map[string]any{"type": "chat", "text": "my own message"})
	eventually(t, 10*time.Second, "mallory's first ack", func() bool { return mallory.ackID("own") != "" })
	ownID := mallory.ackID("own")

	// Everyone sends 8 messages a second (under the default 10/s limit).
	phase := func(prefix string, d time.Duration, attack bool) {
		stop := time.Now().Add(d)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for i := 0; time.Now().Before(stop); i++ {
			<-tick.C
			if i%5 != 4 {
				for _, s := range senders {
					s.send(t, fmt.Sprintf("%s-%d", prefix, i), map[string]any{"type": "chat", "text": "hello " + prefix})
				}
			}
			if !attack {
				continue
			}
			cid := fmt.Sprintf("p-%d", i)
			switch i % 5 {
			case 0:
				mallory.send(t, cid, map[string]any{"type": "chat", "text": "a\u0000b"})
			case 1:
				mallory.send(t, cid, map[string]any{"type": "chat", "text": "to a long name", "to": []string{strings.Repeat("a", 256)}})
			case 2:
				mallory.send(t, cid, map[string]any{"type": "edit", "id": ownID, "text": "edited \u0000"})
			case 3:
				mallory.send(t, cid, map[string]any{"type": "chat", "text": "to nobody", "to": []string{}})
			case 4:
				// A valid packet now and then, as a real client sends: 20
				// violations in a row would close the connection.
				mallory.send(t, "ok-"+cid, map[string]any{"type": "chat", "text": "fine " + cid})
			}
		}
	}
	acked := func(prefix string) []time.Duration {
		var all []time.Duration
		eventually(t, 15*time.Second, "every "+prefix+" message acked", func() bool {
			all = all[:0]
			for _, s := range senders {
				got, missing := s.latencies(prefix)
				if missing > 0 {
					return false
				}
				all = append(all, got...)
			}
			return true
		})
		return all
	}
	phase("base", 3*time.Second, false)
	base := acked("base")
	phase("attack", 3*time.Second, true)
	attacked := acked("attack")

	mallory.mu.Lock()
	sent := make([]string, 0, len(mallory.sent))
	for cid := range mallory.sent {
		sent = append(sent, cid)
	}
	mallory.mu.Unlock()
	poisons := 0
	for _, cid := range sent {
		if !strings.HasPrefix(cid, "p-") {
			continue
		}
		poisons++
		eventually(t, 5*time.Second, "an answer to "+cid, func() bool { return mallory.errCode(cid) != "" })
		if code := mallory.errCode(cid); code != "bad_packet" {
			t.Errorf("%s: error %q, want bad_packet", cid, code)
		}
	}
	if poisons < 20 {
		t.Fatalf("only %d poison packets sent", poisons)
	}
	for _, p := range []*poisonPeer{mallory, victim} {
		p.mu.Lock()
		for _, txt := range p.texts {
			if strings.ContainsRune(txt, 0) || txt == "to a long name" || txt == "to nobody" {
				t.Errorf("%s saw a refused message live: %q", p.id, txt)
			}
		}
		p.mu.Unlock()
	}
	pb, pa := p99Of(base), p99Of(attacked)
	t.Logf("other rooms' ack p99: %v alone, %v beside the attacker (%d and %d messages)", pb, pa, len(base), len(attacked))
	if limit := max(2*pb, pb+50*time.Millisecond); pa > limit {
		t.Fatalf("other rooms' ack p99 went from %v to %v beside the attacker (limit %v)", pb, pa, limit)
	}
}

func TestRefusedChangeIsWithdrawnSQLite(t *testing.T) {
	testRefusedChangeIsWithdrawn(t, "", []string{
		`CREATE TRIGGER test_forbidden_ins BEFORE INSERT ON messages WHEN NEW.text LIKE '%forbidden%'
			BEGIN SELECT RAISE(ABORT, 'forbidden text'); END`,
		`CREATE TRIGGER test_forbidden_upd BEFORE UPDATE ON messages WHEN NEW.text LIKE '%forbidden%'
			BEGIN SELECT RAISE(ABORT, 'forbidden text'); END`,
	})
}

func TestRefusedChangeIsWithdrawnPostgres(t *testing.T) {
	testRefusedChangeIsWithdrawn(t, recordertest.Postgres(t), []string{
		`ALTER TABLE messages ADD CONSTRAINT test_no_forbidden CHECK (text NOT LIKE '%forbidden%')`,
	})
}

// testRefusedChangeIsWithdrawn: the database refuses texts containing
// "forbidden" (a rule chat cannot know). A new message with it is shown
// live, then its sender gets "rejected" (not a retryable "unavailable"),
// both participants get "withdrawn", a retry of its clientId is refused
// again, and history never has it. An edit to such a text is withdrawn
// the same way, with the message as stored.
func testRefusedChangeIsWithdrawn(t *testing.T, dsn string, ddl []string) {
	a := startServer(t, nil, func(c *app.Config) { c.Database = dsn })
	for _, q := range ddl {
		if err := a.Recorder.DB().Exec(q).Error; err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	alice := newPoisonPeer(t, a, "w", "alice")
	bob := newPoisonPeer(t, a, "w", "bob")

	withdrawn := func(p *poisonPeer, id string) *poisonPacket {
		p.mu.Lock()
		defer p.mu.Unlock()
		for i := range p.withdrawn {
			if p.withdrawn[i].ID == id {
				return &p.withdrawn[i]
			}
		}
		return nil
	}
	// Bob's chat is attached on the server once he sees a message live: a
	// peer whose client reports the channel open may still be attaching,
	// and one that attaches after the withdrawal never saw the message
	// (nothing to withdraw for him).
	alice.send(t, "hello", map[string]any{"type": "chat", "text": "hello, bob"})
	eventually(t, 10*time.Second, "bob attached", func() bool {
		bob.mu.Lock()
		defer bob.mu.Unlock()
		return slices.Contains(bob.texts, "hello, bob")
	})
	alice.send(t, "f1", map[string]any{"type": "chat", "text": "some forbidden words"})
	eventually(t, 10*time.Second, "rejected", func() bool { return alice.errCode("f1") != "" })
	if code := alice.errCode("f1"); code != "rejected" {
		t.Fatalf("f1: error %q, want rejected", code)
	}
	var id string
	eventually(t, 10*time.Second, "withdrawn seen by both", func() bool {
		bob.mu.Lock()
		if len(bob.withdrawn) > 0 {
			id = bob.withdrawn[0].ID
		}
		bob.mu.Unlock()
		return id != "" && withdrawn(alice, id) != nil
	})
	if w := withdrawn(bob, id); w.Message != nil {
		t.Fatalf("a withdrawn new message carries a message: %+v", w.Message)
	}
	// The same clientId again: refused again, nothing created.
	alice.mu.Lock()
	delete(alice.errs, "f1")
	alice.mu.Unlock()
	alice.send(t, "f1", map[string]any{"type": "chat", "text": "some forbidden words"})
	eventually(t, 10*time.Second, "retry refused", func() bool { return alice.errCode("f1") == "rejected" })

	alice.send(t, "ok", map[string]any{"type": "chat", "text": "fine"})
	eventually(t, 10*time.Second, "ok acked", func() bool { return alice.ackID("ok") != "" })
	okID := alice.ackID("ok")
	alice.send(t, "e1", map[string]any{"type": "edit", "id": okID, "text": "now forbidden"})
	eventually(t, 10*time.Second, "edit rejected", func() bool { return alice.errCode("e1") == "rejected" })
	eventually(t, 10*time.Second, "edit withdrawn for both", func() bool {
		return withdrawn(alice, okID) != nil && withdrawn(bob, okID) != nil
	})
	if w := withdrawn(bob, okID); w.Message == nil || w.Message.Text != "fine" {
		t.Fatalf("withdrawn edit: %+v, want the stored text \"fine\"", w.Message)
	}

	// A newcomer's replay has the stored state only.
	carol := newPoisonPeer(t, a, "w", "carol")
	eventually(t, 10*time.Second, "carol's replay", func() bool {
		carol.mu.Lock()
		defer carol.mu.Unlock()
		return len(carol.texts) > 0
	})
	carol.mu.Lock()
	defer carol.mu.Unlock()
	if want := []string{"hello, bob", "fine"}; !slices.Equal(carol.texts, want) {
		t.Fatalf("carol's replay: %q, want %q", carol.texts, want)
	}
}
