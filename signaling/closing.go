package signaling

import (
	"io"
	"time"
)

// lingeringClose closes the socket once the peer has had the chance to
// read everything written to it. Closing a TCP socket whose peer has sent
// data not yet read makes the kernel reset the connection, and a reset
// throws away what the peer had received and not yet read: the messages
// just before the close (an error, a leave) would be lost. So the sending
// side is shut first (the peer reads everything, then end of stream), and
// the socket is closed when the read loop has seen the peer close, or
// after lingerTime.
func (c *conn) lingeringClose() {
	if hc, ok := c.ws.NetConn().(interface{ CloseWrite() error }); ok {
		_ = hc.CloseWrite()
	}
	t := time.NewTimer(lingerTime)
	select {
	case <-c.readDone:
	case <-t.C:
	}
	t.Stop()
	c.ws.Close()
}

// drain reads and discards what the peer still sends after the read loop
// has stopped, until the peer closes, lingerBytes have been read, or the
// write loop closes the socket (lingerTime after its close frame: the
// time counts from there, not from here, as the write loop may still be
// flushing to a slow reader).
func (c *conn) drain() {
	defer close(c.readDone)
	_ = c.ws.SetReadDeadline(time.Time{})
	c.ws.SetPongHandler(nil)
	budget := int64(lingerBytes)
	for budget > 0 {
		_, r, err := c.ws.NextReader()
		if err != nil {
			return
		}
		n, err := io.Copy(io.Discard, io.LimitReader(r, budget))
		budget -= n
		if err != nil {
			return
		}
	}
}
