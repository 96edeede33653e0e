// Package client is the Go client of Backchannel: it joins a room with an
// access token like a browser does (WebSocket signaling, a publisher and a
// subscriber PeerConnection), publishes tracks, receives remote tracks and
// sends and receives bytes on the reliable `chat` data channel with flow
// control, mutes its own tracks and hears of others' mutes and of the active
// speakers. Tests, `backchannel bench` and bots use it.
package client
