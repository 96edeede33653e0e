package web_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/backchannel-rtc/backchannel/chat"
)

// TestTileStates: camera off, speaking, host and a lost connection as the
// others see them (issue 24).
func TestTileStates(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	a := startServer(t, chat.DefaultConfig())
	br := newBrowser(t)
	tok := func(id, name string, admin bool) string {
		s, err := a.Token("tiles", id, name, admin)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	alice := br.newTab(t, "alice", 1280, 800)
	bob := br.newTab(t, "bob", 390, 844)
	alice.do(chromedp.Navigate(a.URL() + "/#token=" + tok("alice", "Alice Martin", true)))
	bob.do(chromedp.Navigate(a.URL() + "/#token=" + tok("bob", "Bob Chen", false)))
	alice.connected()
	bob.connected()
	alice.seesVideo("bob")
	bobTile := `document.querySelector('#grid .tile[data-identity="bob"]')`

	// Host badge for the admin, in the People list.
	bob.waitJS("Alice's host badge", `!!document.querySelector('#people-list .person[data-identity="alice"] .badge-host')`, waitShort)

	// The fake device beeps: the server names Bob a speaker.
	t0 := time.Now()
	if err := alice.poll("Bob highlighted as speaking", bobTile+`.classList.contains('speaking')`, 5*time.Second); err != nil {
		// What level the browser measures at its microphone source (0..1;
		// the server's threshold is -35 dBov, about 0.018).
		lvl := eval[float64](bob, `(async () => { const r = await bc._pub.getStats(); let l = -1; r.forEach(s => { if (s.type === 'media-source' && s.kind === 'audio') l = s.audioLevel; }); return l; })()`)
		t.Errorf("%v; Bob's media-source audioLevel %v", err, lvl)
	} else {
		t.Logf("Bob's tile highlighted %v after his video played", time.Since(t0).Round(time.Millisecond))
	}
	alice.screenshot("tiles-speaking-desktop")
	bob.screenshot("tiles-speaking-phone")

	// Camera off: Alice sees Bob's avatar and "camera off" within 1 s.
	bob.click("Bob's camera off", `document.getElementById('btn-cam')`)
	t0 = time.Now()
	alice.waitJS("Bob's camera-off mark", `(() => { const t = `+bobTile+`; return t.classList.contains('cam-off') && getComputedStyle(t.querySelector('.cam-off-mark')).display !== 'none' && getComputedStyle(t.querySelector('.tile-avatar')).visibility === 'visible'; })()`, waitShort)
	if d := time.Since(t0); d > time.Second {
		t.Errorf("camera off shown after %v, want within 1 s", d)
	}
	alice.screenshot("tiles-camera-off-desktop")

	// Muted: the highlight ends.
	bob.click("Bob's mic off", `document.getElementById('btn-mic')`)
	alice.waitJS("Bob's highlight ended", `!`+bobTile+`.classList.contains('speaking') && `+bobTile+`.classList.contains('mic-off')`, waitShort)
	alice.screenshot("tiles-muted-desktop")
	bob.click("Bob's camera on", `document.getElementById('btn-cam')`)
	bob.click("Bob's mic on", `document.getElementById('btn-mic')`)
	alice.waitJS("Bob's camera back", `!`+bobTile+`.classList.contains('cam-off')`, waitShort)
	alice.seesVideo("bob")

	// Bob's connection is cut: never a black tile, "reconnecting…" shown.
	bob.run(`bc._pub && bc._pub.close(); bc._sub && bc._sub.close()`)
	black := fmt.Sprintf(`(() => { const t = %s; if (!t) return false; const v = t.querySelector('video'); const shown = t.classList.contains('has-video') && !t.classList.contains('cam-off') && !t.classList.contains('reconnecting'); if (!shown) { window._last = null; return false; } if (window._last && window._last.time === v.currentTime && Date.now() - window._last.at > 1500) return true; if (!window._last || window._last.time !== v.currentTime) window._last = {time: v.currentTime, at: Date.now()}; return false; })()`, bobTile)
	deadline := time.Now().Add(waitLong)
	sawReconnecting := false
	for time.Now().Before(deadline) && !sawReconnecting {
		if eval[bool](alice, black) {
			alice.screenshot("tiles-black-desktop")
			t.Fatal("Bob's tile shows a frozen (black) video after his connection was cut")
		}
		sawReconnecting = eval[bool](alice, `(() => { const t = `+bobTile+`; return !!t && t.classList.contains('reconnecting'); })()`)
		time.Sleep(100 * time.Millisecond)
	}
	alice.screenshot("tiles-reconnecting-desktop")
	if !sawReconnecting {
		t.Fatalf("Alice never saw \"reconnecting…\" on Bob's tile; classes: %s", eval[string](alice, `(`+bobTile+`||{className:'(no tile)'}).className`))
	}
}
