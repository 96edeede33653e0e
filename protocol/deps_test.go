package protocol_test

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// protocol is shared by the server and every client: it imports only the
// standard library and its own e2ee package (which imports only the
// standard library too).
func TestProtocolImportsOnlyTheStandardLibrary(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}",
		"github.com/backchannel-rtc/backchannel/protocol").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	got := strings.Fields(string(out))
	slices.Sort(got)
	if !slices.Equal(got, []string{"github.com/backchannel-rtc/backchannel/protocol", "github.com/backchannel-rtc/backchannel/protocol/e2ee"}) {
		t.Errorf("protocol depends on %v", got)
	}
}
