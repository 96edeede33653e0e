package signaling

import (
	"net/http"
	"strings"
)

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
