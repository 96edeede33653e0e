package procs

import (
	"context"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

// TestPolicy walks the decision through loads given in cores per interval.
func TestPolicy(t *testing.T) {
	type step struct {
		used float64
		want int
	}
	cases := []struct {
		name  string
		max   int
		steps []step
	}{
		{"idle stays at one", 4, []step{{0, 1}, {0.1, 1}, {0.5, 1}}},
		{"busy grows at once, at least by one", 4, []step{{0.51, 2}, {0.9, 2}, {1.01, 3}}},
		{"a jump asks for what the load needs", 8, []step{{1.0, 2}, {2.0, 4}, {3.9, 8}}},
		{"never above max", 2, []step{{1.0, 2}, {1.9, 2}, {1.99, 2}}},
		{"shrinks only after the hold", 4, []step{{1.6, 4}, {0.1, 4}, {0.1, 4}, {0.1, 1}}},
		{"a busy interval restarts the hold", 4, []step{{1.6, 4}, {0.1, 4}, {0.1, 4}, {0.8, 4}, {0.1, 4}, {0.1, 4}, {0.1, 1}}},
		{"shrinks to what the window's peak needed", 4, []step{{1.6, 4}, {0.3, 4}, {0.6, 4}, {0.2, 3}}},
		{"inside the band it keeps its Ps", 2, []step{{0.6, 2}, {0.3, 2}, {0.3, 2}, {0.3, 2}, {0.3, 2}}},
		{"below the band it goes back to one", 2, []step{{0.6, 2}, {0.2, 2}, {0.2, 2}, {0.2, 1}, {0.45, 1}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := &policy{max: c.max, up: 0.5, down: 0.25, holdTicks: 3, cur: 1}
			for i, s := range c.steps {
				if got := p.next(s.used); got != s.want {
					t.Fatalf("step %d (%.2f cores): %d Ps, want %d", i, s.used, got, s.want)
				}
			}
		})
	}
}

// TestStartFollowsLoad runs the controller on this process: real CPU use
// makes it give a second P, idleness takes it back, and stopping restores
// the maximum.
func TestStartFollowsLoad(t *testing.T) {
	t.Setenv("GOMAXPROCS", "") // Start steps aside when it is set
	before := runtime.GOMAXPROCS(0)
	defer runtime.GOMAXPROCS(before)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if !Start(ctx, Config{Max: 2, Interval: 20 * time.Millisecond, Hold: 200 * time.Millisecond}) {
		t.Fatal("the controller did not start")
	}
	if n := runtime.GOMAXPROCS(0); n != 1 {
		t.Fatalf("starts with %d Ps, want 1", n)
	}
	waitFor := func(what string, want int) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for runtime.GOMAXPROCS(0) != want {
			if time.Now().After(deadline) {
				t.Fatalf("%s: GOMAXPROCS stayed %d, want %d", what, runtime.GOMAXPROCS(0), want)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	var stop atomic.Bool
	for range 2 {
		go func() {
			for !stop.Load() {
			}
		}()
	}
	waitFor("busy", 2)
	stop.Store(true)
	waitFor("idle again", 1)
	cancel()
	waitFor("stopped", 2)
}

func TestStartStepsAsideWhenGOMAXPROCSIsSet(t *testing.T) {
	t.Setenv("GOMAXPROCS", "2")
	before := runtime.GOMAXPROCS(0)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if Start(ctx, Config{Max: 2}) {
		t.Fatal("started although GOMAXPROCS is set")
	}
	if n := runtime.GOMAXPROCS(0); n != before {
		t.Fatalf("GOMAXPROCS changed to %d", n)
	}
	t.Setenv("GOMAXPROCS", "")
	if Start(ctx, Config{Max: 1}) {
		t.Fatal("started with one P to give")
	}
}
