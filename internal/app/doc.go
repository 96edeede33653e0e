// Package app wires the server together: the SFU, the chat service, the
// signaling endpoint, the web client, health and metrics on one HTTP
// listener. The binary (cmd/backchannel) and the in-process integration
// tests both start servers through it, so the tests run exactly what ships.
package app
