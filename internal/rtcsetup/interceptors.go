package rtcsetup

import (
	"sync"

	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/nack"
	"github.com/pion/interceptor/pkg/report"
	"github.com/pion/webrtc/v4"
)

// RegisterInterceptors registers Pion's default interceptors (NACK
// generator and responder, RTCP sender and receiver reports, stats, TWCC,
// simulcast header extensions), with one change: the three that start a
// ticking goroutine as soon as a PeerConnection exists — the NACK
// generator (every 100 ms), receiver reports and sender reports (every
// second) — start it only once there is a stream for them to work on.
//
// Why: most participants of a meeting with chat are connected with no
// media on one or both of their PeerConnections, and those tickers were
// 24 wake-ups a second per participant doing nothing: at 100 participants
// most of an idle server's CPU. With a stream bound, behaviour is Pion's
// own. The Go client uses it too: a chat bot has no media at all.
func RegisterInterceptors(m *webrtc.MediaEngine, ir *interceptor.Registry) error {
	responder, err := nack.NewResponderInterceptor()
	if err != nil {
		return err
	}
	generator, err := nack.NewGeneratorInterceptor()
	if err != nil {
		return err
	}
	m.RegisterFeedback(webrtc.RTCPFeedback{Type: "nack"}, webrtc.RTPCodecTypeVideo)
	m.RegisterFeedback(webrtc.RTCPFeedback{Type: "nack", Parameter: "pli"}, webrtc.RTPCodecTypeVideo)
	ir.Add(responder)
	ir.Add(lazyTicker{generator, onRemote})

	receiver, err := report.NewReceiverInterceptor()
	if err != nil {
		return err
	}
	sender, err := report.NewSenderInterceptor()
	if err != nil {
		return err
	}
	ir.Add(lazyTicker{receiver, onRemote})
	ir.Add(lazyTicker{sender, onLocal})

	if err := webrtc.ConfigureSimulcastExtensionHeaders(m); err != nil {
		return err
	}
	if err := webrtc.ConfigureStatsInterceptor(ir); err != nil {
		return err
	}
	return webrtc.ConfigureTWCCSender(m, ir)
}

type streamSide int

const (
	onRemote streamSide = iota // the ticker works on received streams
	onLocal                    // the ticker works on sent streams
)

// lazyTicker builds an interceptor whose BindRTCPWriter only starts its
// ticking loop and returns the writer unchanged (true of the NACK
// generator and both report interceptors), and defers that call to the
// first stream of the side it works on.
type lazyTicker struct {
	inner interceptor.Factory
	side  streamSide
}

func (f lazyTicker) NewInterceptor(id string) (interceptor.Interceptor, error) {
	i, err := f.inner.NewInterceptor(id)
	if err != nil {
		return nil, err
	}
	return &lazyInterceptor{Interceptor: i, side: f.side}, nil
}

type lazyInterceptor struct {
	interceptor.Interceptor
	side streamSide

	mu      sync.Mutex
	writer  interceptor.RTCPWriter
	started bool
}

// BindRTCPWriter remembers the writer; the inner interceptor gets it with
// the first stream.
func (l *lazyInterceptor) BindRTCPWriter(w interceptor.RTCPWriter) interceptor.RTCPWriter {
	l.mu.Lock()
	l.writer = w
	l.mu.Unlock()
	return w
}

func (l *lazyInterceptor) start(side streamSide) {
	if side != l.side {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.started || l.writer == nil {
		return
	}
	l.started = true
	l.Interceptor.BindRTCPWriter(l.writer)
}

func (l *lazyInterceptor) BindRemoteStream(info *interceptor.StreamInfo, r interceptor.RTPReader) interceptor.RTPReader {
	l.start(onRemote)
	return l.Interceptor.BindRemoteStream(info, r)
}

func (l *lazyInterceptor) BindLocalStream(info *interceptor.StreamInfo, w interceptor.RTPWriter) interceptor.RTPWriter {
	l.start(onLocal)
	return l.Interceptor.BindLocalStream(info, w)
}
