package rtcsetup

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// tickerLoops counts the running ticker goroutines of Pion's NACK
// generator and RTCP report interceptors, by their stacks (a global
// goroutine count also sees other tests' goroutines come and go).
func tickerLoops() int {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	n := 0
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "nack.(*GeneratorInterceptor).loop") ||
			strings.Contains(g, "report.(*ReceiverInterceptor).loop") ||
			strings.Contains(g, "report.(*SenderInterceptor).loop") {
			n++
		}
	}
	return n
}

// tickerLoopsPerStep builds the registry's interceptors for one
// PeerConnection, binds its RTCP writer and reader, then, in turn, two
// received streams and a sent one, and closes it, reporting the ticker
// loops running after each step.
func tickerLoopsPerStep(t *testing.T, register func(*webrtc.MediaEngine, *interceptor.Registry) error) []int {
	t.Helper()
	m := &webrtc.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		t.Fatal(err)
	}
	ir := &interceptor.Registry{}
	if err := register(m, ir); err != nil {
		t.Fatal(err)
	}
	i, err := ir.Build("pc")
	if err != nil {
		t.Fatal(err)
	}
	settled := func() int {
		// Goroutines start and stop asynchronously: wait until the count
		// of ticker loops holds still.
		last, stable := -1, 0
		for stable < 10 {
			time.Sleep(5 * time.Millisecond)
			if n := tickerLoops(); n == last {
				stable++
			} else {
				last, stable = n, 0
			}
		}
		return last
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
	pion := tickerLoopsPerStep(t, webrtc.RegisterDefaultInterceptors)
	ours := tickerLoopsPerStep(t, RegisterInterceptors)
	t.Logf("ticker loops after bind / remote / remote / local / close: Pion's defaults %v, ours %v", pion, ours)
	want := []int{0, 2, 2, 3, 0} // NACK generator + receiver reports, then sender reports
	if fmt.Sprint(pion) != "[3 3 3 3 0]" {
		t.Errorf("Pion's defaults ran %v ticker loops, want [3 3 3 3 0]: the test no longer measures what it should", pion)
	}
	if fmt.Sprint(ours) != fmt.Sprint(want) {
		t.Errorf("ours ran %v ticker loops, want %v", ours, want)
	}
}
