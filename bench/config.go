package bench

// Config of a run: flags, defaults and the loopback-only rule.

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"time"
)

// Config describes one run.
type Config struct {
	URL       string // server base URL, loopback only (ws://127.0.0.1:7880)
	APIKey    string
	APISecret string
	Room      string

	N       int     // participants
	Senders int     // how many of them send (the first ones); 0: all
	Rate    float64 // messages per second per sender (ignored with Burst)
	Size    int     // text bytes per message (prefix + padding)
	// Duration of the measured phase.
	Duration time.Duration
	// Burst sends as fast as the connection drains: SendChat waits while
	// the data channel holds more than HighWater unsent.
	Burst     bool
	HighWater int
	// Private sends each message to one random other participant.
	Private bool
	// Slow is how many receivers (the last participants) read one message
	// per second during the measured phase; they read at full speed again
	// in the drain and recover what they lack through history.
	Slow int
	// PID of the server process, for CPU and memory from /proc (0: none).
	PID int
	// JoinParallel is how many participants join at once (default 1).
	JoinParallel int
	// Warmup bounds the warm-up; Drain the drain (defaults 15 s, 10 s).
	Warmup time.Duration
	Drain  time.Duration
	// Quiet ends the drain early once nothing arrived for this long
	// (default 1.5 s).
	Quiet time.Duration
	Seed  uint64
	// Logf reports progress (nil: silent).
	Logf func(format string, args ...any)
	// AllowNonLoopback lifts the loopback-only check (never set by the CLI).
	AllowNonLoopback bool
}

func (c *Config) defaults() error {
	if c.N < 2 {
		return errors.New("bench: at least 2 participants")
	}
	if c.N > 1000 {
		return errors.New("bench: at most 1000 participants")
	}
	if c.Senders <= 0 || c.Senders > c.N {
		c.Senders = c.N
	}
	if c.Slow < 0 || c.Slow >= c.N {
		return errors.New("bench: --slow must leave at least one normal receiver")
	}
	if !c.Burst && (c.Rate <= 0 || c.Rate > 100000) {
		return errors.New("bench: --rate must be in (0, 100000] (or use --burst)")
	}
	if c.Size <= 0 {
		c.Size = 200
	}
	if c.Size > 64<<10 {
		return errors.New("bench: --size at most 64 KiB")
	}
	if c.Duration <= 0 {
		c.Duration = 10 * time.Second
	}
	if c.Duration > time.Hour {
		return errors.New("bench: --duration at most 1h")
	}
	if c.HighWater <= 0 {
		c.HighWater = 256 << 10
	}
	if c.JoinParallel <= 0 {
		c.JoinParallel = 1
	}
	if c.Warmup <= 0 {
		c.Warmup = 15 * time.Second
	}
	if c.Drain <= 0 {
		c.Drain = 10 * time.Second
	}
	if c.Quiet <= 0 {
		c.Quiet = 1500 * time.Millisecond
	}
	if c.Room == "" {
		c.Room = "bench"
	}
	if c.Seed == 0 {
		c.Seed = uint64(time.Now().UnixNano())
	}
	if c.Logf == nil {
		c.Logf = func(string, ...any) {}
	}
	if !c.AllowNonLoopback {
		if err := checkLoopback(c.URL); err != nil {
			return err
		}
	}
	return nil
}

// checkLoopback refuses any server address that is not on loopback: the
// bench is a load generator and must never be pointed at a real network.
func checkLoopback(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("bench: --url: %w", err)
	}
	host := u.Hostname()
	if host == "localhost" {
		return errors.New("bench: --url must name 127.0.0.1 (not localhost, which may resolve elsewhere)")
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("bench: --url %q is not a loopback address: the bench only targets 127.0.0.1", raw)
	}
	return nil
}
