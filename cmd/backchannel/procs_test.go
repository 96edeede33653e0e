package main

import (
	"bufio"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// gomaxprocs reads the server process's GOMAXPROCS from its /metrics.
func gomaxprocs(t *testing.T, s *server) int {
	t.Helper()
	resp, err := http.Get(s.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "go_sched_gomaxprocs_threads "); ok {
			n, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatal(err)
			}
			return int(n)
		}
	}
	t.Fatalf("no go_sched_gomaxprocs_threads in /metrics (%v)", sc.Err())
	return 0
}

// TestServeSizesGOMAXPROCSToTheLoad: `serve` runs idle on one P (the
// controller of internal/procs), keeps Go's default with
// --adaptive-procs=false, and leaves a GOMAXPROCS from the environment
// alone. That the controller grows and shrinks with real load is
// internal/procs' own test.
func TestServeSizesGOMAXPROCSToTheLoad(t *testing.T) {
	if v := os.Getenv("GOMAXPROCS"); v != "" {
		t.Skipf("GOMAXPROCS=%s is set for the tests: Go's default is unknown here", v)
	}
	def := runtime.GOMAXPROCS(0)
	if def < 2 {
		t.Skipf("GOMAXPROCS is %d here: there is nothing to size", def)
	}
	start := func(env []string, flags ...string) *server {
		env = append([]string{"BACKCHANNEL_ADAPTIVE_PROCS="}, env...) // the flag's default, whatever this shell says
		return startProcessWith(t, t.TempDir(), freePort(t, "tcp"), freePort(t, "udp"), env, flags...)
	}
	idle := start(nil)
	deadline := time.Now().Add(10 * time.Second)
	for gomaxprocs(t, idle) != 1 { // the first seconds may count start-up work
		if time.Now().After(deadline) {
			t.Fatalf("an idle server keeps GOMAXPROCS %d, want 1", gomaxprocs(t, idle))
		}
		time.Sleep(100 * time.Millisecond)
	}
	if n := gomaxprocs(t, start(nil, "--adaptive-procs=false")); n != def {
		t.Errorf("--adaptive-procs=false: GOMAXPROCS %d, want Go's default %d", n, def)
	}
	if n := gomaxprocs(t, start([]string{"GOMAXPROCS=2"})); n != 2 {
		t.Errorf("GOMAXPROCS=2 in the environment: %d", n)
	}
}
