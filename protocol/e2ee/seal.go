package e2ee

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hpke"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
)

// Context is what an envelope is bound to: the additional data of the
// content and of every sealed key. A receiver rebuilds it from the message
// object it got (room, sender, to, and the message id for an edit), so an
// envelope the server moved to another room, sender, audience or message
// does not open.
type Context struct {
	Room   string   // the room's name
	Sender string   // the sender's identity
	To     []string // the destinations; order, duplicates and the sender are ignored
	// Ref is empty for a new message; for an edit's re-encrypted content it
	// is the edited message's id, so that an edit cannot be replayed as a
	// new message or onto another message.
	Ref string
}

const (
	aadLabel  = "backchannel e2ee v1"
	infoLabel = "backchannel e2ee v1 key"
)

// AAD is the additional data of the content's AES-GCM and of every sealed
// key's HPKE Seal:
//
//	"backchannel e2ee v1" || 0x00 || lp(room) || lp(sender) ||
//	u16(n) || lp(to_1) || … || lp(to_n) || lp(ref)
//
// where lp(x) = u16(len(x)) || x (big-endian length of the UTF-8 bytes),
// and to_1 … to_n are the destinations without duplicates and without the
// sender, sorted by their bytes.
func (c Context) AAD() ([]byte, error) {
	if c.Sender == "" {
		return nil, errors.New("e2ee: the context has no sender")
	}
	to := make([]string, 0, len(c.To))
	for _, id := range c.To {
		if id != c.Sender {
			to = append(to, id)
		}
	}
	slices.Sort(to)
	to = slices.Compact(to)
	if len(to) > 0xffff {
		return nil, errors.New("e2ee: too many destinations")
	}
	b := append([]byte(aadLabel), 0)
	var err error
	lp := func(s string) {
		if len(s) > 0xffff {
			err = fmt.Errorf("e2ee: %q… is longer than 65535 bytes", s[:16])
		}
		b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
		b = append(b, s...)
	}
	lp(c.Room)
	lp(c.Sender)
	b = binary.BigEndian.AppendUint16(b, uint16(len(to)))
	for _, id := range to {
		lp(id)
	}
	lp(c.Ref)
	return b, err
}

// Info is the HPKE info of the sealed key for recipient:
// "backchannel e2ee v1 key" || 0x00 || recipient's UTF-8 bytes.
func Info(recipient string) []byte {
	return append(append([]byte(infoLabel), 0), recipient...)
}

// Errors of Seal and Open besides an *EnvelopeError.
var (
	// ErrNoKey: Seal was not given the public key of a recipient.
	ErrNoKey = errors.New("e2ee: no public key for a recipient")
	// ErrNotRecipient: the envelope has no sealed key for this identity.
	ErrNotRecipient = errors.New("e2ee: no sealed key for this identity")
	// ErrDecrypt: a sealed key or the content did not authenticate. The
	// envelope was tampered with, was moved to another context, or was
	// sealed to another key of this identity. Never shown as text.
	ErrDecrypt = errors.New("e2ee: cannot decrypt")
)

// Seal encrypts plaintext for ctx.Sender and every identity in ctx.To. keys
// must hold the public key of each of them (the sender's own included, so
// that its other devices and its history can read what it sent); other
// entries are ignored. The sealed keys are in Recipients order.
func Seal(plaintext []byte, ctx Context, keys map[string]*PublicKey) (*Envelope, error) {
	aad, err := ctx.AAD()
	if err != nil {
		return nil, err
	}
	recipients := Recipients(ctx.To, ctx.Sender)
	for _, id := range recipients {
		if keys[id] == nil {
			return nil, fmt.Errorf("%w: %q", ErrNoKey, id)
		}
	}
	contentKey := make([]byte, ContentKeyLen)
	nonce := make([]byte, NonceSize)
	rand.Read(contentKey)
	rand.Read(nonce)
	gcm, err := newGCM(contentKey)
	if err != nil {
		return nil, err
	}
	env := &Envelope{
		Suite:      Suite,
		Nonce:      base64.StdEncoding.EncodeToString(nonce),
		Ciphertext: base64.StdEncoding.EncodeToString(gcm.Seal(nil, nonce, plaintext, aad)),
		Keys:       make([]SealedKey, 0, len(recipients)),
	}
	for _, id := range recipients {
		enc, s, err := hpke.NewSender(keys[id].hpke, hpke.HKDFSHA256(), hpke.AES128GCM(), Info(id))
		if err != nil {
			return nil, err
		}
		sealed, err := s.Seal(aad, contentKey)
		if err != nil {
			return nil, err
		}
		env.Keys = append(env.Keys, SealedKey{
			Identity: id,
			Enc:      base64.StdEncoding.EncodeToString(enc),
			Key:      base64.StdEncoding.EncodeToString(sealed),
		})
	}
	return env, nil
}

// openLimits bound what a client decrypts: looser than what a server
// enforces, so that a server with higher limits still works, but finite.
var openLimits = Limits{MaxCiphertext: 1 << 20, MaxKeys: 10000}

// Open decrypts env as identity me, the holder of priv, in ctx (rebuilt
// from the message object as received). It first makes Validate's checks
// (so an envelope whose sealed keys do not match the audience is refused
// even when this identity's key opens), then opens this identity's sealed
// key and the content. It returns plaintext only when both authenticate.
func Open(env *Envelope, ctx Context, me string, priv *PrivateKey) ([]byte, error) {
	if err := Validate(env, ctx.To, ctx.Sender, openLimits); err != nil {
		return nil, err
	}
	aad, err := ctx.AAD()
	if err != nil {
		return nil, err
	}
	i := slices.IndexFunc(env.Keys, func(k SealedKey) bool { return k.Identity == me })
	if i < 0 {
		return nil, fmt.Errorf("%w: %q", ErrNotRecipient, me)
	}
	// Validate checked every encoding.
	enc, _ := base64.StdEncoding.DecodeString(env.Keys[i].Enc)
	sealed, _ := base64.StdEncoding.DecodeString(env.Keys[i].Key)
	nonce, _ := base64.StdEncoding.DecodeString(env.Nonce)
	ct, _ := base64.StdEncoding.DecodeString(env.Ciphertext)
	r, err := hpke.NewRecipient(enc, priv.hpke, hpke.HKDFSHA256(), hpke.AES128GCM(), Info(me))
	if err != nil {
		return nil, fmt.Errorf("%w: sealed key: %v", ErrDecrypt, err)
	}
	contentKey, err := r.Open(aad, sealed)
	if err != nil {
		return nil, fmt.Errorf("%w: sealed key does not open with this key", ErrDecrypt)
	}
	gcm, err := newGCM(contentKey)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrDecrypt, err)
	}
	pt, err := gcm.Open(nil, nonce, ct, aad)
	if err != nil {
		return nil, fmt.Errorf("%w: content does not authenticate", ErrDecrypt)
	}
	return pt, nil
}

func newGCM(key []byte) (cipher.AEAD, error) {
	if len(key) != ContentKeyLen {
		return nil, fmt.Errorf("content key of %d bytes, want %d", len(key), ContentKeyLen)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}
