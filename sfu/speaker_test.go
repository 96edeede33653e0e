package sfu

import (
	"testing"

	"github.com/pion/rtp"
)

func levelPacket(t testing.TB, extID, level uint8) *rtp.Packet {
	t.Helper()
	pkt := &rtp.Packet{Header: rtp.Header{Version: 2}, Payload: make([]byte, 40)}
	ext, _ := rtp.AudioLevelExtension{Level: level}.Marshal()
	if err := pkt.SetExtension(extID, ext); err != nil {
		t.Fatal(err)
	}
	return pkt
}

func newTestMeter() *levelMeter {
	m := &levelMeter{extID: 1}
	m.loudest.Store(silentLevel)
	return m
}

// feed observes n packets at level (a window of 300 ms holds 15).
func feed(t testing.TB, m *levelMeter, n int, level uint8) {
	pkt := levelPacket(t, m.extID, level)
	for range n {
		m.observe(&pkt.Header)
	}
}

func TestLevelMeter(t *testing.T) {
	m := newTestMeter()
	feed(t, m, 15, 10)
	first := m.tick(speakerInterval, false)
	if first <= 0 || first > 1 {
		t.Fatalf("a loud window: level %v, want in (0,1]", first)
	}
	feed(t, m, 15, 10)
	if second := m.tick(speakerInterval, false); second <= first {
		t.Fatalf("a second loud window: %v, want above the first %v (smoothing)", second, first)
	}
	feed(t, m, 15, 127)
	if got := m.tick(speakerInterval, false); got != 0 {
		t.Fatalf("a silent window: %v, want 0 at once", got)
	}
	// Less voice than the minimum active duration (120 ms of 300).
	feed(t, m, 5, 0)
	feed(t, m, 10, 127)
	if got := m.tick(speakerInterval, false); got != 0 {
		t.Fatalf("100 ms of voice in 300: %v, want 0", got)
	}
	// No packets at all (the publisher stopped).
	if got := m.tick(speakerInterval, false); got != 0 {
		t.Fatalf("an empty window: %v, want 0", got)
	}
	feed(t, m, 15, 0)
	if got := m.tick(speakerInterval, true); got != 0 {
		t.Fatalf("a muted track: %v, want 0", got)
	}
	// The loudest packet counts: louder speech, higher level.
	feed(t, m, 15, 30)
	quiet := m.tick(speakerInterval, false)
	m.smoothed = 0
	feed(t, m, 15, 3)
	if loud := m.tick(speakerInterval, false); loud <= quiet {
		t.Fatalf("-3 dBov gave %v, -30 dBov %v", loud, quiet)
	}
	// Packets without the extension are ignored.
	plain := &rtp.Packet{Header: rtp.Header{Version: 2}}
	for range 15 {
		m.observe(&plain.Header)
	}
	if got := m.tick(speakerInterval, false); got != 0 {
		t.Fatalf("packets without levels: %v, want 0", got)
	}
}

// The per-packet work allocates nothing.
func TestLevelMeterObserveAllocs(t *testing.T) {
	m := newTestMeter()
	pkt := levelPacket(t, m.extID, 20)
	if n := testing.AllocsPerRun(1000, func() { m.observe(&pkt.Header) }); n != 0 {
		t.Fatalf("observe allocates %v times per packet", n)
	}
}

// Chromium's default fake microphone (--use-fake-device-for-media-stream)
// beeps 20 ms every 500 ms. These are the levels its packets carried, as
// the server read them, over one 500 ms period: four packets (80 ms) loud
// enough for voice. Windows of such beeps are never speech, whichever way
// they fall, as a click or a knock is not (issue 24: why the browser test
// gives the fake device a speech-like file instead).
func TestLevelMeterChromiumBeepIsNotSpeech(t *testing.T) {
	period := []uint8{8, 12, 28, 34, 38, 41, 44, 48, 51, 54, 59, 62, 67, 72, 75, 84, 95, 127, 127, 127, 127, 127, 127, 127, 127}
	for offset := range period {
		m := newTestMeter()
		i := offset
		for window := range 10 {
			for range 15 { // 300 ms of 20 ms packets
				pkt := levelPacket(t, m.extID, period[i%len(period)])
				m.observe(&pkt.Header)
				i++
			}
			if got := m.tick(speakerInterval, false); got != 0 {
				t.Fatalf("beeps from offset %d, window %d: level %v, want 0 (not speech)", offset, window, got)
			}
		}
	}
}
