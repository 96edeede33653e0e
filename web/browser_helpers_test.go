package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/backchannel-rtc/backchannel/chat"
	"github.com/backchannel-rtc/backchannel/internal/app"
	"github.com/backchannel-rtc/backchannel/sfu"
)

// Every wait in these tests is bounded. The race detector slows the
// in-process server several times over on a 2-core machine, so the bounds are
// generous; a healthy run stays far below them.
const (
	waitShort = 20 * time.Second
	waitLong  = 45 * time.Second
	actionMax = 30 * time.Second
)

// chromiumPath finds Chromium, or skips (fails under CI=true) when absent.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if p := "/usr/bin/chromium"; fileExists(p) {
		return p
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium not installed: browser tests cannot be skipped under CI=true")
	}
	t.Skip("chromium not installed: browser tests skipped")
	return ""
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// startServer runs the real server in-process, in --dev, on loopback;
// each option may change its configuration first.
func startServer(t *testing.T, cfg chat.Config, options ...func(*app.Config)) *app.App {
	t.Helper()
	c := app.Config{
		Addr: "127.0.0.1:0", DataDir: t.TempDir(), APIKey: "k", APISecret: "s-long-secret", Dev: true,
		RTC:        sfu.Config{UDPAddr: "127.0.0.1:0", LoopbackOnly: true},
		ChatConfig: &cfg,
		Logger:     slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	for _, o := range options {
		o(&c)
	}
	a, err := app.New(c)
	if err != nil {
		t.Fatal(err)
	}
	a.Serve()
	t.Cleanup(func() { _ = a.Close() })
	return a
}

// browser is one Chromium process; each participant gets its own browser
// context (separate cookies and storage) as a tab of it.
type browser struct {
	t    *testing.T
	root context.Context

	mu   sync.Mutex
	tabs []*tab
}

// newBrowser starts Chromium with the flags every test needs, then extra.
func newBrowser(t *testing.T, extra ...chromedp.ExecAllocatorOption) *browser {
	t.Helper()
	path := chromiumPath(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.Flag("headless", "new"),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("use-fake-device-for-media-stream", true),
		chromedp.Flag("use-fake-ui-for-media-stream", true),
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 800),
	)
	opts = append(opts, extra...)
	// BACKCHANNEL_CHROME_LOG=file writes Chromium's WebRTC log there.
	if p := os.Getenv("BACKCHANNEL_CHROME_LOG"); p != "" {
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		opts = append(opts, chromedp.CombinedOutput(f), chromedp.Flag("enable-logging", "stderr"),
			chromedp.Flag("vmodule", "*p2p_transport_channel*=1,*peer_connection*=1,*dtls_transport*=1"))
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	root, cancelRoot := chromedp.NewContext(alloc)
	// The first Run starts the browser; it must not carry a timeout.
	started := make(chan error, 1)
	go func() { started <- chromedp.Do(root) }()
	select {
	case err := <-started:
		if err != nil {
			cancelRoot()
			cancelAlloc()
			t.Fatalf("start chromium: %v", err)
		}
	case <-time.After(60 * time.Second):
		cancelRoot()
		cancelAlloc()
		t.Fatal("chromium did not start within 60s")
	}
	t.Cleanup(func() {
		cancelRoot()
		cancelAlloc()
	})
	return &browser{t: t, root: root}
}

// tab is one participant's page.
type tab struct {
	t       *testing.T
	b       *browser
	name    string
	ctx     context.Context
	dialogs atomic.Int32
	mu      sync.Mutex
	logs    []string
}

// newTab opens an isolated browser context of the given viewport size.
func (b *browser) newTab(t *testing.T, name string, w, h int64) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(b.root, chromedp.WithNewBrowserContext())
	tb := &tab{t: t, b: b, name: name, ctx: ctx}
	b.mu.Lock()
	b.tabs = append(b.tabs, tb)
	b.mu.Unlock()
	t.Cleanup(cancel)
	dialogs := chromedp.Events(ctx, page.JavascriptDialogOpening)
	console := chromedp.Events(ctx, runtime.ConsoleAPICalled)
	exceptions := chromedp.Events(ctx, runtime.ExceptionThrown)
	responses := chromedp.Events(ctx, network.ResponseReceived)
	failures := chromedp.Events(ctx, network.LoadingFailed)
	entries := chromedp.Events(ctx, cdplog.EntryAdded)
	tb.do(chromedp.EmulateViewport(w, h), chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		// Report what would otherwise pass silently: content the page's
		// Content-Security-Policy blocked.
		_, err := cdp.Call(ctx, t, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{
			Source: `addEventListener('securitypolicyviolation', e => console.error('CSP violation:', e.violatedDirective, e.blockedURI))`,
		})
		return err
	}))
	// Any alert, confirm or prompt is a failure (the page never opens one);
	// dismiss it so that the page does not hang.
	go func() {
		for ev, err := range dialogs {
			if err != nil {
				return
			}
			tb.dialogs.Add(1)
			tb.log("DIALOG: " + ev.Message)
			_, _ = chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: false})
		}
	}()
	go func() {
		for ev, err := range console {
			if err != nil {
				return
			}
			var parts []string
			for _, a := range ev.Args {
				if len(a.Value) > 0 {
					parts = append(parts, string(a.Value))
				} else {
					parts = append(parts, a.Description)
				}
			}
			tb.log(fmt.Sprintf("console.%s: %s", ev.Type, strings.Join(parts, " ")))
		}
	}()
	go func() {
		for ev, err := range exceptions {
			if err != nil {
				return
			}
			msg := ev.ExceptionDetails.Text
			if ev.ExceptionDetails.Exception != nil {
				msg += " " + ev.ExceptionDetails.Exception.Description
			}
			tb.log("EXCEPTION: " + msg)
		}
	}()
	// Failed requests and the browser's own error lines (such as "Failed to
	// load resource: … 400"): what a user sees in red in the console.
	go func() {
		for ev, err := range responses {
			if err != nil {
				return
			}
			if ev.Response != nil && ev.Response.Status >= 400 {
				tb.log(fmt.Sprintf("HTTP %d %s", ev.Response.Status, ev.Response.URL))
			}
		}
	}()
	go func() {
		for ev, err := range failures {
			if err != nil {
				return
			}
			if !ev.Canceled {
				tb.log(fmt.Sprintf("REQUEST FAILED %s: %s", ev.Type, ev.ErrorText))
			}
		}
	}()
	go func() {
		for ev, err := range entries {
			if err != nil {
				return
			}
			if ev.Entry != nil {
				tb.log(fmt.Sprintf("LOG %s: %s %s", ev.Entry.Level, ev.Entry.Text, ev.Entry.URL))
			}
		}
	}()
	t.Cleanup(func() {
		tb.mu.Lock()
		for _, l := range tb.logs {
			// Uncaught exceptions and blocked content are bugs even when
			// every assertion held.
			if strings.HasPrefix(l, "EXCEPTION") || strings.Contains(l, "CSP violation") {
				t.Errorf("[%s] %s", name, l)
			}
		}
		tb.mu.Unlock()
		if t.Failed() {
			tb.mu.Lock()
			for _, l := range tb.logs {
				t.Logf("[%s] %s", name, l)
			}
			tb.mu.Unlock()
		}
	})
	return tb
}

// problems are the tab's console errors, failed requests and uncaught
// exceptions so far.
func (tb *tab) problems() []string {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	var out []string
	for _, l := range tb.logs {
		for _, p := range []string{"console.error", "LOG error", "HTTP ", "REQUEST FAILED", "EXCEPTION"} {
			if strings.HasPrefix(l, p) {
				out = append(out, l)
				break
			}
		}
	}
	return out
}

func (tb *tab) log(s string) {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	if len(tb.logs) < 500 {
		tb.logs = append(tb.logs, s)
	}
}

// do runs actions with a bound.
func (tb *tab) do(actions ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, actionMax)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		tb.t.Fatalf("%s: %v", tb.name, err)
	}
}

// eval evaluates a JS expression and decodes its value into T.
func eval[T any](tb *tab, js string) T {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, actionMax)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js, chromedp.EvalAwaitPromise))
	if err != nil {
		tb.t.Fatalf("%s: eval %s: %v", tb.name, short(js), err)
	}
	return v
}

// run evaluates JS for its effect.
func (tb *tab) run(js string) {
	tb.t.Helper()
	eval[chromedp.Void](tb, js)
}

// waitJS polls a JS boolean expression until it is true.
func (tb *tab) waitJS(what, js string, d time.Duration) {
	tb.t.Helper()
	if err := tb.poll(what, js, d); err != nil {
		tb.t.Fatal(err)
	}
}

// poll is waitJS that returns its timeout instead of failing the test.
func (tb *tab) poll(what, js string, d time.Duration) error {
	deadline := time.Now().Add(d)
	var last error
	for {
		ctx, cancel := context.WithTimeout(tb.ctx, 10*time.Second)
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool]("!!("+js+")"))
		cancel()
		if err == nil && ok {
			return nil
		}
		if err != nil {
			last = err
		}
		if time.Now().After(deadline) {
			detail := ""
			if last != nil {
				detail = fmt.Sprintf(" (last error: %v)", last)
			}
			return fmt.Errorf("%s: timed out after %v waiting for %s%s", tb.name, d, what, detail)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// mediaJS summarises a page's media: each peer connection's state and RTP
// counters, and what each tile's video element is doing.
const mediaJS = `(async () => {
  const out = [];
  for (const [k, pc] of [['pub', bc._pub], ['sub', bc._sub]]) {
    if (!pc) { out.push(k + ': none'); continue; }
    out.push(k + ': ' + pc.connectionState + ' ice=' + pc.iceConnectionState + ' signaling=' + pc.signalingState);
    (await pc.getStats()).forEach(s => {
      if (s.type === 'inbound-rtp') out.push('  in ' + s.kind + ' ssrc=' + s.ssrc + ' packets=' + s.packetsReceived + ' lost=' + s.packetsLost + ' frames=' + s.framesDecoded + ' keyframes=' + s.keyFramesDecoded + ' pli=' + s.pliCount + ' nack=' + s.nackCount);
      if (s.type === 'outbound-rtp') out.push('  out ' + s.kind + ' ssrc=' + s.ssrc + ' packets=' + s.packetsSent + ' frames=' + s.framesEncoded + ' keyframes=' + s.keyFramesEncoded + ' pli=' + s.pliCount + ' nack=' + s.nackCount);
      if (s.type === 'candidate-pair' && s.nominated) out.push('  pair ' + s.state + ' sent=' + s.bytesSent + ' received=' + s.bytesReceived);
      if (s.type === 'transport') out.push('  transport dtls=' + s.dtlsState + ' ice=' + s.iceState);
    });
  }
  document.querySelectorAll('#grid .tile').forEach(t => {
    const v = t.querySelector('video');
    const tracks = v && v.srcObject ? v.srcObject.getTracks().map(x => x.kind + ':' + x.readyState + (x.muted ? ':muted' : '')).join(',') : 'none';
    out.push('tile ' + t.dataset.identity + ': ' + (v ? 'width=' + v.videoWidth + ' time=' + v.currentTime + ' paused=' + v.paused + ' readyState=' + v.readyState + ' tracks=' + tracks : 'no video'));
  });
  return out.join('\n');
})()`

// logMedia writes every tab's media summary to t: what a failed video
// wait needs to tell a network problem from a decoding or signaling one.
func (b *browser) logMedia(t *testing.T) {
	b.mu.Lock()
	tabs := append([]*tab(nil), b.tabs...)
	b.mu.Unlock()
	for _, tb := range tabs {
		ctx, cancel := context.WithTimeout(tb.ctx, 10*time.Second)
		s, err := chromedp.Run(ctx, chromedp.Evaluate[string](mediaJS, chromedp.EvalAwaitPromise))
		cancel()
		if err != nil {
			s = err.Error()
		}
		t.Logf("media of %s:\n%s", tb.name, s)
	}
}

// screenshotDir is where screenshots go: web/testdata/screenshots, the
// committed ones, only with UPDATE_SCREENSHOTS=1 (so that `make test`
// leaves the work tree as it found it); otherwise a folder under the
// system's temporary directory, kept after the run for a look.
func screenshotDir() string {
	if os.Getenv("UPDATE_SCREENSHOTS") == "1" {
		return filepath.Join("testdata", "screenshots")
	}
	return filepath.Join(os.TempDir(), "backchannel-screenshots")
}

// screenshot writes the viewport to screenshotDir()/name.png.
func (tb *tab) screenshot(name string) {
	tb.t.Helper()
	// Let animations and image decoding settle.
	time.Sleep(400 * time.Millisecond)
	ctx, cancel := context.WithTimeout(tb.ctx, actionMax)
	defer cancel()
	buf, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		tb.t.Fatalf("%s: screenshot: %v", tb.name, err)
	}
	dir := screenshotDir()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), buf, 0o644); err != nil {
		tb.t.Fatal(err)
	}
}

// js quotes s as a JavaScript string literal.
func js(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func short(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 120 {
		return s[:120] + "…"
	}
	return s
}

// pressKey presses a key the way a keyboard does: one keyDown that carries
// its text (so that preventDefault on keydown cancels the text, as in a real
// browser; chromedp.KeyEvent sends a separate char event instead), then keyUp.
func pressKey(key string, code int64, text string, modifiers int64) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		down := input.DispatchKeyEventParams{Type: input.DispatchKeyEventTypeKeyDown, Key: key, Code: key, WindowsVirtualKeyCode: code,
			NativeVirtualKeyCode: code, Text: text, UnmodifiedText: text, Modifiers: modifiers}
		if _, err := cdp.Call(ctx, t, input.DispatchKeyEvent, down); err != nil {
			return err
		}
		up := down
		up.Type, up.Text, up.UnmodifiedText = input.DispatchKeyEventTypeKeyUp, "", ""
		_, err := cdp.Call(ctx, t, input.DispatchKeyEvent, up)
		return err
	})
}

func enter(shift bool) chromedp.Action[chromedp.Void] {
	var m int64
	if shift {
		m = 8 // Shift
	}
	return pressKey("Enter", 13, "\r", m)
}

func escape() chromedp.Action[chromedp.Void] { return pressKey("Escape", 27, "", 0) }
