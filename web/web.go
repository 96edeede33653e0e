package web

import (
	"embed"
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
// app.js (the page, with its parts dom.js, state.js, chat-list.js and
// chat-compose.js), backchannel.js (the client module other web apps can
// import, with its parts receive.js, send.js, devices.js, api.js and
// util.js) and style.css.
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
