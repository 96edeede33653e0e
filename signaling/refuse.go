package signaling

import (
	"encoding/json"
	"net/http"
	"strings"
)

// Refusals before the upgrade: a request is answered with a status and a
// JSON reason, and no socket is ever opened for it.

// twoTokens reports a request carrying a bearer token in its Authorization
// header and a different one in ?access_token=.
func twoTokens(r *http.Request) bool {
	q := r.URL.Query().Get("access_token")
	if q == "" {
		return false
	}
	h, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return ok && strings.TrimSpace(h) != q
}

// refuse answers before the upgrade with a JSON reason.
func refuse(w http.ResponseWriter, status int, code, reason string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": code, "reason": reason})
}
