package logsummary

import (
	"testing"
	"time"
)

// A minute of occurrences every millisecond allows the first line and one
// summary per Every, and the summaries add up to every occurrence.
func TestSummaryRateLimits(t *testing.T) {
	var s Summary
	t0 := time.Unix(0, 0)
	lines, counted := 0, int64(0)
	for i := range 60_000 {
		if ok, n := s.Hit(t0.Add(time.Duration(i) * time.Millisecond)); ok {
			lines++
			counted += n
		}
	}
	if lines != 6 {
		t.Fatalf("%d lines for a minute, want 6 (the first and one per %v)", lines, Every)
	}
	ok, d, total := s.End(t0.Add(time.Minute))
	if !ok || total != 60_000 || d != time.Minute {
		t.Fatalf("End: %v %v %d", ok, d, total)
	}
	if counted > total {
		t.Fatalf("lines stand for %d occurrences, more than %d", counted, total)
	}
	if ok, _, _ := s.End(t0); ok {
		t.Fatal("a second End reported an episode")
	}
	if ok, n := s.Hit(t0); !ok || n != 1 {
		t.Fatal("a new episode's first occurrence is not logged at once")
	}
}
