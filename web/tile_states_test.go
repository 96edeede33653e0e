package web_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/backchannel-rtc/backchannel/chat"
)

// tileOf is a JS expression for identity's tile in the grid.
func tileOf(identity string) string {
	return fmt.Sprintf(`document.querySelector('#grid .tile[data-identity=%s]')`, js(identity))
}

// within clicks expr in actor's page and returns how long, in the pages'
// shared clock, until cond held in the watcher's page (watched every
// 20 ms); it fails the test if cond did not hold within waitShort.
func within(t *testing.T, actor *tab, what, expr string, watcher *tab, cond string) time.Duration {
	t.Helper()
	watcher.run(`window.__held = new Promise((resolve) => {
  const start = Date.now();
  const timer = setInterval(() => {
    if (` + cond + `) { clearInterval(timer); resolve(Date.now()); }
    else if (Date.now() - start > ` + fmt.Sprint(waitShort.Milliseconds()) + `) { clearInterval(timer); resolve(0); }
  }, 20);
}); 0`) // not the promise itself, which run would await
	clicked := eval[float64](actor, fmt.Sprintf(`(() => { const e = %s; if (!e) return -1; e.click(); return Date.now(); })()`, expr))
	if clicked < 0 {
		t.Fatalf("%s: nothing to click for %s", actor.name, what)
	}
	held := eval[float64](watcher, `window.__held`)
	if held == 0 {
		watcher.b.logMedia(t)
		t.Fatalf("%s: %s not seen within %v", watcher.name, what, waitShort)
	}
	return time.Duration(held-clicked) * time.Millisecond
}

// TestTileStates: camera off, microphone off and host as the others see
// them on a desktop (Alice) and a phone (Carol), with screenshots of each
// (issue 24). The speaker highlight and the reconnecting state are in
// tile_live_test.go.
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
	carol := br.newTab(t, "carol", 390, 844)
	alice.do(chromedp.Navigate(a.URL() + "/#token=" + tok("alice", "Alice Martin", true)))
	bob.do(chromedp.Navigate(a.URL() + "/#token=" + tok("bob", "Bob Chen", false)))
	carol.do(chromedp.Navigate(a.URL() + "/#token=" + tok("carol", "Carol Diaz", false) + "&camera=off&mic=off"))
	for _, tb := range []*tab{alice, bob, carol} {
		tb.connected()
	}
	alice.seesVideo("bob")
	carol.seesVideo("bob")
	bobTile := tileOf("bob")

	// Host badge for the admin, in the People list and on her messages.
	alice.send("Welcome, everyone")
	for _, tb := range []*tab{alice, bob, carol} {
		tb.click("People", `document.getElementById('btn-people')`)
		tb.waitJS("Alice's host badge", `!!document.querySelector('#people-list .person[data-identity="alice"] .badge-host')`, waitShort)
		if n := eval[int](tb, `document.querySelectorAll('#people-list .badge-host').length`); n != 1 {
			t.Fatalf("%s sees %d host badges, want 1 (Alice's)", tb.name, n)
		}
	}
	alice.screenshot("tiles-host-badge-desktop")
	carol.screenshot("tiles-host-badge-phone")
	carol.click("Chat", `document.getElementById('btn-chat')`)
	carol.waitJS("the Host badge on Alice's message", `(`+msgEl("Welcome, everyone")+`)?.querySelector('.badge-host')`, waitShort)
	carol.screenshot("tiles-host-message-phone")
	carol.click("close the panel", `document.getElementById('side-close')`)
	bob.click("close the panel", `document.getElementById('side-close')`)

	// Camera off: Alice and Carol see Bob's avatar and "camera off" within 1 s.
	camOff := `(() => { const t = ` + bobTile + `; return !!t && t.classList.contains('cam-off') && getComputedStyle(t.querySelector('.cam-off-mark')).display !== 'none' && getComputedStyle(t.querySelector('.tile-avatar')).visibility === 'visible'; })()`
	if d := within(t, bob, "Bob's camera off", `document.getElementById('btn-cam')`, alice, camOff); d > time.Second {
		t.Errorf("camera off shown after %v, want within 1 s", d)
	}
	carol.waitJS("Bob's camera-off mark", camOff, time.Second)
	alice.screenshot("tiles-camera-off-desktop")
	carol.screenshot("tiles-camera-off-phone")

	// Microphone off: both see the mark.
	bob.click("Bob's mic off", `document.getElementById('btn-mic')`)
	for _, tb := range []*tab{alice, carol} {
		tb.waitJS("Bob's mic-off mark", `(() => { const t = `+bobTile+`; return t.classList.contains('mic-off') && getComputedStyle(t.querySelector('.tile-mic')).display !== 'none'; })()`, waitShort)
	}
	alice.screenshot("tiles-muted-desktop")
	carol.screenshot("tiles-muted-phone")
	bob.click("Bob's camera on", `document.getElementById('btn-cam')`)
	bob.click("Bob's mic on", `document.getElementById('btn-mic')`)
	alice.waitJS("Bob's camera back", `!`+bobTile+`.classList.contains('cam-off') && !`+bobTile+`.classList.contains('mic-off')`, waitShort)
	alice.seesVideo("bob")
}
