package sfu

import (
	"fmt"
	"log/slog"
	"net"

	"github.com/pion/ice/v4"
	"github.com/pion/logging"
	"github.com/pion/webrtc/v4"

	"github.com/backchannel-rtc/backchannel/internal/logs"
	"github.com/backchannel-rtc/backchannel/internal/rtcsetup"
	"github.com/backchannel-rtc/backchannel/protocol"
)

// Config describes the media transport of a server.
type Config struct {
	// UDPAddr is the one UDP address every peer shares through Pion's ICE
	// UDP mux, e.g. ":7882" (tests: "127.0.0.1:0").
	UDPAddr string
	// TCPAddr is the ICE-TCP fallback for networks that block UDP, e.g.
	// ":7881"; empty turns it off.
	TCPAddr string
	// NAT1To1IPs are public addresses announced instead of the host's (a
	// server behind 1:1 NAT, such as a cloud VM).
	NAT1To1IPs []string
	// ICEServers (STUN/TURN) are handed to clients in `joined`.
	ICEServers []protocol.ICEServer
	// LoopbackOnly gathers candidates on the loopback interface only: tests
	// and benchmarks that must not touch any other network.
	LoopbackOnly bool
	// QueueLen bounds each recipient's chat send queue, in messages;
	// QueueBytes in bytes. When either is full, further messages for that
	// recipient are dropped and counted, and the chat module is told once
	// the queue drains so it can tell the client to catch up from history.
	QueueLen   int
	QueueBytes int
	// HighWater is how much may sit unsent in a data channel's SCTP buffer
	// before its writer waits for it to drain.
	HighWater int
	Logger    *slog.Logger
	// LoggerFactory is where Pion logs (default: into Logger, through
	// internal/logs, with Pion's info and warnings demoted to debug).
	LoggerFactory logging.LoggerFactory
}

func (c *Config) defaults() {
	if c.UDPAddr == "" {
		c.UDPAddr = ":7882"
	}
	if c.QueueLen <= 0 {
		c.QueueLen = 4096
	}
	if c.QueueBytes <= 0 {
		c.QueueBytes = 8 << 20
	}
	if c.HighWater <= 0 {
		c.HighWater = 1 << 20
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.LoggerFactory == nil {
		c.LoggerFactory = logs.Pion(c.Logger)
	}
}

// rtcTransport is the Pion API shared by every PeerConnection of a server,
// with the sockets it owns.
type rtcTransport struct {
	api     *webrtc.API
	udpConn *net.UDPConn
	tcpLn   net.Listener
	udpMux  ice.UDPMux
	tcpMux  ice.TCPMux
}

func newTransport(cfg Config) (*rtcTransport, error) {
	t := &rtcTransport{}
	udpAddr, err := net.ResolveUDPAddr("udp", cfg.UDPAddr)
	if err != nil {
		return nil, fmt.Errorf("rtc udp address: %w", err)
	}
	if t.udpConn, err = net.ListenUDP("udp", udpAddr); err != nil {
		return nil, fmt.Errorf("rtc udp port: %w", err)
	}
	rtcsetup.SetBuffers(t.udpConn, rtcsetup.SocketBuffer)
	t.udpMux = webrtc.NewICEUDPMux(cfg.LoggerFactory.NewLogger("ice"), t.udpConn)

	se := webrtc.SettingEngine{LoggerFactory: cfg.LoggerFactory}
	// Accept messages up to protocol.MaxDataMessage, so an oversized chat packet gets
	// the chat protocol's error instead of failing in SCTP.
	se.SetSCTPMaxMessageSize(protocol.MaxDataMessage)
	// What a client may have in flight towards us: enough for full speed
	// on any real path, small enough that a flooding client (whose reader
	// chat holds back) cannot make the server decrypt and buffer megabytes.
	se.SetSCTPMaxReceiveBufferSize(512 << 10)
	se.SetICEUDPMux(t.udpMux)
	types := []webrtc.NetworkType{webrtc.NetworkTypeUDP4, webrtc.NetworkTypeUDP6}
	if cfg.TCPAddr != "" {
		ln, err := net.Listen("tcp", cfg.TCPAddr)
		if err != nil {
			t.udpConn.Close()
			return nil, fmt.Errorf("rtc tcp port: %w", err)
		}
		t.tcpLn = ln
		t.tcpMux = webrtc.NewICETCPMux(cfg.LoggerFactory.NewLogger("ice"), ln, 32)
		se.SetICETCPMux(t.tcpMux)
		types = append(types, webrtc.NetworkTypeTCP4, webrtc.NetworkTypeTCP6)
	}
	se.SetNetworkTypes(types)
	if len(cfg.NAT1To1IPs) > 0 {
		// Host candidates carry the public addresses instead of the local
		// ones (a server behind 1:1 NAT).
		if err := se.SetICEAddressRewriteRules(webrtc.ICEAddressRewriteRule{
			External: cfg.NAT1To1IPs, AsCandidateType: webrtc.ICECandidateTypeHost,
			Mode: webrtc.ICEAddressRewriteReplace,
		}); err != nil {
			t.close()
			return nil, err
		}
	}
	if cfg.LoopbackOnly || isLoopback(cfg.UDPAddr) {
		rtcsetup.LoopbackOnly(&se)
	}
	// Detached channels, the ICE timers, NACK, RTCP reports and TWCC: the
	// same as the Go client's.
	if t.api, err = rtcsetup.NewAPI(&se); err != nil {
		t.close()
		return nil, err
	}
	return t, nil
}

func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (t *rtcTransport) close() {
	if t.udpMux != nil {
		t.udpMux.Close()
	}
	if t.tcpMux != nil {
		t.tcpMux.Close()
	}
	if t.udpConn != nil {
		t.udpConn.Close()
	}
	if t.tcpLn != nil {
		t.tcpLn.Close()
	}
}
