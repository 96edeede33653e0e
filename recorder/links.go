package recorder

// Exported URL helpers for code outside the HTTP API (the webhook events):
// the same signed chat-replay links that GET /v1/sessions/{id}/chat hands
// out, so a link in a webhook is checked by the same handler.

import (
	"strings"
	"time"
)

// SessionChatURL is a signed download URL for the chat-replay CSV of
// session id under baseURL (e.g. "https://meet.example.com"), valid until
// exp (truncated to the second, as the URL carries whole seconds).
// apiSecret is the server's. It returns the URL and the expiry it carries.
func SessionChatURL(baseURL, apiSecret, id string, exp time.Time) (string, time.Time) {
	exp = exp.UTC().Truncate(time.Second)
	path := "/v1/chat-replay/sessions/" + id
	return strings.TrimRight(baseURL, "/") + path + "?" + newSigner(apiSecret).sign(exp, path).Encode(), exp
}
