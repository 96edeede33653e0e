package chat

import (
	"time"

	"github.com/backchannel-rtc/backchannel/internal/logsummary"
)

// Conditions that repeat for every message while the store is down or
// behind are logged as a state change plus rate-limited summaries with
// counts (internal/logsummary), never once per message: at 200 messages a
// second a per-message line is a log storm that buries everything else.

// noteWrite counts a store write's outcome; failures are logged as above.
func (srv *Server) noteWrite(room string, kind ChangeKind, err error) {
	now := time.Now()
	if err == nil {
		if srv.writeFailing.Load() {
			srv.writeFailing.Store(false) // before End: a failure racing with it sets it again
			if ok, d, n := srv.writeFails.End(now); ok {
				srv.log.Info("chat: store writes succeed again", "failed", n, "after", d.Round(time.Millisecond))
			}
		}
		return
	}
	srv.stats.storeErrors.Add(1)
	srv.writeFailing.Store(true)
	if ok, n := srv.writeFails.Hit(now); ok {
		if n == 1 {
			srv.log.Warn("chat: store write failed", "room", room, "kind", kind, "err", err)
		} else {
			srv.log.Warn("chat: store writes still failing", "failed", n, "per", logsummary.Every, "err", err)
		}
	}
}

// noteEvict is called for every message leaving a room's window:
// unconfirmed says its write is still pending (the window hit four times
// its size while the store was behind), durable that the store has it.
func (srv *Server) noteEvict(room string, seq int64, unconfirmed, durable bool) {
	now := time.Now()
	if !unconfirmed {
		if !durable {
			return // its write failed: says nothing about the store catching up
		}
		if srv.evicting.Load() {
			srv.evicting.Store(false) // before End: an eviction racing with it sets it again
			if ok, d, n := srv.evictions.End(now); ok {
				srv.log.Info("chat: the store caught up; messages leave memory confirmed again",
					"evicted_unconfirmed", n, "after", d.Round(time.Millisecond))
			}
		}
		return
	}
	srv.evicting.Store(true)
	if ok, n := srv.evictions.Hit(now); ok {
		if n == 1 {
			srv.log.Warn("chat: the store is behind; evicting messages it has not confirmed", "room", room, "seq", seq)
		} else {
			srv.log.Warn("chat: still evicting messages the store has not confirmed", "evicted", n, "per", logsummary.Every)
		}
	}
}
