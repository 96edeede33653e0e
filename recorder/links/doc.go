// Package links makes and checks the recorder's signed, expiring URLs: the
// chat-replay CSV download and attachment downloads are plain GETs that
// carry their own authorisation (?exp=&sig=), so they can be handed to a
// browser, a spreadsheet, a backend job or a webhook receiver, and are
// checked by the same code whoever made them.
//
// sig is base64url(HMAC-SHA256(key, fields)) where key is derived from the
// API secret (so a URL signature can never double as a token signature),
// and fields are length-prefixed so no two field lists collide.
package links
