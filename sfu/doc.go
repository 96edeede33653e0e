// Package sfu holds rooms of Pion PeerConnections. Each participant has two:
// a publisher connection (the client offers: its camera, microphone and the
// reliable `chat` data channel) and a subscriber connection (the server
// offers: everyone else's tracks). Media is forwarded RTP packet by packet
// with pion/interceptor providing NACK, RTCP reports and TWCC; chat bytes are
// handed to the chat package through chat.Service and written back through a
// bounded queue and a writer goroutine per recipient, so that one slow
// receiver never delays the others.
package sfu
