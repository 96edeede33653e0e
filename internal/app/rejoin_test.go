package app_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/backchannel-rtc/backchannel/chat"
	"github.com/backchannel-rtc/backchannel/chat/chattest"
	"github.com/backchannel-rtc/backchannel/client"
	"github.com/backchannel-rtc/backchannel/internal/app"
	"github.com/backchannel-rtc/backchannel/protocol"
	"github.com/backchannel-rtc/backchannel/recorder/webhook"
)

// The departure timeout the tests run with: long enough to tell "ended at
// once" from "ended after it", short enough to wait for.
const testDeparture = 1500 * time.Millisecond

// rejoinServer starts a server whose chat uses departure as its departure
// timeout, with a webhook endpoint receiving every event.
func rejoinServer(t *testing.T, departure time.Duration) (*app.App, *hookReceiver) {
	rcv := newHookReceiver(t)
	all := rcv.endpoint("all", webhook.EventTypes...)
	cc := chat.DefaultConfig()
	cc.DepartureTimeout = departure
	a := startServer(t, nil, func(c *app.Config) {
		c.ChatConfig = &cc
		c.Webhooks = webhook.Config{Endpoints: []webhook.Endpoint{all},
			Schedule: []time.Duration{0, 20 * time.Millisecond, 50 * time.Millisecond}, PollInterval: 50 * time.Millisecond}
	})
	return a, rcv
}

// observer is a participant that records the presence it is told about:
// signaling participantJoined/Left and chat joined/left.
type observer struct {
	mu  sync.Mutex
	got []string
}

func (o *observer) add(s string) {
	o.mu.Lock()
	o.got = append(o.got, s)
	o.mu.Unlock()
}

func (o *observer) seen() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.got...)
}

func observe(t *testing.T, a *app.App, room, identity string) *observer {
	o := &observer{}
	join(t, a, room, identity, client.Options{
		OnEvent: func(m protocol.Signal) {
			switch m.Type {
			case protocol.SignalParticipantJoined:
				o.add("signal joined " + m.Participant.Identity)
			case protocol.SignalParticipantLeft:
				o.add("signal left " + m.Identity)
			}
		},
		OnChat: func(b []byte) {
			var p struct {
				Type        string `json:"type"`
				Identity    string `json:"identity"`
				Participant struct {
					Identity string `json:"identity"`
				} `json:"participant"`
			}
			if json.Unmarshal(b, &p) == nil && (p.Type == "joined" || p.Type == "left") {
				o.add("chat " + p.Type + " " + p.Identity + p.Participant.Identity)
			}
		},
	})
	return o
}

// sessionsOf returns the session ids the endpoint's events carry.
func sessionsOf(es []hookEvent) map[any]bool {
	out := map[any]bool{}
	for _, e := range es {
		out[e.Data["sessionId"]] = true
	}
	return out
}

// TestLoneRejoinOneSession: a participant alone in its room reconnects
// (same identity, a new connection replacing the old one). It is one
// session: one meeting.started, and one meeting.ended and chatSynced, sent
// only once the room stayed empty for the departure timeout, with one CSV
// holding the messages of both connections.
func TestLoneRejoinOneSession(t *testing.T) {
	a, rcv := rejoinServer(t, testDeparture)
	env := &wireEnv{a: a}
	first := chattest.Join(t, env, "solo", "alice", chattest.Grants{Name: "Alice"})
	first.Say("before the blip", nil)
	second := chattest.Join(t, env, "solo", "alice", chattest.Grants{Name: "Alice"})
	second.Say("after the blip", nil)
	env.Leave(t, second.P)
	left := time.Now()

	eventually(t, 15*time.Second, "meeting.chatSynced", func() bool {
		return types(rcv.at("all"))[webhook.MeetingChatSynced] > 0
	})
	if d := time.Since(left); d < testDeparture {
		t.Errorf("the session ended %v after the leave, before the departure timeout (%v)", d, testDeparture)
	}
	time.Sleep(300 * time.Millisecond) // anything spurious would follow
	rcv.checkOnce(t)
	evs := rcv.at("all")
	want := map[string]int{webhook.MeetingStarted: 1, webhook.ParticipantJoined: 1, webhook.ChatMessageCreated: 2,
		webhook.ParticipantLeft: 1, webhook.MeetingEnded: 1, webhook.MeetingChatSynced: 1}
	if g := types(evs); !sameCounts(g, want) {
		t.Errorf("got %v, want %v", g, want)
	}
	if s := sessionsOf(evs); len(s) != 1 {
		t.Errorf("events carry session ids %v", s)
	}
	for _, e := range evs {
		if e.Type != webhook.MeetingChatSynced {
			continue
		}
		resp, err := http.Get(e.Data["chatDownloadUrl"].(string))
		if err != nil {
			t.Fatal(err)
		}
		csv, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(csv), "before the blip") || !strings.Contains(string(csv), "after the blip") {
			t.Errorf("the CSV does not hold both messages: %d %s", resp.StatusCode, csv)
		}
	}
}

// TestReplacementInvisibleToOthers: when alice's connection is replaced by
// a new one of hers, bob sees neither a chat left/joined nor a second
// participantJoined; when she then leaves (signaling leave), bob is told at
// once, on signaling and in chat, well within the leave grace a lost
// connection gets.
func TestReplacementInvisibleToOthers(t *testing.T) {
	a, _ := rejoinServer(t, testDeparture)
	env := &wireEnv{a: a}
	bob := observe(t, a, "pair", "bob")
	chattest.Join(t, env, "pair", "alice", chattest.Grants{Name: "Alice"})
	eventually(t, 10*time.Second, "bob sees alice arrive", func() bool {
		s := strings.Join(bob.seen(), ",")
		return strings.Contains(s, "signal joined alice") && strings.Contains(s, "chat joined alice")
	})
	before := len(bob.seen())
	second := chattest.Join(t, env, "pair", "alice", chattest.Grants{Name: "Alice"})
	second.Say("still here", nil) // alice's new chat is attached
	time.Sleep(500 * time.Millisecond)
	if extra := bob.seen()[before:]; len(extra) != 0 {
		t.Errorf("bob saw the replacement: %v", extra)
	}
	env.Leave(t, second.P)
	eventually(t, chat.DefaultConfig().LeaveGrace/2, "bob told that alice left", func() bool {
		s := strings.Join(bob.seen()[before:], ",")
		return strings.Contains(s, "signal left alice") && strings.Contains(s, "chat left alice")
	})
}

// TestDepartureTimeout: a room emptied and joined again within the
// departure timeout continues its session; emptied for longer, the session
// ends, once.
func TestDepartureTimeout(t *testing.T) {
	a, rcv := rejoinServer(t, testDeparture)
	env := &wireEnv{a: a}
	first := chattest.Join(t, env, "gap", "alice", chattest.Grants{Name: "Alice"})
	first.Say("one", nil)
	env.Leave(t, first.P)
	time.Sleep(testDeparture / 3)
	second := chattest.Join(t, env, "gap", "bob", chattest.Grants{Name: "Bob"})
	second.Say("two", nil)
	time.Sleep(testDeparture) // past the first departure's timeout
	if n := types(rcv.at("all"))[webhook.MeetingEnded]; n != 0 {
		t.Fatalf("the session ended although bob joined within the departure timeout")
	}
	env.Leave(t, second.P)
	eventually(t, 15*time.Second, "meeting.ended", func() bool {
		return types(rcv.at("all"))[webhook.MeetingEnded] > 0
	})
	time.Sleep(300 * time.Millisecond)
	evs := rcv.at("all")
	g := types(evs)
	if g[webhook.MeetingStarted] != 1 || g[webhook.MeetingEnded] != 1 || g[webhook.MeetingChatSynced] != 1 {
		t.Errorf("got %v, want one session started, ended and synced", g)
	}
	if s := sessionsOf(evs); len(s) != 1 {
		t.Errorf("events carry session ids %v", s)
	}
}
