package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/backchannel-rtc/backchannel/bench"
)

// runBench is `backchannel bench`: a chat load generator over loopback (the
// logic is in package bench).
func runBench(args []string) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	var cfg bench.Config
	var label string
	fs.StringVar(&cfg.URL, "url", "ws://127.0.0.1:7880", "server to load (loopback only)")
	fs.StringVar(&cfg.APIKey, "api-key", envOr("BACKCHANNEL_API_KEY", "devkey"), "API key the tokens are minted with")
	fs.StringVar(&cfg.APISecret, "api-secret", envOr("BACKCHANNEL_API_SECRET", "secret"), "API secret the tokens are signed with")
	fs.StringVar(&cfg.Room, "room", "bench", "room to join")
	fs.IntVar(&cfg.N, "n", 10, "participants")
	fs.IntVar(&cfg.Senders, "senders", 0, "how many participants send (0: all)")
	fs.Float64Var(&cfg.Rate, "rate", 10, "messages per second per sender")
	fs.IntVar(&cfg.Size, "size", 200, "text bytes per message (prefix with sender, seq and send time, then padding)")
	fs.DurationVar(&cfg.Duration, "duration", 15*time.Second, "measured phase")
	fs.BoolVar(&cfg.Burst, "burst", false, "send as fast as the connection drains (pause while >256 KiB is unsent)")
	fs.BoolVar(&cfg.Private, "private", false, "each message goes to one random other participant")
	fs.IntVar(&cfg.Slow, "slow", 0, "receivers that read 1 message/s during the measured phase")
	fs.IntVar(&cfg.PID, "pid", 0, "server process id, for its CPU and memory from /proc")
	fs.IntVar(&cfg.JoinParallel, "join-parallel", 1, "participants joining at once")
	fs.DurationVar(&cfg.Warmup, "warmup", 15*time.Second, "longest warm-up (until every receiver has seen every sender)")
	fs.DurationVar(&cfg.Drain, "drain", 10*time.Second, "longest drain after the measured phase (and longest history recovery)")
	seed := fs.Uint64("seed", 0, "random seed (0: from the clock)")
	asJSON := fs.Bool("json", false, "print one JSON object")
	verbose := fs.Bool("v", false, "progress on stderr")
	fs.StringVar(&label, "label", "", "name of the run, carried in the JSON (for --summarize)")
	cpuProfile := fs.String("cpuprofile", "", "write the load generator's own CPU profile (the clients' side) to this file")
	summarize := fs.String("summarize", "", "print a Markdown table (min / median / max per label) of a file of --json results, and exit")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("bench: unexpected argument %q", fs.Arg(0))
	}
	if *summarize != "" {
		f, err := os.Open(*summarize)
		if err != nil {
			return err
		}
		defer f.Close()
		return bench.Summarize(f, os.Stdout)
	}
	cfg.Seed = *seed
	if *verbose {
		cfg.Logf = func(f string, a ...any) { fmt.Fprintf(os.Stderr, "bench: "+f+"\n", a...) }
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := bench.Run(ctx, cfg)
	if err != nil {
		return err
	}
	res.Label = label
	if *asJSON {
		err = res.WriteJSON(os.Stdout)
	} else {
		err = res.WriteTable(os.Stdout)
	}
	if err == nil && (res.Lost > 0 || res.Duplicates > 0 || res.Leaked > 0) {
		err = errors.New("bench: messages were lost, duplicated or leaked")
	}
	return err
}
