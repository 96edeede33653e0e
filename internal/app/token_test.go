package app_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/backchannel-rtc/backchannel/auth"
	"github.com/backchannel-rtc/backchannel/client"
	"github.com/backchannel-rtc/backchannel/internal/app"
	"github.com/backchannel-rtc/backchannel/protocol"
)

// dial opens the signaling socket by hand, to see the HTTP refusal.
func dial(t *testing.T, a *app.App, token string, header http.Header) (*websocket.Conn, int, map[string]string) {
	t.Helper()
	u := "ws://" + a.Addr().String() + "/v1/rtc"
	if token != "" {
		u += "?access_token=" + token
	}
	ws, resp, err := websocket.DefaultDialer.Dial(u, header)
	if err == nil {
		return ws, http.StatusSwitchingProtocols, nil
	}
	if resp == nil {
		t.Fatal(err)
	}
	var body map[string]string
	_ = json.NewDecoder(resp.Body).Decode(&body)
	return nil, resp.StatusCode, body
}

// dialAs opens a signaling socket for identity in room by hand (closed
// when the test ends), without joining.
func dialAs(t *testing.T, a *app.App, room, identity string) *websocket.Conn {
	t.Helper()
	tok, err := a.Token(room, identity, "", false)
	if err != nil {
		t.Fatal(err)
	}
	ws, _, _ := dial(t, a, tok, nil)
	if ws == nil {
		t.Fatal("refused")
	}
	t.Cleanup(func() { ws.Close() })
	return ws
}

// joinSocket is dialAs, then join, read up to joined.
func joinSocket(t *testing.T, a *app.App, room, identity string) *websocket.Conn {
	t.Helper()
	ws := dialAs(t, a, room, identity)
	if err := ws.WriteJSON(protocol.Signal{Type: protocol.SignalJoin}); err != nil {
		t.Fatal(err)
	}
	for {
		var m protocol.Signal
		_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
		if err := ws.ReadJSON(&m); err != nil {
			t.Fatalf("%s: %v", identity, err)
		}
		if m.Type == protocol.SignalJoined {
			return ws
		}
	}
}

func TestSocketRefusesBadTokens(t *testing.T) {
	a := startServer(t, newRelay(), nil)
	grant := auth.VideoGrant{Room: "r", RoomJoin: true}
	mint := func(k auth.KeyProvider, o auth.TokenOptions) string {
		tok, err := k.Mint(o)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	good := mint(a.Keys, auth.TokenOptions{Identity: "a", Grant: grant})
	p := strings.Split(good, ".")
	algNone := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + p[1] + "."
	other := auth.KeyProvider{APIKey: a.Keys.APIKey, APISecret: "not-the-server-secret-0000"}

	cases := []struct {
		name, token, reason string
		status              int
	}{
		{"missing", "", "missing token", 401},
		{"expired", mint(a.Keys, auth.TokenOptions{Identity: "a", Grant: grant, NotBefore: time.Now().Add(-2 * time.Hour), TTL: time.Hour}), "token expired", 401},
		{"forged", p[0] + "." + p[1] + ".AAAA" + p[2][4:], "invalid token signature", 401},
		{"alg none", algNone, "token must be signed with HS256", 401},
		{"other secret", mint(other, auth.TokenOptions{Identity: "a", Grant: grant}), "invalid token signature", 401},
		{"no roomJoin", mint(a.Keys, auth.TokenOptions{Identity: "a", Grant: auth.VideoGrant{Room: "r"}}), "the token does not grant joining a room", 403},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ws, status, body := dial(t, a, c.token, nil)
			if ws != nil {
				ws.Close()
				t.Fatal("upgraded")
			}
			if status != c.status || body["reason"] != c.reason {
				t.Fatalf("got %d %v, want %d %q", status, body, c.status, c.reason)
			}
		})
	}

	t.Run("origin not allowed", func(t *testing.T) {
		h := http.Header{"Origin": {"https://evil.example"}}
		if ws, status, _ := dial(t, a, good, h); ws != nil || status != 403 {
			t.Fatalf("status %d", status)
		}
	})
	t.Run("bearer header accepted", func(t *testing.T) {
		u := "ws://" + a.Addr().String() + "/v1/rtc"
		ws, _, err := websocket.DefaultDialer.Dial(u, http.Header{"Authorization": {"Bearer " + good}})
		if err != nil {
			t.Fatal(err)
		}
		ws.Close()
	})
}

func TestSignalingErrorsKeepSocket(t *testing.T) {
	a := startServer(t, newRelay(), nil)
	tok, _ := a.Token("r", "a", "", false)
	ws, _, _ := dial(t, a, tok, nil)
	if ws == nil {
		t.Fatal("refused")
	}
	defer ws.Close()
	expect := func(typ string, code protocol.Code) {
		t.Helper()
		var m protocol.Signal
		_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
		if err := ws.ReadJSON(&m); err != nil {
			t.Fatal(err)
		}
		if m.Type != typ || m.Code != code {
			t.Fatalf("got %+v, want %s %s", m, typ, code)
		}
	}
	for _, bad := range []string{`{`, `{"type":"join","sender":"x"}`, `{"type":"nope"}`, `[1,2]`} {
		_ = ws.WriteMessage(websocket.TextMessage, []byte(bad))
		expect(protocol.SignalError, "bad_message")
	}
	_ = ws.WriteJSON(protocol.Signal{Type: protocol.SignalJoin})
	expect(protocol.SignalJoined, "")
	_ = ws.WriteJSON(protocol.Signal{Type: protocol.SignalPing, Timestamp: 42})
	expect(protocol.SignalPong, "")
	_ = ws.WriteJSON(protocol.Signal{Type: protocol.SignalOffer, SDP: "v=0 garbage"})
	expect(protocol.SignalError, "bad_offer")
}

func TestSameIdentityReplacesEarlierConnection(t *testing.T) {
	a := startServer(t, newRelay(), nil)
	var ev events
	first := join(t, a, "r", "alice", client.Options{})
	other := join(t, a, "r", "bob", client.Options{OnEvent: ev.add})
	second := join(t, a, "r", "alice", client.Options{})
	select {
	case <-first.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the first connection was not ended")
	}
	if first.Reason() != "replaced by a newer connection" {
		t.Fatalf("reason %q", first.Reason())
	}
	if _, ps := a.SFU.Counts(); ps != 2 {
		t.Fatalf("%d participants, want 2", ps)
	}
	// bob never saw alice leave: she is still there.
	time.Sleep(200 * time.Millisecond)
	if ev.has(protocol.SignalParticipantLeft, "alice") {
		t.Fatal("bob was told alice left")
	}
	_ = other
	_ = second
}

func TestPublishWithoutGrantRefused(t *testing.T) {
	a := startServer(t, newRelay(), nil)
	tok, _ := a.Keys.Mint(auth.TokenOptions{Identity: "viewer", Grant: auth.VideoGrant{Room: "r", RoomJoin: true, CanPublish: auth.Bool(false)}})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Join(ctx, a.URL(), tok, client.Options{LoopbackOnly: true})
	if err != nil {
		t.Fatal(err) // joining and chat are allowed
	}
	defer c.Close()
	err = c.SyntheticMedia(ctx)
	if err == nil || !strings.Contains(err.Error(), "forbidden") {
		t.Fatalf("publishing without canPublish: %v", err)
	}
	var re *client.RefusedError
	_, err = client.Join(ctx, a.URL(), "garbage", client.Options{LoopbackOnly: true})
	if !errors.As(err, &re) || re.Status != 401 {
		t.Fatalf("bad token join: %v", err)
	}
}
