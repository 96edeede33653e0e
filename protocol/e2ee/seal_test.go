package e2ee

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hpke"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"testing"
)

// party is one identity with its device key.
type party struct {
	id  string
	key *PrivateKey
}

func newParties(t testing.TB, ids ...string) ([]party, map[string]*PublicKey) {
	t.Helper()
	var ps []party
	dir := map[string]*PublicKey{}
	for _, id := range ids {
		k, err := GenerateKey()
		if err != nil {
			t.Fatal(err)
		}
		ps = append(ps, party{id, k})
		dir[id] = k.Public()
	}
	return ps, dir
}

func TestSealOpenRoundTrip(t *testing.T) {
	ps, dir := newParties(t, "alice", "bob", "carol", "dave")
	ctx := Context{Room: "standup", Sender: "alice", To: []string{"carol", "bob", "bob"}}
	msg := []byte(`{"text":"the launch moves to friday"}`)
	env, err := Seal(msg, ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := Validate(env, ctx.To, ctx.Sender, DefaultLimits()); err != nil {
		t.Fatalf("a sealed envelope does not validate: %v", err)
	}
	if got := []string{env.Keys[0].Identity, env.Keys[1].Identity, env.Keys[2].Identity}; len(env.Keys) != 3 ||
		got[0] != "alice" || got[1] != "bob" || got[2] != "carol" {
		t.Fatalf("sealed keys for %v, want alice, bob, carol once each", env.Keys)
	}
	for _, p := range ps[:3] {
		pt, err := Open(env, ctx, p.id, p.key)
		if err != nil {
			t.Fatalf("%s: %v", p.id, err)
		}
		if string(pt) != string(msg) {
			t.Fatalf("%s read %q", p.id, pt)
		}
	}
	// dave is in the room but not an audience: nothing for him.
	if _, err := Open(env, ctx, "dave", ps[3].key); !errors.Is(err, ErrNotRecipient) {
		t.Fatalf("a non-recipient: %v, want ErrNotRecipient", err)
	}
	// The same message sealed twice differs entirely (fresh key, nonce, ephemerals).
	env2, _ := Seal(msg, ctx, dir)
	if env2.Ciphertext == env.Ciphertext || env2.Nonce == env.Nonce || env2.Keys[1].Enc == env.Keys[1].Enc {
		t.Fatal("two seals of one message share randomness")
	}
	// The envelope survives JSON as the server stores it.
	raw, _ := json.Marshal(env)
	back, err := ParseEnvelope(raw)
	if err != nil {
		t.Fatal(err)
	}
	if pt, err := Open(back, ctx, "bob", ps[1].key); err != nil || string(pt) != string(msg) {
		t.Fatalf("after JSON: %q %v", pt, err)
	}
}

func TestSealNeedsEveryKey(t *testing.T) {
	_, dir := newParties(t, "alice", "bob")
	if _, err := Seal([]byte("x"), Context{Room: "r", Sender: "alice", To: []string{"bob", "carol"}}, dir); !errors.Is(err, ErrNoKey) {
		t.Fatalf("destination without a key: %v, want ErrNoKey", err)
	}
	delete(dir, "alice")
	if _, err := Seal([]byte("x"), Context{Room: "r", Sender: "alice", To: []string{"bob"}}, dir); !errors.Is(err, ErrNoKey) {
		t.Fatalf("sender without a key: %v, want ErrNoKey", err)
	}
}

// Every kind of tampering ends in an error and never in plaintext.
func TestOpenRefusesTampering(t *testing.T) {
	ps, dir := newParties(t, "alice", "bob", "carol")
	alice, bob := ps[0], ps[1]
	ctx := Context{Room: "standup", Sender: "alice", To: []string{"bob", "carol"}}
	fresh := func() *Envelope {
		env, err := Seal([]byte("secret plan"), ctx, dir)
		if err != nil {
			t.Fatal(err)
		}
		return env
	}
	flip := func(s string, i int) string {
		b, _ := base64.StdEncoding.DecodeString(s)
		b[(i+len(b))%len(b)] ^= 1 // a negative i counts from the end
		return base64.StdEncoding.EncodeToString(b)
	}
	other := fresh()
	otherKey, _ := GenerateKey()

	cases := []struct {
		name   string
		mutate func(*Envelope) (Context, *PrivateKey)
		want   error
	}{
		{"content bit flipped", func(e *Envelope) (Context, *PrivateKey) { e.Ciphertext = flip(e.Ciphertext, 3); return ctx, bob.key }, ErrDecrypt},
		{"tag bit flipped", func(e *Envelope) (Context, *PrivateKey) { e.Ciphertext = flip(e.Ciphertext, -1); return ctx, bob.key }, ErrDecrypt},
		{"nonce changed", func(e *Envelope) (Context, *PrivateKey) { e.Nonce = flip(e.Nonce, 0); return ctx, bob.key }, ErrDecrypt},
		{"sealed key flipped", func(e *Envelope) (Context, *PrivateKey) { e.Keys[1].Key = flip(e.Keys[1].Key, 5); return ctx, bob.key }, ErrDecrypt},
		{"enc replaced", func(e *Envelope) (Context, *PrivateKey) { e.Keys[1].Enc = e.Keys[0].Enc; return ctx, bob.key }, ErrDecrypt},
		{"sealed key from another envelope", func(e *Envelope) (Context, *PrivateKey) { e.Keys[1] = other.Keys[1]; return ctx, bob.key }, ErrDecrypt},
		{"bob's sealed key relabelled for carol", func(e *Envelope) (Context, *PrivateKey) {
			e.Keys[1].Identity, e.Keys[2].Identity = "carol", "bob"
			return ctx, bob.key
		}, ErrDecrypt},
		{"wrong private key", func(e *Envelope) (Context, *PrivateKey) { return ctx, otherKey }, ErrDecrypt},
		{"sender's own key opens as bob", func(e *Envelope) (Context, *PrivateKey) { return ctx, alice.key }, ErrDecrypt},
		{"moved to another room", func(e *Envelope) (Context, *PrivateKey) { c := ctx; c.Room = "other"; return c, bob.key }, ErrDecrypt},
		{"presented as an edit", func(e *Envelope) (Context, *PrivateKey) {
			c := ctx
			c.Ref = "01JD3Q4Z8V6W2T9K7M5N3P1R0S"
			return c, bob.key
		}, ErrDecrypt},
		{"presented as carol's", func(e *Envelope) (Context, *PrivateKey) {
			return Context{Room: "standup", Sender: "carol", To: []string{"alice", "bob"}}, bob.key
		}, ErrDecrypt},
		{"carol's sealed key removed", func(e *Envelope) (Context, *PrivateKey) { e.Keys = e.Keys[:2]; return ctx, bob.key }, ErrRecipients},
		{"audience shrunk to bob", func(e *Envelope) (Context, *PrivateKey) {
			e.Keys = e.Keys[:2]
			return Context{Room: "standup", Sender: "alice", To: []string{"bob"}}, bob.key
		}, ErrDecrypt},
		{"extra sealed key", func(e *Envelope) (Context, *PrivateKey) {
			e.Keys = append(e.Keys, SealedKey{Identity: "mallory", Enc: e.Keys[0].Enc, Key: e.Keys[0].Key})
			return ctx, bob.key
		}, ErrRecipients},
		{"wrong suite", func(e *Envelope) (Context, *PrivateKey) { e.Suite = "bc-e2ee-v2"; return ctx, bob.key }, ErrSuite},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			env := fresh()
			cx, key := c.mutate(env)
			pt, err := Open(env, cx, "bob", key)
			if err == nil || pt != nil {
				t.Fatalf("opened: %q", pt)
			}
			if !errors.Is(err, c.want) {
				t.Fatalf("error %v, want %v", err, c.want)
			}
		})
	}
}

// fixedVector is testdata/fixed-envelope.json, the third-party vector of
// docs/e2ee.md: every input of one Seal, random ones included.
type fixedVector struct {
	Context struct {
		Room   string   `json:"room"`
		Sender string   `json:"sender"`
		To     []string `json:"to"`
		Ref    string   `json:"ref"`
	} `json:"context"`
	Plaintext  string `json:"plaintext"`
	ContentKey string `json:"contentKey"`
	Nonce      string `json:"nonce"`
	AAD        string `json:"aad"`
	Identities map[string]struct {
		IKM         string `json:"ikm"`
		SK          string `json:"sk"`
		PublicKey   string `json:"publicKey"`
		Fingerprint string `json:"fingerprint"`
	} `json:"identities"`
	Ephemeral map[string]struct {
		IKM string `json:"ikm"`
		SK  string `json:"sk"`
		PK  string `json:"pk"`
	} `json:"ephemeral"`
	SafetyNumbers map[string]string `json:"safetyNumbers"`
	Envelope      Envelope          `json:"envelope"`
}

// TestFixedEnvelope recomputes, in Go, every byte of the documented
// envelope that crypto/hpke lets it choose (keys, AAD, content ciphertext,
// each enc from its ephemeral ikm) and opens every sealed key; the browser
// test reproduces the whole envelope byte for byte from the same inputs.
func TestFixedEnvelope(t *testing.T) {
	data, err := os.ReadFile("testdata/fixed-envelope.json")
	if err != nil {
		t.Fatal(err)
	}
	var v fixedVector
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	ctx := Context{Room: v.Context.Room, Sender: v.Context.Sender, To: v.Context.To, Ref: v.Context.Ref}
	aad, err := ctx.AAD()
	if err != nil {
		t.Fatal(err)
	}
	if hex.EncodeToString(aad) != v.AAD {
		t.Fatalf("AAD %x, want %s", aad, v.AAD)
	}
	env := &v.Envelope
	if err := Validate(env, ctx.To, ctx.Sender, DefaultLimits()); err != nil {
		t.Fatal(err)
	}
	if env.Nonce != base64.StdEncoding.EncodeToString(unhex(t, v.Nonce)) {
		t.Errorf("nonce %s is not %s", env.Nonce, v.Nonce)
	}
	block, _ := aes.NewCipher(unhex(t, v.ContentKey))
	gcm, _ := cipher.NewGCM(block)
	if ct := base64.StdEncoding.EncodeToString(gcm.Seal(nil, unhex(t, v.Nonce), []byte(v.Plaintext), aad)); ct != env.Ciphertext {
		t.Errorf("content ciphertext %s, want %s", ct, env.Ciphertext)
	}
	keys := map[string]*PrivateKey{}
	for id, p := range v.Identities {
		k, err := DeriveKey(unhex(t, p.IKM))
		if err != nil {
			t.Fatal(err)
		}
		if hex.EncodeToString(k.Bytes()) != p.SK || k.Public().String() != p.PublicKey {
			t.Errorf("%s: DeriveKeyPair gives %x %s", id, k.Bytes(), k.Public())
		}
		if fp := k.Public().Fingerprint(); fp != p.Fingerprint {
			t.Errorf("%s: fingerprint %q, want %q", id, fp, p.Fingerprint)
		}
		keys[id] = k
	}
	if sn := SafetyNumber("alice", keys["alice"].Public(), "bob", keys["bob"].Public()); sn != v.SafetyNumbers["alice-bob"] {
		t.Errorf("safety number %q, want %q", sn, v.SafetyNumbers["alice-bob"])
	}
	for _, sk := range env.Keys {
		e := v.Ephemeral[sk.Identity]
		ek, err := DeriveKey(unhex(t, e.IKM))
		if err != nil {
			t.Fatal(err)
		}
		if hex.EncodeToString(ek.Bytes()) != e.SK || hex.EncodeToString(ek.Public().Bytes()) != e.PK || ek.Public().String() != sk.Enc {
			t.Errorf("%s: enc %s does not come from the ephemeral ikm", sk.Identity, sk.Enc)
		}
		enc, _ := base64.StdEncoding.DecodeString(sk.Enc)
		sealed, _ := base64.StdEncoding.DecodeString(sk.Key)
		r, err := hpke.NewRecipient(enc, keys[sk.Identity].hpke, hpke.HKDFSHA256(), hpke.AES128GCM(), Info(sk.Identity))
		if err != nil {
			t.Fatal(err)
		}
		if ck, err := r.Open(aad, sealed); err != nil || hex.EncodeToString(ck) != v.ContentKey {
			t.Errorf("%s: sealed key opens to %x (%v), want %s", sk.Identity, ck, err, v.ContentKey)
		}
		pt, err := Open(env, ctx, sk.Identity, keys[sk.Identity])
		if err != nil || string(pt) != v.Plaintext {
			t.Errorf("%s: Open gives %q, %v", sk.Identity, pt, err)
		}
	}
}
