//go:build !unix

package procs

import "time"

// cpuTime has no source here: the controller stays off.
func cpuTime() (time.Duration, bool) { return 0, false }
