package web_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// speechFlag makes Chromium's fake microphone play speech-like sound: a
// voiced tone (140 Hz with eight harmonics, its pitch drifting) in
// syllables, four a second, 190 ms loud and 60 ms quiet, peaking near
// -12 dBFS, looped. Chromium's own fake microphone only beeps, 20 ms
// every 500 ms: about 80 ms in 500 of packets loud enough to be voice,
// which the SFU rightly does not take for speech (it wants 40 % of a
// 300 ms window, so that a click or a cough does not light a tile).
func speechFlag(t *testing.T) chromedp.ExecAllocatorOption {
	t.Helper()
	const rate = 48000
	var pcm bytes.Buffer
	phase := 0.0
	for i := range 2 * rate {
		ts := float64(i) / rate
		phase += 2 * math.Pi * (140 + 30*math.Sin(2*math.Pi*0.7*ts)) / rate
		v := 0.0
		for k := 1; k <= 8; k++ {
			v += math.Sin(float64(k)*phase) / float64(k)
		}
		env := 0.0
		if syl := math.Mod(ts, 0.25) / 0.25; syl < 0.75 {
			env = math.Sin(math.Pi * syl / 0.75)
		}
		_ = binary.Write(&pcm, binary.LittleEndian, int16(32767*0.25*env*v/1.5))
	}
	var w bytes.Buffer
	w.WriteString("RIFF")
	for _, v := range []any{uint32(36 + pcm.Len()), []byte("WAVEfmt "), uint32(16), uint16(1), uint16(1), uint32(rate), uint32(2 * rate), uint16(2), uint16(16), []byte("data"), uint32(pcm.Len())} {
		_ = binary.Write(&w, binary.LittleEndian, v)
	}
	w.Write(pcm.Bytes())
	p := filepath.Join(t.TempDir(), "speech.wav")
	if err := os.WriteFile(p, w.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return chromedp.Flag("use-file-for-fake-audio-capture", p)
}

// freeUDPPort is a loopback UDP port free a moment ago, for a server
// whose media port a test must know in advance.
func freeUDPPort(t *testing.T) int {
	t.Helper()
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

// netCut stands between one browser tab and the server, for its HTTP,
// signaling and media, so that a test can take its network away as a
// dropped Wi-Fi does: from Cut on, every packet either way vanishes and
// nothing is closed, so both ends learn of it only by their timeouts; a new
// connection fails at once, as with no route.
// (Chromium's network emulation does not reach WebRTC's sockets once a
// connection is up.) A TCP connection that lived through a cut stays dead;
// UDP flows again after Restore, as a network that comes back does.
type netCut struct {
	t       *testing.T
	cut     atomic.Bool
	epoch   atomic.Int64 // bumped by Cut: connections of an older epoch are dead
	httpURL string
	udpPort int

	mu    sync.Mutex
	conns []net.Conn
}

// newNetCut relays TCP to httpAddr and UDP to the server's media port
// udpPort.
func newNetCut(t *testing.T, httpAddr string, udpPort int) *netCut {
	t.Helper()
	n := &netCut{t: t}
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	n.httpURL = "http://" + ln.Addr().String()
	uc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	n.udpPort = uc.LocalAddr().(*net.UDPAddr).Port
	var wg sync.WaitGroup
	t.Cleanup(func() {
		ln.Close()
		uc.Close()
		n.mu.Lock()
		for _, c := range n.conns {
			c.Close()
		}
		n.mu.Unlock()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			if n.cut.Load() {
				c.Close() // no route: a connection attempt fails at once
				continue
			}
			up, err := net.Dial("tcp4", httpAddr)
			if err != nil {
				c.Close()
				continue
			}
			n.mu.Lock()
			n.conns = append(n.conns, c, up)
			n.mu.Unlock()
			epoch := n.epoch.Load()
			wg.Go(func() { n.pipe(up, c, epoch) })
			wg.Go(func() { n.pipe(c, up, epoch) })
		}
	})
	wg.Go(func() { n.relayUDP(uc, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: udpPort}, &wg) })
	return n
}

// pipe copies src to dst while the network is up and the connection is
// of the current epoch; otherwise it reads and drops, as a dead route does.
func (n *netCut) pipe(dst, src net.Conn, epoch int64) {
	buf := make([]byte, 32<<10)
	for {
		k, err := src.Read(buf)
		if k > 0 && !n.cut.Load() && n.epoch.Load() == epoch {
			if _, werr := dst.Write(buf[:k]); werr != nil {
				return
			}
		}
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				n.t.Logf("netcut: %v", err)
			}
			if n.epoch.Load() == epoch {
				if cw, ok := dst.(*net.TCPConn); ok {
					_ = cw.CloseWrite()
				}
			}
			return
		}
	}
}

// relayUDP gives each of the browser's sockets its own socket towards the
// server, so the server sees one address per browser socket, as without
// the relay.
func (n *netCut) relayUDP(uc *net.UDPConn, server *net.UDPAddr, wg *sync.WaitGroup) {
	ups := map[string]*net.UDPConn{}
	defer func() {
		for _, u := range ups {
			u.Close()
		}
	}()
	buf := make([]byte, 1500)
	for {
		k, from, err := uc.ReadFromUDP(buf)
		if err != nil {
			return
		}
		up := ups[from.String()]
		if up == nil {
			if up, err = net.DialUDP("udp4", nil, server); err != nil {
				continue
			}
			ups[from.String()] = up
			wg.Go(func() {
				b := make([]byte, 1500)
				for {
					k, err := up.Read(b)
					if err != nil {
						return
					}
					if !n.cut.Load() {
						_, _ = uc.WriteToUDP(b[:k], from)
					}
				}
			})
		}
		if !n.cut.Load() {
			_, _ = up.Write(buf[:k])
		}
	}
}

// Cut takes the network away; Restore brings it back.
func (n *netCut) Cut() {
	n.epoch.Add(1)
	n.cut.Store(true)
}

func (n *netCut) Restore() {
	n.epoch.Add(1)
	n.cut.Store(false)
}

// route makes tb's page send its media through n: the server's candidates
// (in its SDP, or trickled) name n's UDP port instead of the server's, and
// the page's own candidates never reach the server, which then knows the
// page only by the address its packets arrive from: n's. Otherwise the
// server's checks to the page's host candidates could make a direct pair
// that bypasses n (on loopback every address answers), as happened in CI:
// the cut then cut nothing.
func (n *netCut) route(tb *tab, serverUDP int) {
	tb.t.Helper()
	src := fmt.Sprintf(`(() => {
  const send = WebSocket.prototype.send;
  WebSocket.prototype.send = function (data) {
    try {
      const m = JSON.parse(data);
      if (m.type === "candidate") return;
      if (m.sdp) data = JSON.stringify({ ...m, sdp: m.sdp.split("\r\n").filter((l) => !l.startsWith("a=candidate:")).join("\r\n") });
    } catch { /* not JSON: as is */ }
    return send.call(this, data);
  };
  const fix = (s) => s.split(" 127.0.0.1 %d ").join(" 127.0.0.1 %d ");
  const P = RTCPeerConnection.prototype;
  const setRemote = P.setRemoteDescription;
  P.setRemoteDescription = function (d) { return setRemote.call(this, d && d.sdp ? { type: d.type, sdp: fix(d.sdp) } : d); };
  const addCandidate = P.addIceCandidate;
  P.addIceCandidate = function (c) {
    if (c && c.candidate) { const j = typeof c.toJSON === "function" ? c.toJSON() : c; c = { ...j, candidate: fix(j.candidate) }; }
    return addCandidate.call(this, c);
  };
})()`, serverUDP, n.udpPort)
	tb.do(chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: src})
		return err
	}))
}
