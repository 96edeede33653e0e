// Package sfu holds rooms of Pion PeerConnections. Each participant has two:
// a publisher connection (the client offers: its camera, microphone and the
// reliable `chat` data channel) and a subscriber connection (the server
// offers: everyone else's tracks). Media is forwarded RTP packet by packet
// with pion/interceptor providing NACK, RTCP reports and TWCC; chat bytes are
// handed to the chat package through chat.Service and written back straight
// to SCTP while a recipient keeps up, else through that recipient's bounded
// queue and writer goroutine, so that one slow receiver never delays the
// others. While forwarding audio it reads each packet's audio level header
// extension, and a per-room loop names the active speakers (speaker.go);
// publishers' track mute states are kept in the track list. The Pion setup it shares with the Go client (ICE timers,
// interceptors that tick only once there is media, socket buffers) is in
// internal/rtcsetup.
package sfu
