package bench

import (
	"os"
	"runtime"
	"syscall"
	"testing"
)

// A thread that sleeps in the kernel gives up its CPU: procSwitches must
// count each such sleep of any of the process's threads.
func TestProcSwitchesCountsSleeps(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	v0, _, err := procSwitches(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	const sleeps = 20
	for range sleeps {
		ts := syscall.Timespec{Nsec: 100_000}
		if err := syscall.Nanosleep(&ts, nil); err != nil {
			t.Fatal(err)
		}
	}
	v1, _, err := procSwitches(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if v1-v0 < sleeps {
		t.Errorf("voluntary switches rose by %d over %d sleeps of this thread", v1-v0, sleeps)
	}
}
