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

// dataConn is a participant's chat channel: it implements chat.Conn. When
// nothing is queued and SCTP holds less than HighWater, Send hands the bytes
// to SCTP at once (SCTP only queues them and wakes its own write loop), so a
// delivery costs no goroutine wake-up of ours. Otherwise sends go into a
// bounded queue that one writer goroutine drains, waiting while SCTP holds
// more than HighWater unsent bytes, so a slow receiver only ever fills its
// own queue. When the queue is full the message is dropped for
// this recipient only and counted; once the queue has drained the chat
// session is told (Session.Overflowed) so that the client is asked to catch
// up from history. Nothing is lost for good: every message is in the
// recorder.
type dataConn struct {
	p       *Participant
	dc      *webrtc.DataChannel
	raw     datachannel.ReadWriteCloser
	session chat.Session

	// The queue grows as needed up to maxLen messages or maxBytes, so an
	// idle participant costs nothing; the writer swaps it out whole and
	// writes the batch, one wake-up for many messages.
	mu        sync.Mutex
	wmu       sync.Mutex // held by whoever writes to raw: keeps order
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
	// Fast path. Order holds: the writer takes a batch only while holding
	// wmu, so an empty queue with wmu free means nothing earlier is unsent.
	if len(d.queue) == 0 && d.wmu.TryLock() {
		if d.dc.BufferedAmount() <= d.highWater {
			d.mu.Unlock()
			d.write(b)
			d.wmu.Unlock()
			return true
		}
		d.wmu.Unlock()
	}
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
	defer d.p.Remove("chat channel closed")
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
		d.wmu.Lock()
		d.mu.Lock()
		batch := d.queue
		d.queue, d.spare = d.spare[:0], nil
		d.queued = 0
		d.mu.Unlock()
		for i, b := range batch {
			if !d.waitDrained() {
				d.wmu.Unlock()
				return
			}
			d.unsent.Add(-1)
			batch[i] = nil // let the bytes go
			if !d.write(b) {
				d.wmu.Unlock()
				return
			}
		}
		d.wmu.Unlock()
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

// write hands b to SCTP; the caller holds wmu.
func (d *dataConn) write(b []byte) bool {
	if _, err := d.raw.Write(b); err != nil {
		return false // the association is gone: readLoop removes us
	}
	metricDataOut.Inc()
	metricDataBytesOut.Add(float64(len(b)))
	return true
}

// waitDrained waits while SCTP holds more than the high-water mark.
func (d *dataConn) waitDrained() bool {
	for d.dc.BufferedAmount() > d.highWater {
		select {
		case <-d.low:
		case <-time.After(50 * time.Millisecond):
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
