package auth

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

var keys = KeyProvider{APIKey: "APIkey1", APISecret: "a-long-enough-secret-for-hs256"}

func mint(t *testing.T, o TokenOptions) string {
	t.Helper()
	tok, err := keys.Mint(o)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestMintVerifyRoundTrip(t *testing.T) {
	tok := mint(t, TokenOptions{Identity: "alice", Name: "Alice", TTL: time.Hour,
		Grant: VideoGrant{Room: "r1", RoomJoin: true, RoomAdmin: true, CanPublishData: Bool(false)}})
	id, err := keys.Verify(tok)
	if err != nil {
		t.Fatal(err)
	}
	if id.Identity != "alice" || id.Name != "Alice" || id.Grant.Room != "r1" || !id.Grant.RoomJoin || !id.Grant.RoomAdmin {
		t.Fatalf("claims lost: %+v", id)
	}
	if id.Grant.PublishData() || !id.Grant.Publish() || !id.Grant.Subscribe() {
		t.Fatalf("grant defaults wrong: %+v", id.Grant)
	}
	if time.Until(id.Expiry) < 59*time.Minute {
		t.Fatalf("expiry %v", id.Expiry)
	}
}

// A token shaped exactly as LiveKit's SDKs mint them (extra claims such as
// metadata, sha256 and kind included) is understood.
func TestLiveKitShapedToken(t *testing.T) {
	claims := jwt.MapClaims{
		"iss": keys.APIKey, "sub": "bob", "name": "Bob", "jti": "bob",
		"nbf": time.Now().Add(-time.Minute).Unix(), "exp": time.Now().Add(time.Hour).Unix(),
		"metadata": "{}", "sha256": "", "kind": "standard",
		"video": map[string]any{"room": "r2", "roomJoin": true, "canPublish": false, "canSubscribe": true, "canPublishData": true, "hidden": true},
	}
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(keys.APISecret))
	if err != nil {
		t.Fatal(err)
	}
	id, err := keys.Verify(tok)
	if err != nil {
		t.Fatal(err)
	}
	if id.Identity != "bob" || id.Grant.Room != "r2" || id.Grant.Publish() || !id.Grant.Hidden {
		t.Fatalf("got %+v", id)
	}
}

func TestRefusals(t *testing.T) {
	good := mint(t, TokenOptions{Identity: "a", TTL: time.Hour, Grant: VideoGrant{Room: "r", RoomJoin: true}})
	parts := strings.Split(good, ".")

	// alg none: header {"alg":"none"}, same claims, empty signature.
	noneHeader := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`))
	algNone := noneHeader + "." + parts[1] + "."

	// RS/HS confusion: an HS256 token "signed" with an RSA public key
	// would fool a verifier that lets the token pick the algorithm; an
	// RS256 token must be refused outright too.
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	pub, _ := x509.MarshalPKIXPublicKey(&rsaKey.PublicKey)
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub})
	claims := jwt.MapClaims{"iss": keys.APIKey, "sub": "a", "exp": time.Now().Add(time.Hour).Unix(), "video": map[string]any{"room": "r", "roomJoin": true}}
	rs256, _ := jwt.NewWithClaims(jwt.SigningMethodRS256, claims).SignedString(rsaKey)
	hsWithPub, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(pubPEM)
	hs512, _ := jwt.NewWithClaims(jwt.SigningMethodHS512, claims).SignedString([]byte(keys.APISecret))

	other := KeyProvider{APIKey: keys.APIKey, APISecret: "another-secret-entirely-000000"}
	forged, _ := other.Mint(TokenOptions{Identity: "a", TTL: time.Hour, Grant: VideoGrant{Room: "r", RoomJoin: true}})
	otherKey := KeyProvider{APIKey: "someone-else", APISecret: keys.APISecret}
	wrongIss, _ := otherKey.Mint(TokenOptions{Identity: "a", TTL: time.Hour, Grant: VideoGrant{Room: "r", RoomJoin: true}})

	// Tampered payload: change the identity, keep the signature.
	tp, _ := base64.RawURLEncoding.DecodeString(parts[1])
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(string(tp), `"sub":"a"`, `"sub":"z"`, 1))) + "." + parts[2]

	expired := mint(t, TokenOptions{Identity: "a", TTL: time.Minute, NotBefore: time.Now().Add(-time.Hour), Grant: VideoGrant{Room: "r", RoomJoin: true}})
	notYet := mint(t, TokenOptions{Identity: "a", TTL: time.Hour, NotBefore: time.Now().Add(time.Hour), Grant: VideoGrant{Room: "r", RoomJoin: true}})
	noExp, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"iss": keys.APIKey, "sub": "a", "video": map[string]any{"room": "r"}}).SignedString([]byte(keys.APISecret))
	noSub, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"iss": keys.APIKey, "exp": time.Now().Add(time.Hour).Unix(), "video": map[string]any{"room": "r"}}).SignedString([]byte(keys.APISecret))

	cases := []struct {
		name string
		tok  string
		want error
	}{
		{"missing", "", ErrMissing},
		{"garbage", "not-a-jwt", ErrMalformed},
		{"alg none", algNone, ErrAlgorithm},
		{"RS256", rs256, ErrAlgorithm},
		{"HS512", hs512, ErrAlgorithm},
		{"HS256 keyed with an RSA public key", hsWithPub, ErrSignature},
		{"other secret", forged, ErrSignature},
		{"tampered payload", tampered, ErrSignature},
		{"unknown API key", wrongIss, ErrIssuer},
		{"expired", expired, ErrExpired},
		{"not yet valid", notYet, ErrNotYet},
		{"no expiry", noExp, ErrMalformed},
		{"no identity", noSub, ErrIdentity},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := keys.Verify(c.tok)
			if !errors.Is(err, c.want) {
				t.Fatalf("Verify = %v, want %v", err, c.want)
			}
		})
	}
}

func TestFromRequest(t *testing.T) {
	r := httptest.NewRequest("GET", "/v1/rtc?access_token=q", nil)
	if got := FromRequest(r); got != "q" {
		t.Fatalf("query: %q", got)
	}
	r.Header.Set("Authorization", "Bearer h")
	if got := FromRequest(r); got != "h" {
		t.Fatalf("header wins: %q", got)
	}
}
