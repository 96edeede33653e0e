// Package api is the recorder's HTTP API: post-meeting reads for room
// admins (meetings, sessions, messages, search), the RealtimeKit
// compatible chat-replay endpoints and the signed CSV download they hand
// out (streamed by recorder/export). Register adds exactly these patterns
// to the server's mux, and the attachment endpoints of
// recorder/attachments. docs/api.md documents every endpoint.
//
// Admin endpoints take `Authorization: Bearer <token>` whose grant has
// roomAdmin (401 missing or invalid token, 403 no roomAdmin). A token whose
// grant names a room sees only that room's meetings; one without a room
// sees all. Answers use RealtimeKit's envelope (recorder/envelope).
package api
