package webhook

import (
	"net/http"
	"testing"
	"time"
)

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for v, want := range map[string]time.Duration{
		"":     0,
		"120":  2 * time.Minute,
		" 7 ":  7 * time.Second,
		"-3":   0,
		"soon": 0,
		now.Add(90 * time.Second).Format(http.TimeFormat): 90 * time.Second,
		now.Add(-time.Hour).Format(http.TimeFormat):       0,
	} {
		if got := parseRetryAfter(v, now); got != want {
			t.Errorf("Retry-After %q: %v, want %v", v, got, want)
		}
	}
}

func TestDelay(t *testing.T) {
	d := &Delivery{cfg: Config{}}
	d.cfg.defaults()
	for made, want := range DefaultSchedule[1:] {
		got, ok := d.delay(made+1, 0)
		if !ok || got < want*9/10 || got > want*11/10 {
			t.Errorf("after attempt %d: %v, want %v ±10%%", made+1, got, want)
		}
	}
	if _, ok := d.delay(len(DefaultSchedule), 0); ok {
		t.Errorf("an attempt after the last")
	}
	if got, _ := d.delay(1, time.Minute); got != time.Minute {
		t.Errorf("Retry-After 1m after the first attempt: %v", got)
	}
	if got, _ := d.delay(1, 100*time.Hour); got != 10*time.Hour {
		t.Errorf("Retry-After 100h is capped at the schedule's longest delay: %v", got)
	}
	if got, _ := d.delay(2, time.Second); got < 4*time.Minute {
		t.Errorf("a short Retry-After does not shorten the schedule: %v", got)
	}
}
