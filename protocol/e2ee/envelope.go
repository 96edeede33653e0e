package e2ee

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
)

// Suite names the whole construction of this package: HPKE base mode with
// DHKEM(P-256, HKDF-SHA256), HKDF-SHA256 and AES-128-GCM for the sealed
// content keys, AES-128-GCM for the content, and the info and additional
// data strings of docs/e2ee.md. Any change to any of them is a new suite.
const Suite = "bc-e2ee-v1"

// Sizes of the decoded envelope fields under Suite.
const (
	EncSize       = 65      // enc: an uncompressed P-256 point (0x04 || X || Y)
	ContentKeyLen = 16      // the AES-128 content key
	SealedKeySize = 16 + 16 // the content key sealed with AES-128-GCM: key || tag
	NonceSize     = 12      // the content nonce
	TagSize       = 16      // AES-GCM tag at the end of the content ciphertext
	MinCiphertext = TagSize + 1
)

// Envelope is the encrypted content of one private message, as it travels
// in JSON and as the server stores it. Binary fields are standard base64
// (RFC 4648 section 4, with padding), and only the canonical encoding of
// each value is accepted.
type Envelope struct {
	Suite      string      `json:"suite"`
	Nonce      string      `json:"nonce"` // 12 bytes
	Ciphertext string      `json:"ct"`    // AES-128-GCM(content key, nonce, AAD, content) || tag
	Keys       []SealedKey `json:"keys"`  // one per destination and one for the sender
}

// SealedKey is the content key sealed for one recipient identity.
type SealedKey struct {
	Identity string `json:"identity"`
	Enc      string `json:"enc"` // the HPKE encapsulated key, 65 bytes
	Key      string `json:"key"` // the sealed content key, 32 bytes
}

// Limits bound what Validate accepts. Every field must be positive.
type Limits struct {
	// MaxCiphertext is the largest content ciphertext in bytes (decoded,
	// tag included).
	MaxCiphertext int
	// MaxKeys is the largest number of sealed keys: the destinations plus
	// the sender.
	MaxKeys int
}

// DefaultLimits fit a private message of the chat protocol: up to 2,000
// characters (8,000 bytes of UTF-8) in a small JSON wrapper with an
// attachment's key and metadata, and 100 destinations plus the sender. An
// envelope at both limits still fits in a 64 KiB chat packet.
func DefaultLimits() Limits {
	return Limits{MaxCiphertext: 16 << 10, MaxKeys: 101}
}

// The reasons an envelope is refused. An *EnvelopeError wraps exactly one
// of them, so errors.Is tells them apart; all are the sender's protocol
// violation, never the server's fault.
var (
	ErrSuite      = errors.New("unsupported suite")
	ErrEncoding   = errors.New("not canonical standard base64")
	ErrLength     = errors.New("wrong length")
	ErrTooLarge   = errors.New("too large")
	ErrRecipients = errors.New("sealed keys do not match the recipients")
	ErrMalformed  = errors.New("malformed envelope")
)

// EnvelopeError says which field of an envelope is wrong and why.
type EnvelopeError struct {
	Field  string // e.g. "ct", "keys[3].enc", "keys"
	Err    error  // one of ErrSuite, ErrEncoding, ErrLength, ErrTooLarge, ErrRecipients, ErrMalformed
	Detail string
}

func (e *EnvelopeError) Error() string {
	s := "e2ee envelope: " + e.Field + ": " + e.Err.Error()
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

func (e *EnvelopeError) Unwrap() error { return e.Err }

func envErr(field string, err error, format string, args ...any) *EnvelopeError {
	return &EnvelopeError{Field: field, Err: err, Detail: fmt.Sprintf(format, args...)}
}

// ParseEnvelope decodes an envelope strictly: one JSON object, no unknown
// fields, nothing after it. It does not Validate. A server that stores the
// envelope unchanged can therefore store what it parsed.
func ParseEnvelope(raw []byte) (*Envelope, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var env Envelope
	if err := dec.Decode(&env); err != nil {
		return nil, envErr("envelope", ErrMalformed, "%v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, envErr("envelope", ErrMalformed, "data after the envelope")
	}
	return &env, nil
}

// Validate makes every check that needs no key: the suite, canonical base64
// and exact lengths of every field, the content size, and that the sealed
// keys name exactly the destinations to plus the sender, each once.
// Duplicates within to count once; to may or may not list the sender.
// It decodes nothing larger than limits allow and allocates nothing
// in proportion to a refused field.
func Validate(env *Envelope, to []string, sender string, limits Limits) error {
	if env == nil {
		return envErr("envelope", ErrMalformed, "missing")
	}
	if limits.MaxCiphertext <= 0 || limits.MaxKeys <= 0 {
		return fmt.Errorf("e2ee: Validate needs positive limits, got %+v", limits)
	}
	if env.Suite != Suite {
		return envErr("suite", ErrSuite, "%q (this server speaks %q)", truncate(env.Suite), Suite)
	}
	if _, err := decodeExact(env.Nonce, NonceSize); err != nil {
		return err.in("nonce")
	}
	if n := len(env.Ciphertext); n > base64.StdEncoding.EncodedLen(limits.MaxCiphertext) {
		return envErr("ct", ErrTooLarge, "more than %d bytes", limits.MaxCiphertext)
	}
	ct, derr := decode(env.Ciphertext)
	if derr != nil {
		return derr.in("ct")
	}
	if len(ct) < MinCiphertext {
		return envErr("ct", ErrLength, "%d bytes, at least %d", len(ct), MinCiphertext)
	}
	if len(ct) > limits.MaxCiphertext {
		return envErr("ct", ErrTooLarge, "%d bytes, at most %d", len(ct), limits.MaxCiphertext)
	}
	return checkKeys(env.Keys, to, sender, limits.MaxKeys)
}

// checkKeys checks the sealed keys' encodings and that their identities are
// exactly Recipients(to, sender).
func checkKeys(keys []SealedKey, to []string, sender string, maxKeys int) error {
	if sender == "" {
		return envErr("keys", ErrRecipients, "no sender identity")
	}
	if len(keys) > maxKeys {
		return envErr("keys", ErrTooLarge, "%d sealed keys, at most %d", len(keys), maxKeys)
	}
	want := Recipients(to, sender)
	if len(want) > maxKeys {
		return envErr("keys", ErrTooLarge, "%d recipients, at most %d", len(want), maxKeys)
	}
	seen := make(map[string]bool, len(keys))
	for i, k := range keys {
		// The field's name is formatted only for an error: this loop runs
		// for every sealed key of every encrypted message.
		field := func(f string) string { return fmt.Sprintf("keys[%d].%s", i, f) }
		if seen[k.Identity] {
			return envErr(field("identity"), ErrRecipients, "%q has two sealed keys", truncate(k.Identity))
		}
		if _, ok := slices.BinarySearch(want, k.Identity); !ok {
			return envErr(field("identity"), ErrRecipients, "%q is neither a destination nor the sender", truncate(k.Identity))
		}
		seen[k.Identity] = true
		enc, err := decodeExact(k.Enc, EncSize)
		if err != nil {
			return err.in(field("enc"))
		}
		if enc[0] != 4 {
			return envErr(field("enc"), ErrLength, "not an uncompressed P-256 point (first byte %#02x)", enc[0])
		}
		if _, err := decodeExact(k.Key, SealedKeySize); err != nil {
			return err.in(field("key"))
		}
	}
	for _, id := range want {
		if !seen[id] {
			return envErr("keys", ErrRecipients, "no sealed key for %q", truncate(id))
		}
	}
	return nil
}

// Recipients is the set the sealed keys must name: the destinations and the
// sender, without duplicates, sorted by their UTF-8 bytes.
func Recipients(to []string, sender string) []string {
	out := make([]string, 0, len(to)+1)
	out = append(out, to...)
	out = append(out, sender)
	slices.Sort(out)
	return slices.Compact(out)
}

// decodeExact decodes a canonical base64 field of exactly n bytes, refusing
// a much longer string before decoding it. The caller names the field.
func decodeExact(s string, n int) ([]byte, *EnvelopeError) {
	want := base64.StdEncoding.EncodedLen(n)
	if len(s) > want+8 {
		return nil, envErr("", ErrLength, "%d base64 characters, want %d for %d bytes", len(s), want, n)
	}
	b, err := decode(s)
	if err != nil {
		return nil, err
	}
	if len(b) != n {
		return nil, envErr("", ErrLength, "%d bytes, want %d", len(b), n)
	}
	return b, nil
}

// decode accepts only the canonical standard encoding, so that two
// different strings never carry the same envelope. Strict refuses non-zero
// padding bits and the padded encoding requires its "="; what the decoder
// still skips is line breaks, and those make s longer than the canonical
// text of what it decoded.
func decode(s string) ([]byte, *EnvelopeError) {
	b, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil || len(s) != base64.StdEncoding.EncodedLen(len(b)) {
		return nil, &EnvelopeError{Err: ErrEncoding}
	}
	return b, nil
}

// in names the field of an error made without one.
func (e *EnvelopeError) in(field string) *EnvelopeError {
	e.Field = field
	return e
}

func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
