package app_test

import (
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/backchannel-rtc/backchannel/internal/app"
	"github.com/backchannel-rtc/backchannel/protocol"
)

// TestSignalingStrictness (issue 20, finding 7): a join with a field a
// client never sends is refused; two different tokens (Authorization header
// and ?access_token=) are refused before the upgrade, the same token twice
// is fine; an unsolicited answer in stable state gets an error each time,
// no new offer, and no warning in the log.
func TestSignalingStrictness(t *testing.T) {
	logs := &lineCounterApp{}
	a := startServer(t, newRelay(), func(c *app.Config) { c.Logger = slog.New(logs) })
	tokA, _ := a.Token("r", "alice", "", false)
	tokB, _ := a.Token("r", "bob", "", false)

	t.Run("two tokens", func(t *testing.T) {
		ws, status, body := dial(t, a, tokA, http.Header{"Authorization": {"Bearer " + tokB}})
		if ws != nil {
			ws.Close()
			t.Fatal("upgraded with two different tokens")
		}
		if status != http.StatusBadRequest || body["error"] != "bad_request" {
			t.Fatalf("got %d %v, want 400 bad_request", status, body)
		}
		ws, _, _ = dial(t, a, tokA, http.Header{"Authorization": {"Bearer " + tokA}})
		if ws == nil {
			t.Fatal("the same token twice was refused")
		}
		ws.Close()
	})

	read := func(ws *websocket.Conn) protocol.Signal {
		t.Helper()
		var m protocol.Signal
		_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
		if err := ws.ReadJSON(&m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	t.Run("join with an unknown field", func(t *testing.T) {
		ws := dialAs(t, a, "r", "carol")
		if err := ws.WriteMessage(websocket.TextMessage, []byte(`{"type":"join","identity":"x"}`)); err != nil {
			t.Fatal(err)
		}
		if m := read(ws); m.Type != protocol.SignalError || m.Code != "bad_message" {
			t.Fatalf("got %+v, want a bad_message error", m)
		}
	})

	t.Run("unsolicited answers", func(t *testing.T) {
		ws := joinSocket(t, a, "r", "dave")
		before := logs.n.Load()
		for range 50 {
			if err := ws.WriteJSON(protocol.Signal{Type: protocol.SignalAnswer, Target: "subscriber", SDP: "v=0\r\n"}); err != nil {
				t.Fatal(err)
			}
		}
		errs := 0
		for errs < 50 {
			m := read(ws)
			switch {
			case m.Type == protocol.SignalError && m.Code == "bad_answer":
				errs++
			case m.Type == protocol.SignalOffer:
				t.Fatal("an unsolicited answer started a renegotiation")
			}
		}
		if n := logs.n.Load() - before; n > 2 {
			t.Fatalf("%d log lines for 50 unsolicited answers", n)
		}
	})
}
