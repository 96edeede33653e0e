package web_test

import (
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/backchannel-rtc/backchannel/chat"
)

// TestTileStates: camera off, microphone off and host as the others see
// them (issue 24). The speaker highlight and the reconnecting state are
// not asserted yet: in Chromium the highlight was not seen (the server's
// side is tested with Go peers in internal/app TestActiveSpeakers), and a
// cut connection reconnected before the state could be held.
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

	// Camera off: Alice sees Bob's avatar and "camera off" within 1 s.
	bob.click("Bob's camera off", `document.getElementById('btn-cam')`)
	t0 := time.Now()
	alice.waitJS("Bob's camera-off mark", `(() => { const t = `+bobTile+`; return t.classList.contains('cam-off') && getComputedStyle(t.querySelector('.cam-off-mark')).display !== 'none' && getComputedStyle(t.querySelector('.tile-avatar')).visibility === 'visible'; })()`, waitShort)
	if d := time.Since(t0); d > time.Second {
		t.Errorf("camera off shown after %v, want within 1 s", d)
	}
	alice.screenshot("tiles-camera-off-desktop")

	// Microphone off: Alice sees the mark.
	bob.click("Bob's mic off", `document.getElementById('btn-mic')`)
	alice.waitJS("Bob's mic-off mark", bobTile+`.classList.contains('mic-off')`, waitShort)
	alice.screenshot("tiles-muted-desktop")
	bob.click("Bob's camera on", `document.getElementById('btn-cam')`)
	bob.click("Bob's mic on", `document.getElementById('btn-mic')`)
	alice.waitJS("Bob's camera back", `!`+bobTile+`.classList.contains('cam-off')`, waitShort)
	alice.seesVideo("bob")

}
