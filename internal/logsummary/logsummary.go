// Package logsummary logs a condition that repeats (a full queue, a
// database that keeps failing, messages evicted unconfirmed) as a state
// change plus rate-limited summaries with counts, never one line per
// occurrence: in an outage under load those come hundreds a second.
package logsummary

import (
	"sync"
	"time"
)

// Every is the most often a Summary lets a repeating condition be logged.
const Every = 10 * time.Second

// Summary tracks one condition. The zero value is ready; it is safe for
// concurrent use.
type Summary struct {
	mu     sync.Mutex
	active bool
	since  time.Time // first occurrence of this episode
	last   time.Time // last line allowed
	n      int64     // occurrences since the last line
	total  int64     // occurrences in this episode
}

// Hit records one occurrence. It returns whether to log now, and how many
// occurrences that line stands for: 1 for the first of an episode (log the
// state change), more for a summary (at most one per Every).
func (s *Summary) Hit(now time.Time) (bool, int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.total++
	if !s.active {
		s.active, s.since, s.last, s.n = true, now, now, 0
		return true, 1
	}
	s.n++
	if now.Sub(s.last) < Every {
		return false, 0
	}
	n := s.n
	s.last, s.n = now, 0
	return true, n
}

// End closes the episode. It reports whether one was open, how long it
// lasted and how many occurrences it had, for one closing line.
func (s *Summary) End(now time.Time) (bool, time.Duration, int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.active {
		return false, 0, 0
	}
	total := s.total
	s.active, s.total, s.n = false, 0, 0
	return true, now.Sub(s.since), total
}
