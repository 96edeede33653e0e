// Package signaling is the WebSocket endpoint (/v1/rtc): it authenticates
// the access token before the upgrade, then speaks the JSON protocol of
// docs/protocol.md (messages defined in package protocol, as
// protocol.Signal): join, offer/answer, trickle ICE, events, keepalive and
// leave. Each socket has one reader and one writer goroutine; the SFU talks
// back through a non-blocking Signaler.
package signaling
