package rtcsetup

import (
	"net"

	"github.com/pion/transport/v5"
	"github.com/pion/transport/v5/stdnet"
)

// SocketBuffer is the UDP receive and send buffer asked for on every socket
// ICE opens. With the OS default (~208 KiB) loopback bursts drop datagrams
// and SCTP must retransmit; 4 MiB removed every drop we measured. The
// kernel caps it at net.core.{r,w}mem_max.
const SocketBuffer = 4 << 20

// BufferedNet returns a transport.Net whose UDP sockets get size-byte
// buffers. Pion has no direct setting for it, so we wrap the standard net.
func BufferedNet(size int) (transport.Net, error) {
	n, err := stdnet.NewNet()
	if err != nil {
		return nil, err
	}
	return &bufferedNet{Net: n, size: size}, nil
}

type bufferedNet struct {
	*stdnet.Net
	size int
}

func (b *bufferedNet) ListenUDP(network string, addr *net.UDPAddr) (transport.UDPConn, error) {
	c, err := b.Net.ListenUDP(network, addr)
	if err == nil {
		_ = c.SetReadBuffer(b.size)
		_ = c.SetWriteBuffer(b.size)
	}
	return c, err
}

func (b *bufferedNet) ListenPacket(network, address string) (net.PacketConn, error) {
	c, err := b.Net.ListenPacket(network, address)
	if err == nil {
		SetBuffers(c, b.size)
	}
	return c, err
}

// SetBuffers resizes a socket's buffers when it supports it.
func SetBuffers(c any, size int) {
	type buffered interface {
		SetReadBuffer(int) error
		SetWriteBuffer(int) error
	}
	if s, ok := c.(buffered); ok {
		_ = s.SetReadBuffer(size)
		_ = s.SetWriteBuffer(size)
	}
}
