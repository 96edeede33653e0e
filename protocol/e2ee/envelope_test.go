package e2ee

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// validEnvelope is a real envelope from alice to bob and carol.
func validEnvelope(t *testing.T) *Envelope {
	t.Helper()
	_, dir := newParties(t, "alice", "bob", "carol")
	env, err := Seal([]byte("hello"), Context{Room: "r", Sender: "alice", To: []string{"bob", "carol"}}, dir)
	if err != nil {
		t.Fatal(err)
	}
	return env
}

func b64(n int) string { return base64.StdEncoding.EncodeToString(make([]byte, n)) }

// TestValidate is the server's check, with every way an envelope can be
// refused and the reason it gives.
func TestValidate(t *testing.T) {
	to, sender := []string{"bob", "carol"}, "alice"
	cases := []struct {
		name   string
		mutate func(*Envelope)
		to     []string
		sender string
		want   error
		field  string
	}{
		{"valid", func(*Envelope) {}, nil, "", nil, ""},
		{"to with duplicates and the sender", func(*Envelope) {}, []string{"carol", "bob", "carol", "alice"}, "", nil, ""},
		{"wrong suite", func(e *Envelope) { e.Suite = "bc-e2ee-v0" }, nil, "", ErrSuite, "suite"},
		{"no suite", func(e *Envelope) { e.Suite = "" }, nil, "", ErrSuite, "suite"},
		{"nonce bad base64", func(e *Envelope) { e.Nonce = "!!!!" + e.Nonce[4:] }, nil, "", ErrEncoding, "nonce"},
		{"nonce without padding", func(e *Envelope) { e.Nonce = strings.TrimRight(b64(11), "=") }, nil, "", ErrEncoding, "nonce"},
		{"nonce 11 bytes", func(e *Envelope) { e.Nonce = b64(11) }, nil, "", ErrLength, "nonce"},
		{"nonce 13 bytes", func(e *Envelope) { e.Nonce = b64(13) }, nil, "", ErrLength, "nonce"},
		{"nonce huge", func(e *Envelope) { e.Nonce = b64(1 << 20) }, nil, "", ErrLength, "nonce"},
		{"ct with a line break", func(e *Envelope) { e.Ciphertext = e.Ciphertext[:4] + "\n" + e.Ciphertext[4:] }, nil, "", ErrEncoding, "ct"},
		{"ct url-safe alphabet", func(e *Envelope) { e.Ciphertext = "-_" + e.Ciphertext[2:] }, nil, "", ErrEncoding, "ct"},
		{"ct non-canonical padding bits", func(e *Envelope) { e.Ciphertext = "AB==" }, nil, "", ErrEncoding, "ct"},
		{"ct only a tag", func(e *Envelope) { e.Ciphertext = b64(TagSize) }, nil, "", ErrLength, "ct"},
		{"ct empty", func(e *Envelope) { e.Ciphertext = "" }, nil, "", ErrLength, "ct"},
		{"ct at the limit", func(e *Envelope) { e.Ciphertext = b64(DefaultLimits().MaxCiphertext) }, nil, "", nil, ""},
		{"ct over the limit", func(e *Envelope) { e.Ciphertext = b64(DefaultLimits().MaxCiphertext + 1) }, nil, "", ErrTooLarge, "ct"},
		{"ct far over the limit", func(e *Envelope) { e.Ciphertext = strings.Repeat("A", 10<<20) }, nil, "", ErrTooLarge, "ct"},
		{"enc bad base64", func(e *Envelope) { e.Keys[1].Enc = strings.Repeat("*", len(e.Keys[1].Enc)) }, nil, "", ErrEncoding, "keys[1].enc"},
		{"enc 64 bytes", func(e *Envelope) { e.Keys[1].Enc = b64(64) }, nil, "", ErrLength, "keys[1].enc"},
		{"enc 33 bytes (compressed)", func(e *Envelope) { e.Keys[1].Enc = b64(33) }, nil, "", ErrLength, "keys[1].enc"},
		{"enc not uncompressed", func(e *Envelope) {
			b, _ := base64.StdEncoding.DecodeString(e.Keys[1].Enc)
			b[0] = 2
			e.Keys[1].Enc = base64.StdEncoding.EncodeToString(b)
		}, nil, "", ErrLength, "keys[1].enc"},
		{"sealed key 31 bytes", func(e *Envelope) { e.Keys[2].Key = b64(31) }, nil, "", ErrLength, "keys[2].key"},
		{"sealed key 48 bytes", func(e *Envelope) { e.Keys[2].Key = b64(48) }, nil, "", ErrLength, "keys[2].key"},
		{"missing a destination's key", func(e *Envelope) { e.Keys = e.Keys[:2] }, nil, "", ErrRecipients, "keys"},
		{"missing the sender's key", func(e *Envelope) { e.Keys = e.Keys[1:] }, nil, "", ErrRecipients, "keys"},
		{"no keys", func(e *Envelope) { e.Keys = nil }, nil, "", ErrRecipients, "keys"},
		{"extra key", func(e *Envelope) { e.Keys = append(e.Keys, SealedKey{"dave", e.Keys[0].Enc, e.Keys[0].Key}) }, nil, "", ErrRecipients, "keys[3].identity"},
		{"duplicate key", func(e *Envelope) { e.Keys = append(e.Keys[:2], e.Keys[1]) }, nil, "", ErrRecipients, "keys[2].identity"},
		{"duplicate replacing one", func(e *Envelope) { e.Keys[2] = e.Keys[1] }, nil, "", ErrRecipients, "keys[2].identity"},
		{"envelope for fewer than to", func(*Envelope) {}, []string{"bob", "carol", "dave"}, "", ErrRecipients, "keys"},
		{"envelope for more than to", func(*Envelope) {}, []string{"bob"}, "", ErrRecipients, "keys[2].identity"},
		{"another sender", func(*Envelope) {}, nil, "bob", ErrRecipients, "keys[0].identity"},
		{"no sender", func(*Envelope) {}, nil, "-", ErrRecipients, "keys"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			env := validEnvelope(t)
			c.mutate(env)
			cto, csender := to, sender
			if c.to != nil {
				cto = c.to
			}
			switch c.sender {
			case "":
			case "-":
				csender = ""
			default:
				csender = c.sender
			}
			err := Validate(env, cto, csender, DefaultLimits())
			if c.want == nil {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if !errors.Is(err, c.want) {
				t.Fatalf("error %v, want %v", err, c.want)
			}
			var ee *EnvelopeError
			if !errors.As(err, &ee) || ee.Field != c.field {
				t.Fatalf("error %v names field %q, want %q", err, ee.Field, c.field)
			}
			if !strings.HasPrefix(err.Error(), "e2ee envelope: "+c.field+": ") {
				t.Fatalf("message %q does not say which field", err)
			}
		})
	}
}

func TestValidateLimits(t *testing.T) {
	env := validEnvelope(t)
	if err := Validate(env, []string{"bob", "carol"}, "alice", Limits{MaxCiphertext: 1 << 10, MaxKeys: 2}); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("three keys over a limit of two: %v", err)
	}
	if err := Validate(env, []string{"bob", "carol"}, "alice", Limits{}); err == nil || errors.As(err, new(*EnvelopeError)) {
		t.Fatalf("zero limits are the caller's bug, not the envelope's: %v", err)
	}
	if err := Validate(nil, []string{"bob"}, "alice", DefaultLimits()); !errors.Is(err, ErrMalformed) {
		t.Fatalf("nil envelope: %v", err)
	}
	// At the default limits, an envelope still fits a 64 KiB chat packet.
	big := &Envelope{Suite: Suite, Nonce: b64(NonceSize), Ciphertext: b64(DefaultLimits().MaxCiphertext)}
	var to []string
	for i := range DefaultLimits().MaxKeys {
		id := strings.Repeat("x", 60) + string(rune('A'+i/26)) + string(rune('a'+i%26))
		to = append(to, id)
		big.Keys = append(big.Keys, SealedKey{Identity: id, Enc: "BA" + b64(EncSize)[2:], Key: b64(SealedKeySize)})
	}
	if err := Validate(big, to[1:], to[0], DefaultLimits()); err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(big)
	if len(raw) > 60<<10 {
		t.Fatalf("an envelope at the limits is %d bytes of JSON, too close to a 64 KiB packet", len(raw))
	}
}

func TestParseEnvelope(t *testing.T) {
	for _, bad := range []string{
		``, `null x`, `[]`, `{"suite":"bc-e2ee-v1","extra":1}`, `{"suite":"bc-e2ee-v1"} {}`, `{"keys":{"bob":"x"}}`, `{"suite":1}`,
	} {
		if _, err := ParseEnvelope([]byte(bad)); !errors.Is(err, ErrMalformed) {
			t.Errorf("%q: %v, want ErrMalformed", bad, err)
		}
	}
	env := validEnvelope(t)
	raw, _ := json.Marshal(env)
	back, err := ParseEnvelope(raw)
	if err != nil {
		t.Fatal(err)
	}
	if err := Validate(back, []string{"bob", "carol"}, "alice", DefaultLimits()); err != nil {
		t.Fatal(err)
	}
}

// FuzzValidate: no input makes the server's checks panic, and whatever they
// accept survives the JSON round trip it is stored through.
func FuzzValidate(f *testing.F) {
	_, dir := newParties(f, "alice", "bob", "carol")
	env, err := Seal([]byte("hello"), Context{Room: "r", Sender: "alice", To: []string{"bob", "carol"}}, dir)
	if err != nil {
		f.Fatal(err)
	}
	raw, _ := json.Marshal(env)
	f.Add(raw)
	f.Add([]byte(`{"suite":"bc-e2ee-v1","nonce":"AAAAAAAAAAAAAAAA","ct":"","keys":[]}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		env, err := ParseEnvelope(raw)
		if err != nil {
			return
		}
		if Validate(env, []string{"bob", "carol"}, "alice", DefaultLimits()) != nil {
			return
		}
		again, _ := json.Marshal(env)
		back, err := ParseEnvelope(again)
		if err != nil || Validate(back, []string{"carol", "bob"}, "alice", DefaultLimits()) != nil {
			t.Fatalf("accepted %s, but not after a round trip: %v", raw, err)
		}
	})
}
