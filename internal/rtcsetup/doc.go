// Package rtcsetup is the Pion configuration the server (sfu) and the Go
// client share, so both ends of a connection run the same timers and
// machinery: the ICE consent and liveness timers, the interceptors (Pion's
// defaults, with the ticking ones started only once there is media), and
// UDP sockets with large buffers. NewAPI puts them together on a
// SettingEngine that each side has filled with its own network choices.
package rtcsetup
