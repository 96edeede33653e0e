package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/urfave/cli/v3"

	"github.com/backchannel-rtc/backchannel/bench"
)

func benchCommand() *cli.Command {
	intf := func(name string, aliases []string, def int, usage string) *cli.IntFlag {
		return &cli.IntFlag{Name: name, Aliases: aliases, Value: def, Config: decimal, Validator: nonNegative[int],
			Sources: env("bench-" + name), Usage: usage}
	}
	dur := func(name string, def time.Duration, usage string) *cli.DurationFlag {
		return &cli.DurationFlag{Name: name, Value: def, Validator: positive[time.Duration], Sources: env("bench-" + name), Usage: usage}
	}
	boolf := func(name string, aliases []string, usage string) *cli.BoolFlag {
		return &cli.BoolFlag{Name: name, Aliases: aliases, Sources: env("bench-" + name), Usage: usage}
	}
	strf := func(name, def, usage string) *cli.StringFlag {
		return &cli.StringFlag{Name: name, Value: def, Sources: env("bench-" + name), Usage: usage}
	}
	return &cli.Command{
		Name:  "bench",
		Usage: "load a server with chat over loopback and report delivery, latency and the server's CPU",
		Flags: []cli.Flag{
			strf("url", "ws://127.0.0.1:7880", "server to load (loopback only)"),
			&cli.StringFlag{Name: "api-key", Value: "devkey", Sources: env("api-key"), Usage: "API key the tokens are minted with"},
			&cli.StringFlag{Name: "api-secret", Value: "secret", Sources: env("api-secret"), Usage: "API secret the tokens are signed with"},
			strf("room", "bench", "room to join"),
			withValidator(intf("participants", []string{"n"}, 10, "participants (2-1000)"), between(2, 1000)),
			intf("senders", nil, 0, "how many participants send (0: all)"),
			&cli.FloatFlag{Name: "rate", Value: 10, Validator: nonNegative[float64], Sources: env("bench-rate"),
				Usage: "messages per second per sender"},
			withValidator(intf("size", nil, 200, "text bytes per message (prefix with sender, seq and send time, then padding; at most 64 KiB)"),
				between(1, 64<<10)),
			withValidator(dur("duration", 15*time.Second, "measured phase (at most 1h)"), between(time.Nanosecond, time.Hour)),
			boolf("burst", nil, "send as fast as the connection drains (pause while >256 KiB is unsent)"),
			boolf("private", nil, "each message goes to one random other participant"),
			intf("slow", nil, 0, "receivers that read 1 message/s during the measured phase"),
			intf("pid", nil, 0, "server process id, for its CPU and memory from /proc"),
			intf("join-parallel", nil, 1, "participants joining at once"),
			dur("warmup", 15*time.Second, "longest warm-up (until every receiver has seen every sender)"),
			dur("drain", 10*time.Second, "longest drain after the measured phase (and longest history recovery)"),
			&cli.Uint64Flag{Name: "seed", Config: decimal, Sources: env("bench-seed"), Usage: "random seed (0: from the clock)"},
			boolf("json", nil, "print one JSON object"),
			boolf("verbose", []string{"v"}, "progress on stderr"),
			strf("label", "", "name of the run, carried in the JSON (for --summarize)"),
			strf("cpuprofile", "", "write the load generator's own CPU profile (the clients' side) to this file"),
			strf("summarize", "", "print a Markdown table (min / median / max per label) of a file of --json results, and exit"),
		},
		Action: action(runBench),
	}
}

func withValidator[T any, C any, V cli.ValueCreator[T, C]](f *cli.FlagBase[T, C, V], v func(T) error) *cli.FlagBase[T, C, V] {
	f.Validator = v
	return f
}

func between[T int | time.Duration](lo, hi T) func(T) error {
	return func(v T) error {
		if v < lo || v > hi {
			return fmt.Errorf("must be from %v to %v", lo, hi)
		}
		return nil
	}
}

// runBench is `backchannel bench`: a chat load generator over loopback (the
// logic is in package bench).
func runBench(ctx context.Context, cmd *cli.Command) error {
	out := cmd.Root().Writer
	if path := cmd.String("summarize"); path != "" {
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		return bench.Summarize(f, out)
	}
	cfg := bench.Config{
		URL: cmd.String("url"), APIKey: cmd.String("api-key"), APISecret: cmd.String("api-secret"), Room: cmd.String("room"),
		N: cmd.Int("participants"), Senders: cmd.Int("senders"), Rate: cmd.Float("rate"), Size: cmd.Int("size"),
		Duration: cmd.Duration("duration"), Burst: cmd.Bool("burst"), Private: cmd.Bool("private"), Slow: cmd.Int("slow"),
		PID: cmd.Int("pid"), JoinParallel: cmd.Int("join-parallel"), Warmup: cmd.Duration("warmup"), Drain: cmd.Duration("drain"),
		Seed: cmd.Uint64("seed"),
	}
	if cmd.Bool("verbose") {
		stderr := cmd.Root().ErrWriter
		cfg.Logf = func(f string, a ...any) { fmt.Fprintf(stderr, "bench: "+f+"\n", a...) }
	}
	if path := cmd.String("cpuprofile"); path != "" {
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := bench.Run(ctx, cfg)
	if err != nil {
		return err
	}
	res.Label = cmd.String("label")
	if cmd.Bool("json") {
		err = res.WriteJSON(out)
	} else {
		err = res.WriteTable(out)
	}
	if err == nil && (res.Lost > 0 || res.Duplicates > 0 || res.Leaked > 0) {
		err = errors.New("bench: messages were lost, duplicated or leaked")
	}
	return err
}
