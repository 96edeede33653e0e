package main

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/backchannel-rtc/backchannel/auth"
)

// runCLI runs a command line in-process and returns its exit code,
// stdout and stderr.
func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr lockedBuffer
	done := make(chan int, 1)
	go func() { done <- run(context.Background(), append([]string{"backchannel"}, args...), &stdout, &stderr) }()
	select {
	case code := <-done:
		return code, stdout.String(), stderr.String()
	case <-time.After(30 * time.Second):
		t.Fatalf("backchannel %q did not return (a server started?)", args)
		return 0, "", ""
	}
}

// lockedBuffer is an output of run: `serve` makes its logger slog's
// default, which anything may write to later.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// inEmptyDir runs the test in an empty working directory and checks at
// the end that nothing was created in it (no ./data as a side effect).
func inEmptyDir(t *testing.T) {
	t.Helper()
	dir := t.TempDir()
	t.Chdir(dir)
	t.Cleanup(func() {
		if ents, _ := os.ReadDir(dir); len(ents) > 0 {
			t.Errorf("the working directory is not empty: %v", ents)
		}
	})
}

func TestHelpExitsZero(t *testing.T) {
	inEmptyDir(t)
	for _, args := range [][]string{
		{"--help"}, {"-h"}, {"help"}, {}, {"serve", "--help"}, {"serve", "-h"}, {"token", "--help"}, {"export", "--help"},
		{"bench", "--help"}, {"version", "--help"}, {"help", "serve"}, {"completion", "--help"},
	} {
		code, out, errOut := runCLI(t, args...)
		if code != 0 || !strings.Contains(out, "USAGE:") || errOut != "" {
			t.Errorf("backchannel %q: exit %d, stderr %q, stdout:\n%s", args, code, errOut, out)
		}
	}
	_, out, _ := runCLI(t, "--help")
	for _, c := range []string{"serve", "token", "export", "bench", "version", "completion"} {
		if !regexp.MustCompile(`(?m)^\s+` + c + `\b`).MatchString(out) {
			t.Errorf("the top-level usage does not list %s:\n%s", c, out)
		}
	}
}

// sharedEnv are the flags whose variable is serve's in every command.
var sharedEnv = []string{"api-key", "api-secret", "data", "database", "public-url"}

// TestHelpShowsEveryEnvVar: every flag of every command reads exactly one
// variable, named by the rule (BACKCHANNEL_ and the flag; the command's
// name too for flags serve does not have), and --help shows it; every
// variable README names is one of them, and README names all of serve's.
func TestHelpShowsEveryEnvVar(t *testing.T) {
	all := map[string]bool{}
	var serveVars []string
	for _, cmd := range newApp(nil, nil).Commands {
		if cmd.Name == "completion" || cmd.Name == "help" {
			continue
		}
		_, help, _ := runCLI(t, cmd.Name, "--help")
		for _, f := range cmd.Flags {
			name := f.Names()[0]
			want := envName(name)
			if cmd.Name != "serve" && !slices.Contains(sharedEnv, name) {
				want = envName(cmd.Name + "-" + name)
			}
			got := f.(interface{ GetEnvVars() []string }).GetEnvVars()
			if len(got) != 1 || got[0] != want {
				t.Errorf("%s --%s reads %v, want [%s]", cmd.Name, name, got, want)
				continue
			}
			if !strings.Contains(help, "[$"+want+"]") {
				t.Errorf("%s --help does not show $%s", cmd.Name, want)
			}
			all[want] = true
			if cmd.Name == "serve" {
				serveVars = append(serveVars, want)
			}
		}
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range regexp.MustCompile(`BACKCHANNEL_[A-Z0-9_]*[A-Z0-9]`).FindAllString(string(readme), -1) {
		if !all[v] {
			t.Errorf("README names %s, which no flag reads", v)
		}
	}
	for _, v := range serveVars {
		if !bytes.Contains(readme, []byte("`"+v+"`")) {
			t.Errorf("README's table lacks %s", v)
		}
	}
}

// TestBadCommandLinesExitTwo: a stray argument, an unknown flag or
// command, a bad value, whether given as a flag or in the environment,
// is refused with one line on stderr and exit code 2, before anything is
// opened or created.
func TestBadCommandLinesExitTwo(t *testing.T) {
	inEmptyDir(t)
	type tc struct {
		env  []string // NAME=value
		args []string
	}
	cases := []tc{
		{nil, []string{"nonsense"}},
		{nil, []string{"--bogus"}},
		{nil, []string{"serve", "--dev", "stray"}},
		{nil, []string{"serve", "--dev", "--bogus"}},
		{nil, []string{"serve", "--dev", "--rtc-udp-port", "notaport"}},
		{nil, []string{"serve", "--dev", "--rtc-udp-port", "70000"}},
		{[]string{"BACKCHANNEL_RTC_UDP_PORT=notaport"}, []string{"serve", "--dev"}},
		{[]string{"BACKCHANNEL_RTC_TCP_PORT=-1"}, []string{"serve", "--dev"}},
		{[]string{"BACKCHANNEL_CHAT_RATE=fast"}, []string{"serve", "--dev"}},
		{[]string{"BACKCHANNEL_CHAT_BURST=1.5"}, []string{"serve", "--dev"}},
		{[]string{"BACKCHANNEL_ADAPTIVE_PROCS=maybe"}, []string{"serve", "--dev"}},
		{[]string{"BACKCHANNEL_DEV=yes please"}, []string{"serve"}},
		{[]string{"BACKCHANNEL_WEBHOOK_TIMEOUT=soon"}, []string{"serve", "--dev"}},
		{[]string{"BACKCHANNEL_LOG_FORMAT=xml"}, []string{"serve", "--dev"}},
		{nil, []string{"serve", "--dev", "--log-format", "xml"}},
		{nil, []string{"serve", "--dev", "--log-level", "loud"}},
		{nil, []string{"serve"}},                                                      // no key and secret, no --dev
		{nil, []string{"serve", "--dev", "--webhook-url", "http://127.0.0.1:9/hook"}}, // no secret
		{nil, []string{"token", "--api-key", "k", "--api-secret", "s", "--identity", "a", "--room", "r", "--ttl", "-1h"}},
		{nil, []string{"token", "--api-key", "k", "--api-secret", "s", "--identity", "a", "--room", "r", "--ttl", "0s"}},
		{[]string{"BACKCHANNEL_TOKEN_TTL=-1h"}, []string{"token", "--api-key", "k", "--api-secret", "s", "--identity", "a", "--room", "r"}},
		{nil, []string{"token", "--api-key", "k", "--api-secret", "s", "--identity", "a"}}, // neither --room nor --admin
		{nil, []string{"token", "--api-key", "k", "--api-secret", "s", "--room", "r"}},     // no identity
		{nil, []string{"token", "--api-key", "k", "--api-secret", "s", "--identity", "a", "--admin", "--hidden"}},
		{nil, []string{"token", "--identity", "a", "--room", "r"}}, // no key
		{nil, []string{"token", "--api-key", "k", "--api-secret", "s", "--identity", "a", "--room", "r", "extra"}},
		{nil, []string{"export"}},
		{nil, []string{"export", "--room", "r", "--session", "s"}},
		{nil, []string{"export", "--room", "r", "--link-ttl", "-1s"}},
		{nil, []string{"export", "--room", "r", "chat.csv"}},
		{nil, []string{"bench", "-n", "x"}},
		{nil, []string{"bench", "--duration", "0s"}},
		{[]string{"BACKCHANNEL_BENCH_RATE=-5"}, []string{"bench"}},
		{nil, []string{"bench", "extra"}},
		{nil, []string{"version", "extra"}},
	}
	for _, c := range cases {
		for _, kv := range c.env {
			k, v, _ := strings.Cut(kv, "=")
			t.Setenv(k, v)
		}
		code, out, errOut := runCLI(t, c.args...)
		if code != 2 || out != "" || !strings.HasPrefix(errOut, "backchannel: ") || strings.Count(errOut, "\n") != 1 {
			t.Errorf("%v backchannel %q: exit %d, stdout %q, stderr %q (want 2, nothing, one line)", c.env, c.args, code, out, errOut)
		}
		for _, kv := range c.env {
			k, _, _ := strings.Cut(kv, "=")
			os.Unsetenv(k)
		}
	}
}

// TestFailuresExitOne: a command line that is right but whose work fails
// exits 1; a server that cannot start leaves no data folder behind.
func TestFailuresExitOne(t *testing.T) {
	inEmptyDir(t)
	code, _, errOut := runCLI(t, "export", "--room", "r", "--data", "nowhere")
	if code != 1 || !strings.Contains(errOut, "no database") {
		t.Errorf("export from a missing database: exit %d, %q", code, errOut)
	}
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	code, _, errOut = runCLI(t, "serve", "--dev", "--addr", busy.Addr().String(), "--rtc-bind", "127.0.0.1",
		"--rtc-udp-port", "0", "--rtc-tcp-port", "0", "--log-level", "error")
	if code != 1 || !strings.Contains(errOut, "address already in use") {
		t.Errorf("serve on a busy port: exit %d, %q", code, errOut)
	}
}

// TestEnvValuesApply: a variable sets its flag, the flag wins over it, and
// an empty variable is as good as none.
func TestEnvValuesApply(t *testing.T) {
	inEmptyDir(t)
	keys := auth.KeyProvider{APIKey: "envkey", APISecret: "envsecret"}
	t.Setenv("BACKCHANNEL_API_KEY", keys.APIKey)
	t.Setenv("BACKCHANNEL_API_SECRET", keys.APISecret)
	t.Setenv("BACKCHANNEL_TOKEN_ROOM", "from-env")
	t.Setenv("BACKCHANNEL_TOKEN_IDENTITY", "alice")
	t.Setenv("BACKCHANNEL_TOKEN_TTL", "30m")
	mint := func(args ...string) (auth.Identity, time.Duration) {
		t.Helper()
		code, out, errOut := runCLI(t, append([]string{"token"}, args...)...)
		if code != 0 {
			t.Fatalf("token %q: exit %d: %s", args, code, errOut)
		}
		who, err := keys.Verify(strings.TrimSpace(out))
		if err != nil {
			t.Fatal(err)
		}
		return who, time.Until(who.Expiry)
	}
	who, ttl := mint()
	if who.Identity != "alice" || who.Grant.Room != "from-env" || !who.Grant.RoomJoin || ttl > 30*time.Minute || ttl < 29*time.Minute {
		t.Fatalf("from the environment: %+v, ttl %v", who, ttl)
	}
	if who, _ = mint("--room", "from-flag"); who.Grant.Room != "from-flag" {
		t.Fatalf("the flag does not win: %+v", who.Grant)
	}
	t.Setenv("BACKCHANNEL_TOKEN_TTL", "")
	if _, ttl = mint(); ttl < 5*time.Hour {
		t.Fatalf("an empty variable is not the default: ttl %v", ttl)
	}
}

// TestTokenMintsRoomlessAdmin: `token --admin` without --room is the
// token the whole-server API (webhook deliveries) wants: it administers
// every room and joins none.
func TestTokenMintsRoomlessAdmin(t *testing.T) {
	inEmptyDir(t)
	code, out, errOut := runCLI(t, "token", "--api-key", "k", "--api-secret", "s", "--identity", "ops", "--admin", "--ttl", "10m")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	who, err := auth.KeyProvider{APIKey: "k", APISecret: "s"}.Verify(strings.TrimSpace(out))
	if err != nil {
		t.Fatal(err)
	}
	if !who.Grant.RoomAdmin || who.Grant.Room != "" || who.Grant.RoomJoin {
		t.Fatalf("grant %+v", who.Grant)
	}
}

func TestVersion(t *testing.T) {
	inEmptyDir(t)
	code, cmdOut, _ := runCLI(t, "version")
	_, flagOut, _ := runCLI(t, "--version")
	if code != 0 || cmdOut != flagOut || !strings.Contains(cmdOut, runtime.Version()) || !strings.Contains(cmdOut, "commit ") {
		t.Fatalf("version %q, --version %q", cmdOut, flagOut)
	}
	// Stamped at build time, as the Makefile does.
	bin := filepath.Join(t.TempDir(), "backchannel")
	build := exec.Command("go", "build", "-o", bin, "-ldflags", "-X main.version=v9.8.7-test -X main.commit=0123abcd", ".")
	build.Dir = wd(t)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "version").Output()
	want := "backchannel v9.8.7-test (commit 0123abcd, " + runtime.Version()
	if err != nil || !strings.HasPrefix(string(out), want) {
		t.Fatalf("stamped binary says %q (%v), want %q…", out, err, want)
	}
}

// wd is this package's folder (the tests may have moved away from it).
func wd(t *testing.T) string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("no caller")
	}
	return filepath.Dir(file)
}

func TestShellCompletion(t *testing.T) {
	inEmptyDir(t)
	code, out, _ := runCLI(t, "completion", "bash")
	if code != 0 || !strings.Contains(out, "backchannel") || !strings.Contains(out, "complete") {
		t.Fatalf("completion bash: exit %d\n%s", code, out)
	}
}
