package auth

import (
	"errors"
	"testing"
	"time"
)

// FuzzVerify: whatever the input, Verify either refuses it with one of the
// typed errors or accepts it, and only accepts what our secret signed.
func FuzzVerify(f *testing.F) {
	good, _ := keys.Mint(TokenOptions{Identity: "a", TTL: time.Hour, Grant: VideoGrant{Room: "r", RoomJoin: true}})
	f.Add(good)
	f.Add("")
	f.Add("a.b.c")
	f.Add("eyJhbGciOiJub25lIn0.eyJzdWIiOiJhIn0.")
	f.Add(good + "x")
	f.Fuzz(func(t *testing.T, tok string) {
		id, err := keys.Verify(tok)
		if err != nil {
			for _, e := range []error{ErrMissing, ErrMalformed, ErrSignature, ErrAlgorithm, ErrExpired, ErrNotYet, ErrIssuer, ErrIdentity, ErrNoGrant} {
				if errors.Is(err, e) {
					return
				}
			}
			t.Fatalf("untyped refusal %v", err)
		}
		if id.Identity == "" {
			t.Fatal("accepted a token without identity")
		}
		if tok != good {
			// A different string accepted must still carry our signature:
			// only base64 variations of the same token can (e.g. padding
			// bits), and they must decode to the same claims.
			if id.Identity != "a" || id.Grant.Room != "r" {
				t.Fatalf("accepted a token we did not sign: %q → %+v", tok, id)
			}
		}
	})
}
