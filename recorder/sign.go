package recorder

// Signed, expiring URLs: the chat-replay CSV download and attachment
// downloads are plain GETs that carry their own authorisation (?exp=&sig=),
// so they can be handed to a browser, a spreadsheet or a backend job.
//
// sig is base64url(HMAC-SHA256(key, fields)) where key is derived from the
// API secret (so a URL signature can never double as a token signature),
// and fields are length-prefixed so no two field lists collide.

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Typed reasons a signed URL is refused (answered as 403 with the reason).
var (
	ErrURLExpired   = errors.New("link expired: ask for a new one")
	ErrURLSignature = errors.New("invalid link signature")
)

type signer struct{ key []byte }

func newSigner(secret string) signer {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte("backchannel recorder signed URLs v1"))
	return signer{key: m.Sum(nil)}
}

func (s signer) mac(fields ...string) []byte {
	m := hmac.New(sha256.New, s.key)
	var n [8]byte
	for _, f := range fields {
		binary.BigEndian.PutUint64(n[:], uint64(len(f)))
		m.Write(n[:])
		m.Write([]byte(f))
	}
	return m.Sum(nil)
}

// sign returns the query (exp, sig) authorising fields until exp.
func (s signer) sign(exp time.Time, fields ...string) url.Values {
	e := strconv.FormatInt(exp.Unix(), 10)
	q := url.Values{}
	q.Set("exp", e)
	q.Set("sig", base64.RawURLEncoding.EncodeToString(s.mac(append(fields, e)...)))
	return q
}

// check verifies a query produced by sign for the same fields.
func (s signer) check(q url.Values, now time.Time, fields ...string) error {
	e := q.Get("exp")
	sig, err := base64.RawURLEncoding.DecodeString(q.Get("sig"))
	if err != nil || e == "" || len(sig) == 0 {
		return ErrURLSignature
	}
	exp, err := strconv.ParseInt(e, 10, 64)
	if err != nil {
		return ErrURLSignature
	}
	if !hmac.Equal(sig, s.mac(append(fields, e)...)) {
		return ErrURLSignature
	}
	if now.Unix() > exp {
		return ErrURLExpired
	}
	return nil
}

// AttachmentURL is a signed download URL for attachment id under baseURL
// (e.g. "https://meet.example.com"), valid until exp, for an
// administrative viewer (the CSV export). apiSecret is the server's.
func AttachmentURL(baseURL, apiSecret, id string, exp time.Time) string {
	q := newSigner(apiSecret).sign(exp, "attachment", id, "")
	return strings.TrimRight(baseURL, "/") + "/v1/attachments/" + id + "?" + q.Encode()
}
