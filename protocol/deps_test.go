package protocol_test

import (
	"os/exec"
	"strings"
	"testing"
)

// protocol is shared by the server and every client: it imports only the
// standard library.
func TestProtocolImportsOnlyTheStandardLibrary(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}",
		"github.com/backchannel-rtc/backchannel/protocol").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	if got := strings.Fields(string(out)); len(got) != 1 || got[0] != "github.com/backchannel-rtc/backchannel/protocol" {
		t.Errorf("protocol depends on %v", got)
	}
}
