package signaling

// The endpoint's log lines: one per refused socket (the reason, never the
// token), one per join, and one per leave with its reason.

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/backchannel-rtc/backchannel/auth"
	"github.com/backchannel-rtc/backchannel/internal/logs"
	"github.com/backchannel-rtc/backchannel/sfu"
)

// requestLog is the handler's logger with the request's id, which the
// HTTP request line carries too.
func (h *Handler) requestLog(r *http.Request) *slog.Logger {
	if id := logs.RequestID(r.Context()); id != "" {
		return h.log.With("request_id", id)
	}
	return h.log
}

// refuse answers before the upgrade with a JSON reason.
func refuse(w http.ResponseWriter, status int, code, reason string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": code, "reason": reason})
}

// deny refuses and logs it: the logged reason is reason, or logged if
// set (for a token, its sentinel: the client's reason may quote the
// parser, which may quote the token), with attrs (what the token proved).
func deny(log *slog.Logger, w http.ResponseWriter, r *http.Request, status int, code, reason, logged string, attrs ...any) {
	if logged == "" {
		logged = reason
	}
	log.Info("socket refused", append([]any{"reason", logged, "status", status, "remote_addr", r.RemoteAddr}, attrs...)...)
	metricRefused.WithLabelValues(logged).Inc()
	refuse(w, status, code, reason)
}

// tokenReason names what was wrong with a token by its sentinel alone.
func tokenReason(err error) string {
	for _, e := range []error{auth.ErrMissing, auth.ErrMalformed, auth.ErrSignature, auth.ErrAlgorithm,
		auth.ErrExpired, auth.ErrNotYet, auth.ErrIssuer, auth.ErrIdentity, auth.ErrNoGrant} {
		if errors.Is(err, e) {
			return e.Error()
		}
	}
	return "invalid token"
}

// joined logs the join and returns its time, for left.
func (c *conn) joined(p *sfu.Participant) time.Time {
	c.log.Info("participant joined", "participant_id", p.ID())
	return time.Now()
}

// left ends the participant and logs why it left. A socket that went away
// with no reason recorded (no leave, not ended by the server) is a lost
// connection: the participant may come back, so chat does not announce it
// at once (sfu.Participant.Disconnected).
func (c *conn) left(p *sfu.Participant, since time.Time) {
	reason := c.leaveReason(reasonLost)
	if reason == reasonLost {
		p.Disconnected()
	} else {
		p.Leave()
	}
	c.log.Info("participant left", "participant_id", p.ID(), "reason", reason,
		"duration_s", time.Since(since).Round(time.Millisecond).Seconds())
}

// reasonLost is the leave reason of a socket that went away by itself.
const reasonLost = "connection lost"

// leaveReason records def as the reason the participant left unless one
// is recorded (the server ended it: moderation, replaced, shutdown, a
// flood), and returns the recorded one.
func (c *conn) leaveReason(def string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.reason == "" {
		c.reason = def
	}
	return c.reason
}
