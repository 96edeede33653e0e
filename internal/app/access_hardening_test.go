package app_test

// Tokens and access through the real server (SECURITY.md, "Tokens and
// access"): the refusals that auth/token_test.go checks on Verify, checked
// again at the socket, before the upgrade; a token's room is the only room
// it reaches, on the socket and in the recorder API.

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/backchannel-rtc/backchannel/auth"
	"github.com/backchannel-rtc/backchannel/client"
)

func TestSocketRefusesHostileTokens(t *testing.T) {
	a := startServer(t, newRelay(), nil)
	grant := auth.VideoGrant{Room: "r", RoomJoin: true}
	mint := func(o auth.TokenOptions) string {
		tok, err := a.Keys.Mint(o)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	good := mint(auth.TokenOptions{Identity: "a", Grant: grant, TTL: time.Hour})
	parts := strings.Split(good, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	// The identity changed, the signature kept.
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString(
		[]byte(strings.Replace(string(payload), `"sub":"a"`, `"sub":"admin"`, 1))) + "." + parts[2]
	// The room changed, the signature kept.
	otherRoom := parts[0] + "." + base64.RawURLEncoding.EncodeToString(
		[]byte(strings.Replace(string(payload), `"room":"r"`, `"room":"secret"`, 1))) + "." + parts[2]

	claims := jwt.MapClaims{"iss": a.Keys.APIKey, "sub": "a", "exp": time.Now().Add(time.Hour).Unix(),
		"video": map[string]any{"room": "r", "roomJoin": true}}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := x509.MarshalPKIXPublicKey(&rsaKey.PublicKey)
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub})
	rs256, _ := jwt.NewWithClaims(jwt.SigningMethodRS256, claims).SignedString(rsaKey)
	hsWithPub, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(pubPEM)
	hs512, _ := jwt.NewWithClaims(jwt.SigningMethodHS512, claims).SignedString([]byte(a.Keys.APISecret))
	// alg "none" written in other cases, and "HS256" with an empty signature.
	noneUpper := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"NONE","typ":"JWT"}`)) + "." + parts[1] + "."
	emptySig := parts[0] + "." + parts[1] + "."
	unknownKey := auth.KeyProvider{APIKey: "someone-else", APISecret: a.Keys.APISecret}
	wrongIss, _ := unknownKey.Mint(auth.TokenOptions{Identity: "a", Grant: grant, TTL: time.Hour})
	noSub, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"iss": a.Keys.APIKey,
		"exp": time.Now().Add(time.Hour).Unix(), "video": map[string]any{"room": "r", "roomJoin": true}}).SignedString([]byte(a.Keys.APISecret))
	noRoom := mint(auth.TokenOptions{Identity: "a", Grant: auth.VideoGrant{RoomJoin: true}, TTL: time.Hour})

	cases := []struct {
		name, token, query, reason string
		status                     int
	}{
		{"not yet valid", mint(auth.TokenOptions{Identity: "a", Grant: grant, NotBefore: time.Now().Add(time.Hour), TTL: time.Hour}), "", "token not valid yet", 401},
		{"expired a minute ago", mint(auth.TokenOptions{Identity: "a", Grant: grant, NotBefore: time.Now().Add(-2 * time.Minute), TTL: time.Minute}), "", "token expired", 401},
		{"RS256", rs256, "", "token must be signed with HS256", 401},
		{"HS256 keyed with the RSA public key", hsWithPub, "", "invalid token signature", 401},
		{"HS512", hs512, "", "token must be signed with HS256", 401},
		{"alg NONE", noneUpper, "", "token must be signed with HS256", 401},
		{"empty signature", emptySig, "", "invalid token signature", 401},
		{"tampered identity", tampered, "", "invalid token signature", 401},
		{"tampered room", otherRoom, "", "invalid token signature", 401},
		{"unknown API key", wrongIss, "", "token issued by an unknown API key", 401},
		{"no identity", noSub, "", "token has no identity", 401},
		{"garbage", "a.b.c", "", "malformed token", 401},
		{"no room", noRoom, "", "the token does not grant joining a room", 403},
		{"another room asked for", good, "&room=secret", "the token is for another room", 403},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ws, status, body := dial(t, a, c.token+c.query, nil)
			if ws != nil {
				ws.Close()
				t.Fatal("upgraded")
			}
			if status != c.status || body["reason"] != c.reason {
				t.Fatalf("got %d %v, want %d %q", status, body, c.status, c.reason)
			}
		})
	}
}

// TestTokenRoomIsTheOnlyRoom: a join lands in the token's room whatever
// the URL says.
func TestTokenRoomIsTheOnlyRoom(t *testing.T) {
	a := startServer(t, newRelay(), nil)
	tok, _ := a.Token("mine", "a", "", false)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	c, err := client.Join(ctx, a.URL()+"/v1/rtc?room=mine", tok, client.Options{LoopbackOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.Joined.Room != "mine" {
		t.Fatalf("joined %q", c.Joined.Room)
	}
	_, err = client.Join(ctx, a.URL()+"/v1/rtc?room=theirs", tok, client.Options{LoopbackOnly: true})
	var re *client.RefusedError
	if !errors.As(err, &re) || re.Status != 403 {
		t.Fatalf("?room=theirs: %v", err)
	}
}

// TestAdminAPIRoomScope: an admin token for one room reads nothing of
// another, on every admin endpoint; the webhooks API wants an unscoped admin.
func TestAdminAPIRoomScope(t *testing.T) {
	a := startServer(t, nil, nil)
	alice := join(t, a, "room-a", "alice", client.Options{})
	if err := alice.SendChat([]byte(`{"type":"chat","clientId":"s1","text":"secret of room a"}`)); err != nil {
		t.Fatal(err)
	}
	if err := a.Recorder.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	adminA, _ := a.Token("room-a", "ops-a", "", true)
	adminB, _ := a.Token("room-b", "ops-b", "", true)
	member, _ := a.Token("room-a", "alice", "", false)
	global, _ := a.Keys.Mint(auth.TokenOptions{Identity: "ops", TTL: time.Hour, Grant: auth.VideoGrant{RoomAdmin: true}})

	call := func(path, tok string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest("GET", a.URL()+path, nil)
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var body map[string]any
		_ = json.NewDecoder(res.Body).Decode(&body)
		return res.StatusCode, body
	}
	eventually(t, 10*time.Second, "the message stored", func() bool {
		code, body := call("/v1/meetings?room=room-a", adminA)
		ms, _ := body["data"].(map[string]any)["meetings"].([]any)
		return code == 200 && len(ms) == 1
	})
	_, body := call("/v1/meetings?room=room-a", adminA)
	mid := body["data"].(map[string]any)["meetings"].([]any)[0].(map[string]any)["id"].(string)
	_, body = call("/v1/meetings/"+mid, adminA)
	sid := body["data"].(map[string]any)["sessions"].([]any)[0].(map[string]any)["id"].(string)

	paths := []string{
		"/v1/meetings/" + mid,
		"/v1/meetings/" + mid + "/chat",
		"/v1/meetings/" + mid + "/messages/search?q=secret",
		"/v1/sessions/" + sid + "/messages",
		"/v1/sessions/" + sid + "/chat",
	}
	for _, p := range paths {
		if code, _ := call(p, adminA); code != 200 {
			t.Errorf("%s with room-a's admin: %d", p, code)
		}
		if code, _ := call(p, global); code != 200 {
			t.Errorf("%s with an unscoped admin: %d", p, code)
		}
		if code, body := call(p, adminB); code != 404 || strings.Contains(toJSON(body), "secret of room a") {
			t.Errorf("%s with room-b's admin: %d %v", p, code, body)
		}
		if code, _ := call(p, member); code != 403 {
			t.Errorf("%s without roomAdmin: %d", p, code)
		}
		if code, _ := call(p, ""); code != 401 {
			t.Errorf("%s without a token: %d", p, code)
		}
	}
	if code, _ := call("/v1/meetings?room=room-a", adminB); code != 403 {
		t.Errorf("listing room-a with room-b's admin: %d", code)
	}
	if _, body := call("/v1/meetings", adminB); strings.Contains(toJSON(body), mid) {
		t.Errorf("room-b's admin lists room-a's meeting: %v", body)
	}
	// The webhooks API spans every room: room-scoped admins are refused.
	for _, tok := range []string{adminA, adminB, member} {
		if code, _ := call("/v1/webhooks/deliveries", tok); code != 403 {
			t.Errorf("webhook deliveries with a scoped or non-admin token: %d", code)
		}
	}
}

func toJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
