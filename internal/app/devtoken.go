package app

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/backchannel-rtc/backchannel/auth"
)

// devToken mints a token for the browser client's join page. It exists only
// in --dev: in production the page takes a token from its URL fragment and
// the server never mints one unasked.
func (a *App) devToken(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	room := strings.TrimSpace(q.Get("room"))
	name := strings.TrimSpace(q.Get("name"))
	identity := strings.TrimSpace(q.Get("identity"))
	if identity == "" {
		identity = name
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if room == "" || identity == "" || len(room) > 128 || len(identity) > 128 || len(name) > 128 {
		w.WriteHeader(http.StatusBadRequest)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": "bad_request", "reason": "room and name (1-128 characters) are required"})
		return
	}
	tok, err := a.Keys.Mint(auth.TokenOptions{
		Identity: identity, Name: name, TTL: 6 * time.Hour,
		Grant: auth.VideoGrant{Room: room, RoomJoin: true, RoomAdmin: q.Get("admin") == "1"},
	})
	if err != nil {
		w.WriteHeader(http.StatusInternalServerError)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": "internal", "reason": err.Error()})
		return
	}
	_ = json.NewEncoder(w).Encode(map[string]string{"token": tok, "identity": identity, "room": room})
}
