package client_test

import (
	"os/exec"
	"strings"
	"testing"
)

// A bot that imports the client must not pull in the server: none of its
// packages, and no Prometheus (whose collectors would register themselves
// in the bot's process). go list names every package client depends on.
func TestClientImportsNoServerPackage(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}",
		"github.com/backchannel-rtc/backchannel/client").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	const mod = "github.com/backchannel-rtc/backchannel/"
	allowed := map[string]bool{mod + "client": true, mod + "protocol": true, mod + "protocol/e2ee": true,
		mod + "internal/rtcsetup": true}
	var ours int
	for _, p := range strings.Fields(string(out)) {
		if strings.HasPrefix(p, mod) {
			ours++
			if !allowed[p] {
				t.Errorf("client depends on %s", p)
			}
		}
		if strings.Contains(p, "prometheus") {
			t.Errorf("client depends on %s", p)
		}
	}
	if ours != len(allowed) {
		t.Errorf("go list named %d of our packages, want %d:\n%s", ours, len(allowed), out)
	}
}
