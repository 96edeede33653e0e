package e2ee

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"testing"
)

func TestPublicKeyEncoding(t *testing.T) {
	k, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	s := k.Public().String()
	if raw, _ := base64.StdEncoding.DecodeString(s); len(raw) != 65 || raw[0] != 4 {
		t.Fatalf("public key %q is not base64 of an uncompressed point", s)
	}
	p, err := ParsePublicKey(s)
	if err != nil || !p.Equal(k.Public()) {
		t.Fatalf("round trip: %v", err)
	}
	// In JSON, as presence would carry it.
	var v struct{ Key *PublicKey }
	raw, _ := json.Marshal(struct{ Key *PublicKey }{k.Public()})
	if err := json.Unmarshal(raw, &v); err != nil || !v.Key.Equal(k.Public()) {
		t.Fatalf("JSON round trip %s: %v", raw, err)
	}

	good, _ := base64.StdEncoding.DecodeString(s)
	offCurve := append([]byte(nil), good...)
	offCurve[64] ^= 1
	compressed := append([]byte{2 + good[64]&1}, good[1:33]...)
	for name, bad := range map[string]string{
		"empty":          "",
		"not base64":     "not base64!",
		"line break":     s[:10] + "\n" + s[10:],
		"unpadded":       base64.RawStdEncoding.EncodeToString(good),
		"url alphabet":   base64.URLEncoding.EncodeToString(append([]byte{4}, make([]byte, 64)...)),
		"64 bytes":       base64.StdEncoding.EncodeToString(good[:64]),
		"compressed":     base64.StdEncoding.EncodeToString(compressed),
		"off the curve":  base64.StdEncoding.EncodeToString(offCurve),
		"point at zero":  base64.StdEncoding.EncodeToString(append([]byte{4}, make([]byte, 64)...)),
		"prefixed wrong": base64.StdEncoding.EncodeToString(append([]byte{6}, good[1:]...)),
	} {
		if _, err := ParsePublicKey(bad); !errors.Is(err, ErrKey) {
			t.Errorf("%s: %v, want ErrKey", name, err)
		}
	}
	if err := json.Unmarshal([]byte(`{"Key":"AAAA"}`), &v); !errors.Is(err, ErrKey) {
		t.Errorf("bad key in JSON: %v", err)
	}
}

func TestFingerprintAndSafetyNumber(t *testing.T) {
	a, _ := GenerateKey()
	b, _ := GenerateKey()
	c, _ := GenerateKey()
	format := regexp.MustCompile(`^\d{5}( \d{5}){5}$`)
	fa := a.Public().Fingerprint()
	if !format.MatchString(fa) {
		t.Fatalf("fingerprint %q is not six groups of five digits", fa)
	}
	if fa != a.Public().Fingerprint() || fa == b.Public().Fingerprint() {
		t.Fatal("a fingerprint is not a function of its key alone")
	}
	ab := SafetyNumber("alice", a.Public(), "bob", b.Public())
	if !format.MatchString(ab) {
		t.Fatalf("safety number %q", ab)
	}
	if ba := SafetyNumber("bob", b.Public(), "alice", a.Public()); ba != ab {
		t.Fatalf("the two sides compute %q and %q", ab, ba)
	}
	// A substituted key, or a key claimed for another identity, changes it.
	if SafetyNumber("alice", a.Public(), "bob", c.Public()) == ab {
		t.Fatal("bob's key substituted, same number")
	}
	if SafetyNumber("alice", b.Public(), "bob", a.Public()) == ab {
		t.Fatal("keys swapped between identities, same number")
	}
	if SafetyNumber("alice", a.Public(), "carol", b.Public()) == ab {
		t.Fatal("another identity, same number")
	}
}

func TestKeyFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "bot.key")
	k, err := LoadOrCreateFile(path)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" && st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %#o, want 0600", st.Mode().Perm())
	}
	again, err := LoadOrCreateFile(path)
	if err != nil || !again.Public().Equal(k.Public()) || string(again.Bytes()) != string(k.Bytes()) {
		t.Fatalf("the key did not survive a reload: %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Fatalf("left %d files behind", len(entries))
	}
	// What it loaded works: a message sealed to the saved key opens with the loaded one.
	env, err := Seal([]byte("to the bot"), Context{Room: "r", Sender: "bot", To: nil}, map[string]*PublicKey{"bot": k.Public()})
	if err != nil {
		t.Fatal(err)
	}
	if pt, err := Open(env, Context{Room: "r", Sender: "bot"}, "bot", again); err != nil || string(pt) != "to the bot" {
		t.Fatalf("%q %v", pt, err)
	}
	if runtime.GOOS != "windows" {
		if err := os.Chmod(path, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadFile(path); !errors.Is(err, ErrKey) {
			t.Fatalf("a world-readable key file: %v, want ErrKey", err)
		}
	}
	for name, data := range map[string]string{
		"empty":       "",
		"not PEM":     "hello",
		"other block": "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
		"bad DER":     "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
	} {
		if _, err := ParsePEM([]byte(data)); !errors.Is(err, ErrKey) {
			t.Errorf("%s: %v, want ErrKey", name, err)
		}
	}
	pemData, _ := k.MarshalPEM()
	if _, err := ParsePEM(append(pemData, pemData...)); !errors.Is(err, ErrKey) {
		t.Errorf("two keys in one file: %v", err)
	}
	if _, err := NewPrivateKey(make([]byte, 32)); !errors.Is(err, ErrKey) {
		t.Errorf("zero scalar: %v", err)
	}
}
