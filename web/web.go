package web

import (
	"embed"
	"fmt"
	"io/fs"
	"net/http"
)

//go:embed static
var static embed.FS

// contentSecurityPolicy allows the page only its own scripts and styles
// (no inline script, no eval), media and images from the server, blob: and
// data: (local previews, icons), and connections to the server itself (the
// signaling WebSocket and the API). Attachment images may come from the
// server's public URL when it differs, so https: images are allowed.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; " +
	"img-src 'self' data: blob: https:; media-src 'self' blob:; connect-src 'self' ws: wss:; " +
	"object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// Handler serves the browser client: index.html (join page and meeting),
// app.js (the page, with its parts: join.js, grid.js, people.js, panel.js,
// chat-list.js, chat-message.js, chat-compose.js, chat-model.js, dom.js and
// state.js), backchannel.js (the client module other web apps can import,
// with its layers connection.js, peers.js, devices.js, api.js, timeline.js,
// send.js and receive.js, and util.js; types.js holds type definitions
// only), style.css and tiles.css (tile and presence states).
// Files are revalidated on every load so that a new
// binary's client is picked up at once.
func Handler() http.Handler {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		panic(err)
	}
	files := http.FileServerFS(sub)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-cache")
		// Camera and microphone for this origin only.
		h.Set("Permissions-Policy", "camera=(self), microphone=(self), display-capture=(self)")
		files.ServeHTTP(w, r)
	})
}

// Config answers GET /v1/config: what the page needs to know before anyone
// joins, namely whether the server mints tokens itself (--dev, at
// /v1/dev/token). It says nothing else, so it needs no token, and it is
// answered 200 in every mode: the page never probes a route that may fail.
func Config(dev bool) http.Handler {
	body := fmt.Sprintf(`{"dev":%t}`+"\n", dev)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Cache-Control", "no-store")
		h.Set("X-Content-Type-Options", "nosniff")
		_, _ = w.Write([]byte(body))
	})
}
