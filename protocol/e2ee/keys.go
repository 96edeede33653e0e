package e2ee

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/hpke"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// The HPKE algorithm identifiers of Suite (RFC 9180, section 7).
const (
	KEMID  = 0x0010 // DHKEM(P-256, HKDF-SHA256)
	KDFID  = 0x0001 // HKDF-SHA256
	AEADID = 0x0001 // AES-128-GCM
)

var kem = hpke.DHKEM(ecdh.P256())

// ErrKey is wrapped by every error about a key's encoding or file.
var ErrKey = errors.New("e2ee: bad key")

// PublicKey is a device's public key for DHKEM(P-256, HKDF-SHA256).
type PublicKey struct {
	raw  []byte // 65 bytes, uncompressed
	hpke hpke.PublicKey
}

// PrivateKey is a device's key pair.
type PrivateKey struct {
	ecdh *ecdh.PrivateKey
	hpke hpke.PrivateKey
	pub  *PublicKey
}

// GenerateKey makes a new key pair from the system's secure random source.
func GenerateKey() (*PrivateKey, error) {
	k, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	return fromECDH(k)
}

// NewPrivateKey makes the key pair whose private scalar is the 32-byte
// big-endian sk (RFC 9180 SerializePrivateKey for P-256).
func NewPrivateKey(sk []byte) (*PrivateKey, error) {
	k, err := ecdh.P256().NewPrivateKey(sk)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrKey, err)
	}
	return fromECDH(k)
}

// DeriveKey is RFC 9180 DeriveKeyPair for DHKEM(P-256, HKDF-SHA256): the
// same ikm always gives the same key pair. Tests and documented vectors use
// it; devices use GenerateKey.
func DeriveKey(ikm []byte) (*PrivateKey, error) {
	k, err := kem.DeriveKeyPair(ikm)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrKey, err)
	}
	sk, err := k.Bytes()
	if err != nil {
		return nil, err
	}
	return NewPrivateKey(sk)
}

func fromECDH(k *ecdh.PrivateKey) (*PrivateKey, error) {
	hk, err := hpke.NewDHKEMPrivateKey(k)
	if err != nil {
		return nil, err
	}
	pub, err := newPublicKey(k.PublicKey().Bytes())
	if err != nil {
		return nil, err
	}
	return &PrivateKey{ecdh: k, hpke: hk, pub: pub}, nil
}

// Public returns the key pair's public key.
func (k *PrivateKey) Public() *PublicKey { return k.pub }

// Bytes is the 32-byte private scalar. Keep it secret.
func (k *PrivateKey) Bytes() []byte { return k.ecdh.Bytes() }

// ParsePublicKey decodes a public key as it travels: standard base64
// (padded, canonical) of the 65-byte uncompressed point 0x04 || X || Y. The
// point must be on the curve.
func ParsePublicKey(s string) (*PublicKey, error) {
	raw, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil || base64.StdEncoding.EncodeToString(raw) != s {
		return nil, fmt.Errorf("%w: public key is not canonical standard base64", ErrKey)
	}
	return newPublicKey(raw)
}

// NewPublicKey makes a public key from its 65-byte uncompressed encoding.
func NewPublicKey(raw []byte) (*PublicKey, error) { return newPublicKey(bytes.Clone(raw)) }

func newPublicKey(raw []byte) (*PublicKey, error) {
	if len(raw) != EncSize || raw[0] != 4 {
		return nil, fmt.Errorf("%w: public key must be a 65-byte uncompressed P-256 point", ErrKey)
	}
	hk, err := kem.NewPublicKey(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrKey, err)
	}
	return &PublicKey{raw: raw, hpke: hk}, nil
}

// String is the public key as it travels: standard base64 of the 65-byte
// uncompressed point.
func (p *PublicKey) String() string { return base64.StdEncoding.EncodeToString(p.raw) }

// Bytes is the 65-byte uncompressed point.
func (p *PublicKey) Bytes() []byte { return bytes.Clone(p.raw) }

// Equal reports whether two public keys are the same.
func (p *PublicKey) Equal(q *PublicKey) bool { return q != nil && bytes.Equal(p.raw, q.raw) }

// MarshalText and UnmarshalText let a PublicKey sit in JSON as its string.
func (p *PublicKey) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

func (p *PublicKey) UnmarshalText(b []byte) error {
	q, err := ParsePublicKey(string(b))
	if err != nil {
		return err
	}
	*p = *q
	return nil
}

const (
	fingerprintLabel  = "backchannel e2ee v1 fingerprint"
	safetyNumberLabel = "backchannel e2ee v1 safety number"
)

// Fingerprint is a key's short safety number, the one the People panel
// shows: SHA-256("backchannel e2ee v1 fingerprint" || 0x00 || the 65-byte
// point), its first 30 bytes read as six 40-bit big-endian integers, each
// reduced mod 100000 and written as five digits, groups separated by
// spaces ("01234 56789 …", 30 digits, about 100 bits). Two people compare
// the fingerprint of one key out of band.
func (p *PublicKey) Fingerprint() string {
	h := sha256.New()
	h.Write([]byte(fingerprintLabel))
	h.Write([]byte{0})
	h.Write(p.raw)
	return digits(h.Sum(nil))
}

// SafetyNumber is one number for a pair of identities and their keys, the
// same whichever side computes it: SHA-256("backchannel e2ee v1 safety
// number" || 0x00 || then, for each (identity, key) in order of identity
// bytes (then key bytes): u16(len(identity)) || identity || the 65-byte
// point), in the digits of Fingerprint.
func SafetyNumber(idA string, a *PublicKey, idB string, b *PublicKey) string {
	if idA > idB || (idA == idB && bytes.Compare(a.raw, b.raw) > 0) {
		idA, a, idB, b = idB, b, idA, a
	}
	h := sha256.New()
	h.Write([]byte(safetyNumberLabel))
	h.Write([]byte{0})
	for _, p := range []struct {
		id string
		k  *PublicKey
	}{{idA, a}, {idB, b}} {
		h.Write(binary.BigEndian.AppendUint16(nil, uint16(min(len(p.id), 0xffff))))
		h.Write([]byte(p.id[:min(len(p.id), 0xffff)]))
		h.Write(p.k.raw)
	}
	return digits(h.Sum(nil))
}

func digits(sum []byte) string {
	var b strings.Builder
	for i := range 6 {
		var v uint64
		for _, c := range sum[5*i : 5*i+5] {
			v = v<<8 | uint64(c)
		}
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%05d", v%100000)
	}
	return b.String()
}

const pemType = "PRIVATE KEY"

// MarshalPEM encodes the private key as a PKCS #8 "PRIVATE KEY" PEM block,
// which openssl and most tools read.
func (k *PrivateKey) MarshalPEM() ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(k.ecdh)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: pemType, Bytes: der}), nil
}

// ParsePEM decodes what MarshalPEM wrote: a PKCS #8 P-256 key.
func ParsePEM(data []byte) (*PrivateKey, error) {
	block, rest := pem.Decode(data)
	if block == nil || block.Type != pemType || len(bytes.TrimSpace(rest)) != 0 {
		return nil, fmt.Errorf("%w: want exactly one %q PEM block", ErrKey, pemType)
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrKey, err)
	}
	var ek *ecdh.PrivateKey
	switch k := key.(type) {
	case *ecdsa.PrivateKey:
		if ek, err = k.ECDH(); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrKey, err)
		}
	case *ecdh.PrivateKey:
		ek = k
	default:
		return nil, fmt.Errorf("%w: %T is not a P-256 key", ErrKey, key)
	}
	if ek.Curve() != ecdh.P256() {
		return nil, fmt.Errorf("%w: not a P-256 key", ErrKey)
	}
	return fromECDH(ek)
}

// SaveFile writes the private key to path as PEM, readable by its owner
// only (0600). It writes a temporary file beside path and renames it, so a
// crash never leaves half a key.
func (k *PrivateKey) SaveFile(path string) error {
	data, err := k.MarshalPEM()
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".e2ee-key-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // a no-op once renamed
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// LoadFile reads a key SaveFile wrote. Like ssh, it refuses a file that
// others may read: that key is no longer only this device's.
func LoadFile(path string) (*PrivateKey, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if runtime.GOOS != "windows" && st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%w: %s is accessible to others (mode %#o); chmod 600 it", ErrKey, path, st.Mode().Perm())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParsePEM(data)
}

// LoadOrCreateFile loads the key at path, or creates and saves a new one
// when there is no file: what a bot needs to keep one device key across
// runs.
func LoadOrCreateFile(path string) (*PrivateKey, error) {
	k, err := LoadFile(path)
	if !errors.Is(err, os.ErrNotExist) {
		return k, err
	}
	if k, err = GenerateKey(); err != nil {
		return nil, err
	}
	return k, k.SaveFile(path)
}
