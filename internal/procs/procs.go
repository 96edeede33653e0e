package procs

import (
	"context"
	"log/slog"
	"math"
	"os"
	"runtime"
	"time"
)

// Config tunes the controller; zero values take the defaults.
type Config struct {
	// Max is the most Ps it gives the process (default: GOMAXPROCS when
	// Start is called, which is Go's default from the CPUs and any cgroup
	// limit).
	Max int
	// Interval between two measurements of the process's CPU use (100 ms).
	Interval time.Duration
	// Up: more Ps as soon as the process used more than Up of each P's
	// worth of CPU over one interval (0.5). Above about half a core, one P
	// saved little CPU and cost latency (bench/results/2026-11-rounds-2-7.md).
	Up float64
	// Down: fewer Ps once the load would have kept fewer Ps under Down
	// each for Hold on end (0.25, 1 s). The band between Down and Up keeps
	// it from flapping: the same load reads higher with more Ps (their
	// spinning is CPU too).
	Down float64
	Hold time.Duration
	// Logger gets a debug line per change (nil: slog.Default()).
	Logger *slog.Logger
}

func (c *Config) defaults() {
	if c.Max <= 0 {
		c.Max = runtime.GOMAXPROCS(0)
	}
	if c.Interval <= 0 {
		c.Interval = 100 * time.Millisecond
	}
	if c.Up <= 0 {
		c.Up = 0.5
	}
	if c.Down <= 0 || c.Down >= c.Up {
		c.Down = 0.25
	}
	if c.Hold <= 0 {
		c.Hold = time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// policy decides the next P count from the CPU used over the last
// interval, in cores; it keeps what it needs to wait before going down.
type policy struct {
	max       int
	up, down  float64
	holdTicks int

	cur  int
	low  int     // intervals in a row in which fewer Ps would have done
	peak float64 // the highest use among them
}

func (p *policy) next(used float64) int {
	switch {
	case used > p.up*float64(p.cur) && p.cur < p.max:
		// Busy: at once, enough Ps for this load at Up each, at least one more.
		p.low, p.peak = 0, 0
		p.cur = min(p.max, max(p.cur+1, int(math.Ceil(used/p.up))))
	case p.cur > 1 && used < p.down*float64(p.cur-1):
		p.low++
		p.peak = max(p.peak, used)
		if p.low >= p.holdTicks {
			// The fewest Ps that kept the whole window under Down each.
			p.cur = min(p.cur-1, max(1, int(math.Ceil(p.peak/p.down))))
			p.low, p.peak = 0, 0
		}
	default:
		p.low, p.peak = 0, 0
	}
	return p.cur
}

// Start runs the controller until ctx ends, then gives the process its Max
// Ps back. It starts with one P. It does nothing when GOMAXPROCS is set in
// the environment (someone chose) or when Max is one, and reports whether
// it runs.
func Start(ctx context.Context, cfg Config) bool {
	cfg.defaults()
	if os.Getenv("GOMAXPROCS") != "" || cfg.Max <= 1 {
		return false
	}
	if _, ok := cpuTime(); !ok {
		return false
	}
	p := &policy{max: cfg.Max, up: cfg.Up, down: cfg.Down, cur: 1,
		holdTicks: max(1, int(cfg.Hold/cfg.Interval))}
	runtime.GOMAXPROCS(1)
	go run(ctx, cfg, p)
	return true
}

func run(ctx context.Context, cfg Config, p *policy) {
	defer runtime.GOMAXPROCS(cfg.Max)
	t := time.NewTicker(cfg.Interval)
	defer t.Stop()
	lastCPU, _ := cpuTime()
	last := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			cpu, _ := cpuTime()
			wall := now.Sub(last)
			if wall <= 0 {
				continue
			}
			used := float64(cpu-lastCPU) / float64(wall)
			lastCPU, last = cpu, now
			was := p.cur
			if n := p.next(used); n != was {
				runtime.GOMAXPROCS(n)
				cfg.Logger.Debug("GOMAXPROCS follows the load", "from", was, "to", n, "cpu_cores_used", used)
			}
		}
	}
}
