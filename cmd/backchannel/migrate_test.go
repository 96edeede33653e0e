package main

import (
	"strings"
	"testing"

	"github.com/backchannel-rtc/backchannel/recorder"
)

// `migrate up` applies this build's migrations to a new SQLite database,
// `status` then lists each as applied and changes nothing, a second `up`
// has nothing to do, and a data folder that does not exist is an
// operator's mistake (exit 2), not a new database.
func TestMigrateCommand(t *testing.T) {
	dir := t.TempDir()
	code, out, errOut := runCLI(t, "migrate", "up", "--data", dir)
	if code != 0 || strings.Count(out, "OK") != recorder.MigrationCount() {
		t.Fatalf("migrate up: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	code, out, _ = runCLI(t, "migrate", "status", "--data", dir)
	if code != 0 || strings.Count(out, "applied") != recorder.MigrationCount() {
		t.Fatalf("migrate status: exit %d, stdout %q", code, out)
	}
	code, out, _ = runCLI(t, "migrate", "up", "--data", dir)
	if code != 0 || !strings.Contains(out, "up to date") {
		t.Errorf("second migrate up: exit %d, stdout %q", code, out)
	}
	missing := dir + "/nope"
	if code, _, errOut := runCLI(t, "migrate", "status", "--data", missing); code != 2 || !strings.Contains(errOut, "no data folder") {
		t.Errorf("missing data folder: exit %d, stderr %q", code, errOut)
	}
	if code, _, _ := runCLI(t, "migrate", "up", "--data", dir, "stray"); code != 2 {
		t.Errorf("a stray argument: exit %d, want 2", code)
	}
}
