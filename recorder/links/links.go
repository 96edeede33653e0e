package links

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Typed reasons a signed URL is refused (answered as 403 with the reason).
var (
	ErrExpired   = errors.New("link expired: ask for a new one")
	ErrSignature = errors.New("invalid link signature")
)

// Signer signs and checks URLs with a key derived from the API secret.
type Signer struct{ key []byte }

// NewSigner derives the URL key from the server's API secret.
func NewSigner(secret string) Signer {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte("backchannel recorder signed URLs v1"))
	return Signer{key: m.Sum(nil)}
}

func (s Signer) mac(fields ...string) []byte {
	m := hmac.New(sha256.New, s.key)
	var n [8]byte
	for _, f := range fields {
		binary.BigEndian.PutUint64(n[:], uint64(len(f)))
		m.Write(n[:])
		m.Write([]byte(f))
	}
	return m.Sum(nil)
}

// Sign returns the query (exp, sig) authorising fields until exp.
func (s Signer) Sign(exp time.Time, fields ...string) url.Values {
	e := strconv.FormatInt(exp.Unix(), 10)
	q := url.Values{}
	q.Set("exp", e)
	q.Set("sig", base64.RawURLEncoding.EncodeToString(s.mac(append(fields, e)...)))
	return q
}

// Check verifies a query produced by Sign for the same fields.
func (s Signer) Check(q url.Values, now time.Time, fields ...string) error {
	e := q.Get("exp")
	sig, err := base64.RawURLEncoding.DecodeString(q.Get("sig"))
	if err != nil || e == "" || len(sig) == 0 {
		return ErrSignature
	}
	exp, err := strconv.ParseInt(e, 10, 64)
	if err != nil {
		return ErrSignature
	}
	if !hmac.Equal(sig, s.mac(append(fields, e)...)) {
		return ErrSignature
	}
	if now.Unix() > exp {
		return ErrExpired
	}
	return nil
}

// SessionReplayPath and MeetingReplayPath are the chat-replay CSV
// downloads; the path is what their signature covers.
func SessionReplayPath(id string) string { return "/v1/chat-replay/sessions/" + id }

// MeetingReplayPath: see SessionReplayPath.
func MeetingReplayPath(id string) string { return "/v1/chat-replay/meetings/" + id }

// Replay returns the signed query for a chat-replay path until exp.
func (s Signer) Replay(path string, exp time.Time) url.Values { return s.Sign(exp, path) }

// CheckReplay verifies a chat-replay download's query.
func (s Signer) CheckReplay(q url.Values, now time.Time, path string) error {
	return s.Check(q, now, path)
}

// AttachmentQuery is the query of a download URL for attachment id, for
// viewer ("" for an administrative viewer), valid until exp.
func (s Signer) AttachmentQuery(id, viewer string, exp time.Time) string {
	q := s.Sign(exp, "attachment", id, viewer)
	if viewer != "" {
		q.Set("viewer", viewer)
	}
	return q.Encode()
}

// CheckAttachment verifies an attachment download's query.
func (s Signer) CheckAttachment(q url.Values, now time.Time, id string) error {
	return s.Check(q, now, "attachment", id, q.Get("viewer"))
}

// AttachmentPath is where attachment id is downloaded.
func AttachmentPath(id string) string { return "/v1/attachments/" + id }

// SessionChatURL is a signed download URL for the chat-replay CSV of
// session id under baseURL (e.g. "https://meet.example.com"), valid until
// exp (truncated to the second, as the URL carries whole seconds).
// apiSecret is the server's. It returns the URL and the expiry it carries.
func SessionChatURL(baseURL, apiSecret, id string, exp time.Time) (string, time.Time) {
	exp = exp.UTC().Truncate(time.Second)
	path := SessionReplayPath(id)
	return strings.TrimRight(baseURL, "/") + path + "?" + NewSigner(apiSecret).Replay(path, exp).Encode(), exp
}

// AttachmentURL is a signed download URL for attachment id under baseURL,
// valid until exp, for an administrative viewer (the CSV export).
func AttachmentURL(baseURL, apiSecret, id string, exp time.Time) string {
	return strings.TrimRight(baseURL, "/") + AttachmentPath(id) + "?" + NewSigner(apiSecret).AttachmentQuery(id, "", exp)
}

// BaseURL is where absolute URLs handed out for req point: publicURL when
// configured, else the request's scheme and Host.
func BaseURL(req *http.Request, publicURL string) string {
	if publicURL != "" {
		return strings.TrimRight(publicURL, "/")
	}
	scheme := "http"
	if req.TLS != nil || req.Header.Get("X-Forwarded-Proto") == "https" {
		scheme = "https"
	}
	return scheme + "://" + req.Host
}
