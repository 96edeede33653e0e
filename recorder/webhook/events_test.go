package webhook_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/backchannel-rtc/backchannel/auth"
	"github.com/backchannel-rtc/backchannel/recorder"
	recorderapi "github.com/backchannel-rtc/backchannel/recorder/api"
	"github.com/backchannel-rtc/backchannel/recorder/webhook"
)

var testKeys = auth.KeyProvider{APIKey: "testkey", APISecret: "testsecret-0123456789"}

// TestEventsOfAMeeting scripts a meeting through the recorder and checks,
// at a real HTTP receiver verifying every signature with the Standard
// Webhooks library, that each endpoint sees each event it subscribed to
// exactly once per webhook-id, with the documented payloads, and that
// meeting.chatSynced's link downloads the whole chat.
func TestEventsOfAMeeting(t *testing.T) {
	backends(t, func(t *testing.T, rcfg recorder.Config) {
		rcv := newReceiver(t)
		all := rcv.endpoint("all", webhook.EventTypes...)
		all.PrivateChat = true
		s := open(t, rcfg, webhook.Config{
			Endpoints:    []webhook.Endpoint{all, rcv.endpoint("default"), rcv.endpoint("chat", webhook.ChatMessageCreated)},
			Schedule:     fastSchedule(5),
			PollInterval: 50 * time.Millisecond,
		})
		h, err := recorderapi.Handler(s.rec, testKeys, recorderapi.Config{})
		if err != nil {
			t.Fatal(err)
		}
		api := httptest.NewServer(h)
		defer api.Close()
		s.d.SetBaseURL(api.URL)

		meeting(t, s, "standup")
		eventually(t, 10*time.Second, "every event at every endpoint", func() bool {
			got := rcv.got()
			return len(at(got, "all")) >= 9 && len(at(got, "default")) >= 7 && len(at(got, "chat")) >= 1
		})
		time.Sleep(200 * time.Millisecond) // anything extra would show up now
		rcv.checkOnce(t)
		got := rcv.got()
		want := map[string]int{webhook.MeetingStarted: 1, webhook.ParticipantJoined: 2, webhook.ChatMessageCreated: 2,
			webhook.ParticipantLeft: 2, webhook.MeetingEnded: 1, webhook.MeetingChatSynced: 1}
		if g := byType(at(got, "all")); !equalCounts(g, want) {
			t.Errorf("endpoint all got %v, want %v", g, want)
		}
		delete(want, webhook.ChatMessageCreated)
		if g := byType(at(got, "default")); !equalCounts(g, want) {
			t.Errorf("endpoint default (no list: chat is opt-in) got %v, want %v", g, want)
		}
		if g := byType(at(got, "chat")); !equalCounts(g, map[string]int{webhook.ChatMessageCreated: 1}) {
			t.Errorf("endpoint chat (no private chat) got %v, want only the group message", g)
		}

		// One webhook-id per event, the same at every endpoint.
		ids := map[string]map[string]bool{}
		for _, r := range got {
			if ids[r.Type] == nil {
				ids[r.Type] = map[string]bool{}
			}
			ids[r.Type][r.ID] = true
			if !strings.HasPrefix(r.ID, "msg_") {
				t.Errorf("webhook-id %q", r.ID)
			}
			if len(r.Body) != 3 || r.Body["timestamp"] == nil {
				t.Errorf("body must be {type,timestamp,data}: %s", r.Raw)
			}
		}
		if len(ids[webhook.MeetingStarted]) != 1 || len(ids[webhook.MeetingChatSynced]) != 1 {
			t.Errorf("an event has different webhook-ids at different endpoints: %v", ids)
		}

		var started, synced, private, group map[string]any
		for _, r := range at(got, "all") {
			switch r.Type {
			case webhook.MeetingStarted:
				started = r.Data
			case webhook.MeetingChatSynced:
				synced = r.Data
			case webhook.ChatMessageCreated:
				if m := r.Data["message"].(map[string]any); m["private"] == true {
					private = m
				} else {
					group = m
				}
			}
		}
		for _, k := range []string{"meetingId", "sessionId", "startedAt", "endedAt", "chatDownloadUrl", "chatDownloadUrlExpiry"} {
			if s, _ := synced[k].(string); s == "" {
				t.Errorf("meeting.chatSynced lacks %s: %v", k, synced)
			}
		}
		if exp, _ := synced["chatDownloadUrlExpiry"].(string); !regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`).MatchString(exp) {
			t.Errorf("chatDownloadUrlExpiry %q: want RFC 3339 with milliseconds, as the API's", exp)
		}
		if synced["sessionId"] != started["sessionId"] || synced["meetingId"] != started["meetingId"] {
			t.Errorf("chatSynced %v is not for the session that started %v", synced, started)
		}
		if private == nil || group == nil {
			t.Fatalf("messages: private %v group %v", private, group)
		}
		if rs, _ := private["recipients"].([]any); len(rs) != 1 || rs[0] != "bob" {
			t.Errorf("private message recipients %v", private["recipients"])
		}
		if _, ok := group["recipients"]; ok {
			t.Errorf("group message has recipients: %v", group)
		}

		// Every message of the session is in the CSV the link gives.
		resp, err := http.Get(synced["chatDownloadUrl"].(string))
		if err != nil {
			t.Fatal(err)
		}
		csv, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(csv), "hello everyone") || !strings.Contains(string(csv), "just for bob") {
			t.Errorf("chat download: %d %q", resp.StatusCode, csv)
		}
		eventually(t, 5*time.Second, "every accepted row marked delivered", func() bool {
			return countStatus(t, s, recorder.OutboxDelivered) == int64(len(got))
		})
	})
}

func equalCounts(a, b map[string]int) bool {
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
