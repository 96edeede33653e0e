package sfu

import (
	"runtime"
	"testing"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// goroutinesPerStep builds the registry's interceptors for one PeerConnection, binds
// its RTCP writer and reader, then, in turn, the given streams, reporting
// the goroutines it runs after each step.
func goroutinesPerStep(t *testing.T, register func(*webrtc.MediaEngine, *interceptor.Registry) error) []int {
	t.Helper()
	m := &webrtc.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		t.Fatal(err)
	}
	ir := &interceptor.Registry{}
	if err := register(m, ir); err != nil {
		t.Fatal(err)
	}
	base := runtime.NumGoroutine()
	i, err := ir.Build("pc")
	if err != nil {
		t.Fatal(err)
	}
	settled := func() int {
		// Goroutines start asynchronously: wait until the count holds still.
		last, stable := -1, 0
		for stable < 10 {
			time.Sleep(5 * time.Millisecond)
			if n := runtime.NumGoroutine(); n == last {
				stable++
			} else {
				last, stable = n, 0
			}
		}
		return last - base
	}
	var steps []int
	i.BindRTCPWriter(interceptor.RTCPWriterFunc(func([]rtcp.Packet, interceptor.Attributes) (int, error) { return 0, nil }))
	i.BindRTCPReader(interceptor.RTCPReaderFunc(func(b []byte, a interceptor.Attributes) (int, interceptor.Attributes, error) {
		return len(b), a, nil
	}))
	steps = append(steps, settled())
	reader := interceptor.RTPReaderFunc(func(b []byte, a interceptor.Attributes) (int, interceptor.Attributes, error) {
		return len(b), a, nil
	})
	fb := []interceptor.RTCPFeedback{{Type: "nack"}}
	i.BindRemoteStream(&interceptor.StreamInfo{SSRC: 1, MimeType: webrtc.MimeTypeVP8, ClockRate: 90000, RTCPFeedback: fb}, reader)
	steps = append(steps, settled())
	i.BindRemoteStream(&interceptor.StreamInfo{SSRC: 2, MimeType: webrtc.MimeTypeVP8, ClockRate: 90000, RTCPFeedback: fb}, reader)
	steps = append(steps, settled())
	i.BindLocalStream(&interceptor.StreamInfo{SSRC: 3, MimeType: webrtc.MimeTypeVP8, ClockRate: 90000},
		interceptor.RTPWriterFunc(func(*rtp.Header, []byte, interceptor.Attributes) (int, error) { return 0, nil }))
	steps = append(steps, settled())
	if err := i.Close(); err != nil {
		t.Fatal(err)
	}
	steps = append(steps, settled())
	return steps
}

// A PeerConnection's interceptors start none of their ticking goroutines
// (NACK generator, receiver and sender reports) until a stream exists for
// them; from the first stream on they run exactly as Pion's defaults do.
func TestInterceptorsTickOnlyWithStreams(t *testing.T) {
	pion := goroutinesPerStep(t, webrtc.RegisterDefaultInterceptors)
	ours := goroutinesPerStep(t, RegisterInterceptors)
	t.Logf("goroutines after bind / remote / remote / local / close: pion %v, ours %v", pion, ours)
	if ours[0] != pion[0]-3 {
		t.Errorf("no streams: %d goroutines, Pion's defaults %d: want the 3 tickers not started", ours[0], pion[0])
	}
	if ours[1] != pion[1]-1 || ours[2] != pion[2]-1 {
		t.Errorf("received streams: %v goroutines, Pion's defaults %v: want all but the sender reports' ticker", ours[1:3], pion[1:3])
	}
	if ours[3] != pion[3] {
		t.Errorf("and a sent stream: %d goroutines, Pion's defaults %d: want the same", ours[3], pion[3])
	}
	if ours[4] != 0 || pion[4] != 0 {
		t.Errorf("after Close: %d (ours), %d (Pion's) goroutines left", ours[4], pion[4])
	}
}
