// Package protocol holds what travels on the wire between a Backchannel
// server and its clients (docs/protocol.md): the signaling messages of the
// WebSocket at /v1/rtc, the packets of the `chat` data channel and the
// message object they carry, the data-channel label, the limits and the
// error codes.
//
// Both sides share these types, so the JSON a server writes and a client
// reads come from one definition. The package imports nothing of the
// project's and nothing beyond the standard library: the server's packages
// (chat, signaling, sfu) and the Go client all import it, and a bot that
// imports the client pulls in none of the server.
package protocol
