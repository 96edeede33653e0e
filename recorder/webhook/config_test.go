package webhook_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/backchannel-rtc/backchannel/recorder/webhook"
)

func TestFromFlags(t *testing.T) {
	secret := newSecret(t)
	file := filepath.Join(t.TempDir(), "hooks.json")
	if err := os.WriteFile(file, []byte(`[
		{"id":"crm","url":"https://crm.example.com/hooks","secret":"`+secret+`","events":["meeting.chatSynced"]},
		{"id":"audit","url":"https://audit.example.com/in","secret":"`+secret+`","events":["chat.message.created"],"privateChat":true}
	]`), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := webhook.FromFlags(webhook.Flags{URL: "http://localhost:9000/h", Secret: secret, File: file,
		Schedule: "0s, 1s, 1m", Timeout: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Endpoints) != 3 || c.Endpoints[0].ID != "default" || !c.Endpoints[2].PrivateChat || len(c.Schedule) != 3 || c.Timeout != 3*time.Second {
		t.Fatalf("config %+v", c)
	}
	def := c.Endpoints[0]
	if !def.Wants(webhook.MeetingStarted) || def.Wants(webhook.ChatMessageCreated) {
		t.Errorf("no event list: everything but the opt-in chat.message.created")
	}
	if c.Endpoints[1].Wants(webhook.MeetingStarted) || !c.Endpoints[1].Wants(webhook.MeetingChatSynced) {
		t.Errorf("an event list is exactly what the endpoint gets")
	}

	bad := []webhook.Flags{
		{URL: "http://x/h"}, // no secret
		{URL: "http://x/h", Secret: "not-whsec"},
		{URL: "http://x/h", Secret: "whsec_!!!"},
		{URL: "http://x/h", Secret: "whsec_c2hvcnQ="}, // too short
		{URL: "ftp://x/h", Secret: secret},
		{URL: "http://x/h", Secret: secret, Events: "meeting.started,meeting.exploded"},
		{URL: "http://x/h", Secret: secret, Schedule: "0s,soon"},
		{Events: "meeting.started"}, // no URL
		{File: filepath.Join(t.TempDir(), "missing.json")},
	}
	for _, f := range bad {
		if _, err := webhook.FromFlags(f); err == nil {
			t.Errorf("%+v accepted", f)
		}
	}
	dup := filepath.Join(t.TempDir(), "dup.json")
	os.WriteFile(dup, []byte(`[{"id":"a","url":"http://x/1","secret":"`+secret+`"},{"id":"a","url":"http://x/2","secret":"`+secret+`"}]`), 0o600)
	if _, err := webhook.FromFlags(webhook.Flags{File: dup}); !errors.Is(err, webhook.ErrConfig) {
		t.Errorf("duplicate ids: %v", err)
	}
	typo := filepath.Join(t.TempDir(), "typo.json")
	os.WriteFile(typo, []byte(`[{"id":"a","url":"http://x/1","secret":"`+secret+`","event":["meeting.started"]}]`), 0o600)
	if _, err := webhook.FromFlags(webhook.Flags{File: typo}); err == nil {
		t.Errorf("unknown field accepted")
	}
}
