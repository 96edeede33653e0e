package main

import (
	"bufio"
	"encoding/json"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestServeLogsJSON: with --log-format json every line the server writes
// is a JSON object, from start-up to shutdown, with the version in the
// start-up line; a meeting's join and leave are logged; and --dev does
// not log its API secret ("secret") under any key.
func TestServeLogsJSON(t *testing.T) {
	s := startProcessWith(t, t.TempDir(), freePort(t, "tcp"), freePort(t, "udp"), nil,
		"--log-format", "json", "--log-level", "info")
	c := joinChat(t, s.url, "logs", "alice")
	c.say(t, "hello")
	_ = c.Close()
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(s.log.String(), `"msg":"participant left"`); {
		if time.Now().After(deadline) {
			t.Fatalf("no leave line:\n%s", s.log)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Wait(); err != nil {
		t.Fatalf("serve after SIGTERM: %v\n%s", err, s.log)
	}
	out := s.log.String()
	msgs := map[string]map[string]any{}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var l map[string]any
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("not a JSON line: %s", sc.Text())
		}
		for k, v := range l {
			if v == "secret" || strings.Contains(k, "secret") {
				t.Errorf("the log shows the API secret: %s", sc.Text())
			}
		}
		if m, _ := l["msg"].(string); msgs[m] == nil {
			msgs[m] = l
		}
	}
	for _, m := range []string{"backchannel serving", "participant joined", "participant left", "shutting down"} {
		if msgs[m] == nil {
			t.Errorf("no %q line:\n%s", m, out)
		}
	}
	if l := msgs["backchannel serving"]; l != nil && l["version"] == nil {
		t.Errorf("start-up line without the version: %v", l)
	}
	// A client that says leave and closes its connections at once may
	// be seen first through its chat channel closing.
	if l := msgs["participant left"]; l != nil && l["reason"] != "client left" && l["reason"] != "chat channel closed" {
		t.Errorf("leave: %v", l)
	}
}
