package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
	"testing"
	"time"

	"github.com/backchannel-rtc/backchannel/chat"
	"github.com/backchannel-rtc/backchannel/internal/app"
	"github.com/backchannel-rtc/backchannel/internal/procs"
	"github.com/backchannel-rtc/backchannel/sfu"
)

// TestServeProfiled runs the real server (internal/app, as `serve` wires
// it, without a chat rate limit) under a CPU profile, so that a scenario
// driven by `backchannel bench` from another process is profiled on the
// server side only. It is a harness, not a test: it runs only when
// BENCH_SERVE_PROFILE names the profile file, e.g.
//
//	go test -c -o bin/bench.test ./bench
//	BENCH_SERVE_PROFILE=cpu.pprof BENCH_SERVE_ADDR=127.0.0.1:7890 \
//	BENCH_SERVE_UDP=127.0.0.1:7892 ./bin/bench.test -test.run TestServeProfiled &
//	backchannel bench --url ws://127.0.0.1:7890 --pid $! --burst ...
//	kill -USR1 $!   # optional: writes a heap profile (cpu.pprof.heapN) of this moment
//	(BENCH_SERVE_CPU_AFTER=20s starts the CPU profile 20 s after the server)
//	kill -TERM $!   # writes the profile and exits
//
// BENCH_SERVE_DATABASE is an optional postgres:// URL (default: SQLite in a
// temporary folder). GOMAXPROCS follows the load as under `serve`
// (internal/procs) unless BENCH_SERVE_ADAPTIVE_PROCS=false. It stops by
// itself after BENCH_SERVE_MAX (default 3m).
func TestServeProfiled(t *testing.T) {
	out := os.Getenv("BENCH_SERVE_PROFILE")
	if out == "" {
		t.Skip("a profiling harness: set BENCH_SERVE_PROFILE (see the comment)")
	}
	addr := envDefault("BENCH_SERVE_ADDR", "127.0.0.1:7890")
	udp := envDefault("BENCH_SERVE_UDP", "127.0.0.1:7892")
	if checkLoopback("ws://"+addr) != nil || checkLoopback("udp://"+udp) != nil {
		t.Fatal("the profiling server binds loopback only")
	}
	maxRun, err := time.ParseDuration(envDefault("BENCH_SERVE_MAX", "3m"))
	if err != nil {
		t.Fatal(err)
	}
	ccfg := chat.DefaultConfig()
	ccfg.Rate, ccfg.RoomRate = 0, 0 // no per-connection or per-room limit, as `serve --chat-rate 0`
	a, err := app.New(app.Config{
		Addr: addr, DataDir: t.TempDir(), Database: os.Getenv("BENCH_SERVE_DATABASE"),
		APIKey: "devkey", APISecret: "secret",
		RTC:        sfu.Config{UDPAddr: udp, LoopbackOnly: true},
		ChatConfig: &ccfg,
		Logger:     slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sigs)
	a.Serve()
	// As `serve` does, unless BENCH_SERVE_ADAPTIVE_PROCS=false.
	if os.Getenv("BENCH_SERVE_ADAPTIVE_PROCS") != "false" {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		procs.Start(ctx, procs.Config{})
	}
	// BENCH_SERVE_CPU_AFTER (e.g. 20s) starts the CPU profile late, so that
	// it holds a steady state (everyone joined) rather than the joins.
	if d, err := time.ParseDuration(envDefault("BENCH_SERVE_CPU_AFTER", "0s")); err == nil && d > 0 {
		time.Sleep(d)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(os.Stderr, "profiling server on %s (udp %s), pid %d\n", addr, udp, os.Getpid())
	usr1 := make(chan os.Signal, 1)
	signal.Notify(usr1, syscall.SIGUSR1)
	defer signal.Stop(usr1)
	timeout := time.After(maxRun)
wait:
	for n := 0; ; n++ {
		select {
		case <-usr1:
			// A heap profile of this moment (e.g. mid-run, everyone joined).
			if h, err := os.Create(fmt.Sprintf("%s.heap%d", out, n)); err == nil {
				_ = pprof.Lookup("heap").WriteTo(h, 0)
				_ = h.Close()
			}
		case <-sigs:
			break wait
		case <-timeout:
			break wait
		}
	}
	pprof.StopCPUProfile()
	_ = f.Close()
	_ = a.Close()
}

func envDefault(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
