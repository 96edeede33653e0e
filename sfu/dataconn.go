package sfu

import (
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/datachannel"
	"github.com/pion/webrtc/v4"

	"github.com/backchannel-rtc/backchannel/auth"
	"github.com/backchannel-rtc/backchannel/chat"
	"github.com/backchannel-rtc/backchannel/protocol"
)

// readBuffer is the usual read buffer; larger messages are read whole
// into a one-off buffer of protocol.MaxDataMessage.
const readBuffer = 16 << 10

// dataConn is a participant's chat channel: it implements chat.Conn. Send
// only appends the bytes to a bounded queue and wakes this connection's
// writer goroutine, which alone writes to SCTP (as Galene's clientWriter
// and LiveKit's data-channel writer do): chat calls Send with its room's
// lock held, so no network I/O, and no lock SCTP takes, ever runs under
// that lock, and one recipient's stalled association costs only its own
// writer. The writer waits while SCTP holds more than HighWater unsent
// bytes (SCTP's buffered-amount-low callback wakes it), so a slow receiver
// only ever fills its own queue. When the queue is full the message is
// dropped for this recipient only and counted; once the queue has drained
// the chat session is told (Session.Overflowed) so that the client is asked
// to catch up from history. Nothing is lost for good: every message is in
// the recorder.
type dataConn struct {
	p       *Participant
	dc      *webrtc.DataChannel
	raw     datachannel.ReadWriteCloser
	session chat.Session

	// The queue grows as needed up to maxLen messages or maxBytes, so an
	// idle participant costs nothing; the writer swaps it out whole and
	// writes the batch, one wake-up for many messages. mu guards the queue
	// only and is never held during I/O.
	mu        sync.Mutex
	queue     [][]byte
	spare     [][]byte // the writer's drained slice, reused
	queued    int64    // bytes in queue
	maxLen    int
	maxBytes  int64
	unsent    atomic.Int64 // messages accepted by Send and not yet written
	highWater uint64
	dropped   atomic.Int64
	ready     chan struct{} // cap 1: the queue is not empty
	low       chan struct{}
	done      chan struct{}
	closeOnce sync.Once
	wg        sync.WaitGroup
}

func (p *Participant) onDataChannel(dc *webrtc.DataChannel) {
	if dc.Label() != protocol.ChatLabel || !dc.Ordered() || dc.MaxRetransmits() != nil || dc.MaxPacketLifeTime() != nil {
		// Chat must be reliable and ordered; nothing else is carried.
		_ = dc.Close()
		return
	}
	dc.OnOpen(func() {
		raw, err := dc.Detach()
		if err != nil {
			p.s.log.Warn("detach data channel", "err", err)
			return
		}
		d := &dataConn{
			p: p, dc: dc, raw: raw,
			maxLen:    p.s.cfg.QueueLen,
			ready:     make(chan struct{}, 1),
			maxBytes:  int64(p.s.cfg.QueueBytes),
			highWater: uint64(p.s.cfg.HighWater),
			low:       make(chan struct{}, 1),
			done:      make(chan struct{}),
		}
		dc.SetBufferedAmountLowThreshold(d.highWater / 2)
		dc.OnBufferedAmountLow(func() {
			select {
			case d.low <- struct{}{}:
			default:
			}
		})
		// Attach before publishing d, so close() never sees it half built.
		d.session = p.s.chat.Attach(p.room.name, d)
		d.wg.Add(2)
		p.mu.Lock()
		if p.closed || p.data != nil {
			p.mu.Unlock()
			d.wg.Add(-2)
			_ = raw.Close()
			d.session.Detach()
			return
		}
		p.data = d
		p.mu.Unlock()
		go d.readLoop()
		go d.writeLoop()
	})
}

// ID implements chat.Conn.
func (d *dataConn) ID() string { return d.p.id }

// Lost implements chat.Departure: the participant was closed without
// leaving (lost connection, replaced by a newer one of the same identity).
func (d *dataConn) Lost() bool {
	d.p.mu.Lock()
	defer d.p.mu.Unlock()
	return d.p.lost
}

// Who implements chat.Conn.
func (d *dataConn) Who() auth.Identity { return d.p.who }

// Close implements chat.Conn: the participant is removed from the room.
func (d *dataConn) Close(reason string) { d.p.Remove(reason) }

// Send implements chat.Conn. It never blocks.
func (d *dataConn) Send(b []byte) bool {
	select {
	case <-d.done:
		return false
	default:
	}
	d.mu.Lock()
	if len(d.queue) >= d.maxLen || d.queued+int64(len(b)) > d.maxBytes {
		d.mu.Unlock()
		d.drop()
		return false
	}
	d.queue = append(d.queue, b)
	d.queued += int64(len(b))
	d.unsent.Add(1)
	d.mu.Unlock()
	select {
	case d.ready <- struct{}{}:
	default:
	}
	return true
}

func (d *dataConn) drop() {
	d.dropped.Add(1)
	metricDataDropped.Inc()
}

func (d *dataConn) readLoop() {
	defer d.wg.Done()
	// A channel the peer closed cleanly (io.EOF: its stream was reset or
	// its connection closed) is its own doing, as when a client sends
	// leave and closes at once and the close arrives first: announced at
	// once. Any other end counts as a lost connection, which chat gives
	// its leave grace.
	var readErr error
	defer func() {
		if errors.Is(readErr, io.EOF) {
			d.p.closedByPeer("chat channel closed")
		} else {
			d.p.drop("chat channel closed")
		}
	}()
	// Chat packets are small (2,000 runes of text at most): 16 KiB holds
	// any honest one and costs 100 participants 1.6 MB rather than 6.4.
	buf := make([]byte, readBuffer)
	for {
		// SCTP hands out what it buffered even after the channel is
		// closed: stop at close rather than work through a flooder's
		// backlog at its rate limit.
		select {
		case <-d.done:
			return
		default:
		}
		n, err := d.raw.Read(buf)
		if errors.Is(err, io.ErrShortBuffer) {
			// Larger than the usual buffer (the message stays queued in
			// SCTP): read it whole into a one-off buffer so that chat can
			// answer with a proper error instead of the stream stalling.
			big := make([]byte, protocol.MaxDataMessage)
			if n, err = d.raw.Read(big); err == nil {
				metricDataIn.Inc()
				metricDataBytesIn.Add(float64(n))
				d.session.Receive(big[:n])
				continue
			}
		}
		if err != nil {
			readErr = err
			return
		}
		metricDataIn.Inc()
		metricDataBytesIn.Add(float64(n))
		// chat may keep the slice; hand it a copy it owns.
		msg := make([]byte, n)
		copy(msg, buf[:n])
		d.session.Receive(msg)
	}
}

func (d *dataConn) writeLoop() {
	defer d.wg.Done()
	for {
		select {
		case <-d.done:
			return
		case <-d.ready:
		}
		d.mu.Lock()
		batch := d.queue
		d.queue, d.spare = d.spare[:0], nil
		d.queued = 0
		d.mu.Unlock()
		for i, b := range batch {
			if !d.waitDrained() {
				return
			}
			d.unsent.Add(-1)
			batch[i] = nil // let the bytes go
			if !d.write(b) {
				return
			}
		}
		d.mu.Lock()
		if cap(batch) <= 256 {
			d.spare = batch[:0] // keep a small slice; let a big one go
		}
		empty := len(d.queue) == 0
		d.mu.Unlock()
		if empty {
			if n := d.dropped.Swap(0); n > 0 {
				d.session.Overflowed(int(n))
			}
		}
	}
}

// write hands b to SCTP; only the writer goroutine calls it.
func (d *dataConn) write(b []byte) bool {
	if _, err := d.raw.Write(b); err != nil {
		return false // the association is gone: readLoop removes us
	}
	metricDataOut.Inc()
	metricDataBytesOut.Add(float64(len(b)))
	return true
}

// waitDrained waits while SCTP holds more than the high-water mark. The
// threshold callback fires when the amount falls to HighWater/2, below
// anything this loop waits on, so no crossing is missed; a signal left from
// an earlier crossing only costs one more look.
func (d *dataConn) waitDrained() bool {
	for d.dc.BufferedAmount() > d.highWater {
		select {
		case <-d.low:
		case <-d.done:
			return false
		}
	}
	return true
}

// flush gives the writer up to timeout to send what is queued, so that a
// final notice (you were removed, the server is going away) arrives before
// the channel closes.
func (d *dataConn) flush(timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for (d.unsent.Load() > 0 || d.dc.BufferedAmount() > 0) && time.Now().Before(deadline) {
		select {
		case <-d.done:
			return
		case <-time.After(5 * time.Millisecond):
		}
	}
}

func (d *dataConn) close() {
	d.closeOnce.Do(func() {
		close(d.done)
		_ = d.raw.Close()
		d.wg.Wait()
		d.session.Detach()
	})
}
