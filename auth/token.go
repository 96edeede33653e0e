package auth

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// VideoGrant is LiveKit's grant object, kept field for field so that tokens
// minted by LiveKit's SDKs and CLI are understood here.
type VideoGrant struct {
	Room           string `json:"room,omitempty"`
	RoomJoin       bool   `json:"roomJoin,omitempty"`
	RoomAdmin      bool   `json:"roomAdmin,omitempty"`
	CanPublish     *bool  `json:"canPublish,omitempty"`
	CanSubscribe   *bool  `json:"canSubscribe,omitempty"`
	CanPublishData *bool  `json:"canPublishData,omitempty"`
	Hidden         bool   `json:"hidden,omitempty"`
}

// LiveKit treats an absent canPublish/canSubscribe/canPublishData as true;
// so do we.
func boolOr(p *bool, def bool) bool {
	if p == nil {
		return def
	}
	return *p
}

// Publish reports whether media publishing is allowed.
func (g VideoGrant) Publish() bool { return boolOr(g.CanPublish, true) }

// Subscribe reports whether receiving others' media is allowed.
func (g VideoGrant) Subscribe() bool { return boolOr(g.CanSubscribe, true) }

// PublishData reports whether sending chat is allowed.
func (g VideoGrant) PublishData() bool { return boolOr(g.CanPublishData, true) }

// Bool returns a pointer to b, for filling the optional grant fields.
func Bool(b bool) *bool { return &b }

// Claims are the JWT claims of an access token.
type Claims struct {
	jwt.RegisteredClaims
	Name  string      `json:"name,omitempty"`
	Video *VideoGrant `json:"video,omitempty"`
}

// Identity is what a verified token says about its bearer.
type Identity struct {
	Identity string
	Name     string
	Grant    VideoGrant
	Expiry   time.Time
	// E2EEKey is not from the token: it is the public key the client
	// announced in its join (signaling checked it is a P-256 point), ""
	// if none. It travels with the identity so that chat, which shows
	// it in presence, gets it through the SFU unchanged.
	E2EEKey string
}

// DisplayName is the name, or the identity when the token has none.
func (id Identity) DisplayName() string {
	if id.Name != "" {
		return id.Name
	}
	return id.Identity
}

// Typed errors: each is a distinct reason a token is refused, reported to the
// caller as a short JSON reason.
var (
	ErrMissing   = errors.New("missing token")
	ErrMalformed = errors.New("malformed token")
	ErrSignature = errors.New("invalid token signature")
	ErrAlgorithm = errors.New("token must be signed with HS256")
	ErrExpired   = errors.New("token expired")
	ErrNotYet    = errors.New("token not valid yet")
	ErrIssuer    = errors.New("token issued by an unknown API key")
	ErrIdentity  = errors.New("token has no identity")
	ErrNoGrant   = errors.New("token grants nothing")
)

// KeyProvider verifies and mints tokens for one API key and secret.
type KeyProvider struct {
	APIKey    string
	APISecret string
	// Leeway tolerates small clock differences between minter and server.
	Leeway time.Duration
}

// TokenOptions describe a token to mint.
type TokenOptions struct {
	Identity string
	Name     string
	Grant    VideoGrant
	TTL      time.Duration
	// NotBefore defaults to now.
	NotBefore time.Time
}

// Mint returns a signed token.
func (k KeyProvider) Mint(o TokenOptions) (string, error) {
	if o.Identity == "" {
		return "", ErrIdentity
	}
	if o.TTL <= 0 {
		o.TTL = 6 * time.Hour
	}
	nbf := o.NotBefore
	if nbf.IsZero() {
		nbf = time.Now()
	}
	g := o.Grant
	c := Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    k.APIKey,
			Subject:   o.Identity,
			ID:        o.Identity,
			NotBefore: jwt.NewNumericDate(nbf),
			ExpiresAt: jwt.NewNumericDate(nbf.Add(o.TTL)),
		},
		Name:  o.Name,
		Video: &g,
	}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString([]byte(k.APISecret))
}

// Verify parses and checks a token: HS256 only, signed with our secret,
// issued by our API key, inside its validity window, naming an identity.
func (k KeyProvider) Verify(token string) (Identity, error) {
	if token == "" {
		return Identity{}, ErrMissing
	}
	var c Claims
	p := jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithLeeway(k.Leeway),
		jwt.WithExpirationRequired(),
	)
	_, err := p.ParseWithClaims(token, &c, func(t *jwt.Token) (any, error) {
		return []byte(k.APISecret), nil
	})
	switch {
	case err == nil:
	case errors.Is(err, jwt.ErrTokenExpired):
		return Identity{}, ErrExpired
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return Identity{}, ErrNotYet
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		if strings.Contains(err.Error(), "signing method") {
			return Identity{}, ErrAlgorithm
		}
		return Identity{}, ErrSignature
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		return Identity{}, ErrAlgorithm
	case errors.Is(err, jwt.ErrTokenMalformed):
		return Identity{}, ErrMalformed
	default:
		return Identity{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if c.Issuer != k.APIKey {
		return Identity{}, ErrIssuer
	}
	if c.Subject == "" {
		return Identity{}, ErrIdentity
	}
	if c.Video == nil {
		return Identity{}, ErrNoGrant
	}
	id := Identity{Identity: c.Subject, Name: c.Name, Grant: *c.Video}
	if c.ExpiresAt != nil {
		id.Expiry = c.ExpiresAt.Time
	}
	return id, nil
}

// FromRequest takes the token from an `Authorization: Bearer` header or, for
// browsers that cannot set headers on a WebSocket, the access_token query
// parameter.
func FromRequest(r *http.Request) string {
	if h := r.Header.Get("Authorization"); h != "" {
		if t, ok := strings.CutPrefix(h, "Bearer "); ok {
			return strings.TrimSpace(t)
		}
	}
	return r.URL.Query().Get("access_token")
}
