package web_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/backchannel-rtc/backchannel/chat"
	"github.com/backchannel-rtc/backchannel/internal/app"
)

// TestSpeakerHighlight: Bob speaks into a fake microphone that plays
// speech-like sound (speechFlag); Alice (desktop) and Carol (phone) see his
// tile and his People entry highlighted within 1 s of his unmuting, and the
// highlight gone within 1 s of his muting. Nobody else is highlighted.
func TestSpeakerHighlight(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	a := startServer(t, chat.DefaultConfig())
	br := newBrowser(t, speechFlag(t))
	tok := func(id, name string) string {
		s, err := a.Token("speakers", id, name, false)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	alice := br.newTab(t, "alice", 1280, 800)
	bob := br.newTab(t, "bob", 1280, 800)
	carol := br.newTab(t, "carol", 390, 844)
	// Alice and Carol have the same fake microphone: off, so that Bob is
	// the only one speaking.
	alice.do(chromedp.Navigate(a.URL() + "/#token=" + tok("alice", "Alice Martin") + "&mic=off"))
	bob.do(chromedp.Navigate(a.URL() + "/#token=" + tok("bob", "Bob Chen")))
	carol.do(chromedp.Navigate(a.URL() + "/#token=" + tok("carol", "Carol Diaz") + "&mic=off&camera=off"))
	for _, tb := range []*tab{alice, bob, carol} {
		tb.connected()
	}
	alice.seesVideo("bob")
	carol.seesVideo("bob")
	lit := tileOf("bob") + `.classList.contains('speaking')`
	for _, tb := range []*tab{alice, carol} {
		// The first highlight waits for Bob's audio to start flowing as
		// well; the bounds that matter are the 1 s ones below.
		if err := tb.poll("Bob's tile highlighted", lit, waitLong); err != nil {
			t.Logf("%s: speakers %s", tb.name, eval[string](tb, `JSON.stringify([...(bc.speakers || [])])`))
			br.logMedia(t)
			t.Fatal(err)
		}
	}

	// Muted: the highlight ends within 1 s.
	d := within(t, bob, "the highlight ending", `document.getElementById('btn-mic')`, alice, `!`+lit)
	t.Logf("the highlight ended %v after Bob muted", d)
	if d > time.Second {
		t.Errorf("Bob's highlight ended %v after he muted, want within 1 s", d)
	}
	carol.waitJS("Bob's highlight gone", `!`+lit, time.Second)
	// Unmuted: highlighted again within 1 s, for both.
	d = within(t, bob, "Bob's tile highlighted", `document.getElementById('btn-mic')`, alice, lit)
	t.Logf("Bob's tile highlighted %v after he unmuted", d)
	if d > time.Second {
		t.Errorf("Bob's tile highlighted %v after he unmuted, want within 1 s", d)
	}
	carol.waitJS("Bob's tile highlighted", lit, time.Second)
	alice.click("People", `document.getElementById('btn-people')`)
	alice.waitJS("Bob highlighted in People", `document.querySelector('#people-list .person[data-identity="bob"]').classList.contains('speaking')`, waitShort)
	for _, tb := range []*tab{alice, carol} {
		if n := eval[int](tb, `document.querySelectorAll('#grid .tile.speaking, #people-list .person.speaking:not([data-identity="bob"])').length`); n != 1 {
			t.Errorf("%s sees %d highlighted tiles or people besides Bob's entry, want only Bob's tile", tb.name, n)
		}
	}
	// The ring is drawn: it is what a user sees.
	if o := eval[string](alice, `getComputedStyle(`+tileOf("bob")+`, '::after').borderTopStyle`); o != "solid" {
		t.Errorf("Bob's tile is marked speaking but shows no ring (border %q)", o)
	}
	alice.screenshot("tiles-speaking-desktop")
	carol.screenshot("tiles-speaking-phone")
}

// TestReconnectingTile: Bob's network goes away (netCut: his packets
// vanish, nothing closes). Alice (desktop) and Carol (phone) see
// "reconnecting…" over his avatar on his tile within 3 s, and at no moment
// a black or frozen tile, nor "camera off": every 100 ms his tile shows
// either moving video, or his avatar (reconnecting), or is gone because the
// server saw him leave.
// When his network comes back, they see his video again.
func TestReconnectingTile(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	udp := freeUDPPort(t)
	a := startServer(t, chat.DefaultConfig(), func(c *app.Config) { c.RTC.UDPAddr = fmt.Sprintf("127.0.0.1:%d", udp) })
	net := newNetCut(t, a.Addr().String(), udp)
	br := newBrowser(t)
	tok := func(id, name string) string {
		s, err := a.Token("cut", id, name, false)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	alice := br.newTab(t, "alice", 1280, 800)
	bob := br.newTab(t, "bob", 1280, 800)
	carol := br.newTab(t, "carol", 390, 844)
	net.route(bob, udp)
	alice.do(chromedp.Navigate(a.URL() + "/#token=" + tok("alice", "Alice Martin")))
	bob.do(chromedp.Navigate(net.httpURL + "/#token=" + tok("bob", "Bob Chen")))
	carol.do(chromedp.Navigate(a.URL() + "/#token=" + tok("carol", "Carol Diaz") + "&mic=off&camera=off"))
	for _, tb := range []*tab{alice, bob, carol} {
		tb.connected()
	}
	alice.seesVideo("bob")
	carol.seesVideo("bob")

	// A recorder in each observer's page: Bob's tile every 100 ms, as one
	// of "video" (avatar hidden, video shown and advancing), "reconnecting"
	// (avatar and that mark), "avatar" with the mark shown if any, "gone",
	// or "BLACK …" for any other look: video shown but frozen or empty, or
	// nothing shown.
	record := `window.__looks = []; (() => {
  let lastTime = -1, lastAt = 0;
  const shown = (e) => !!e && getComputedStyle(e).display !== "none";
  setInterval(() => {
    const t = ` + tileOf("bob") + `;
    let look = "gone";
    if (t) {
      const v = t.querySelector("video");
      const avatarShown = getComputedStyle(t.querySelector(".tile-avatar")).visibility === "visible";
      const videoShown = getComputedStyle(v).opacity !== "0";
      if (v.currentTime !== lastTime) { lastTime = v.currentTime; lastAt = Date.now(); }
      if (avatarShown && shown(t.querySelector(".reconnecting-mark"))) look = "reconnecting";
      else if (avatarShown) look = "avatar" + (shown(t.querySelector(".cam-off-mark")) ? " (camera off)" : "");
      else if (videoShown && v.videoWidth > 0 && Date.now() - lastAt < 1000) look = "video";
      else look = "BLACK video=" + videoShown + " width=" + v.videoWidth + " frozen=" + (Date.now() - lastAt) + "ms";
    }
    const l = window.__looks;
    if (!l.length || l[l.length - 1].look !== look) l.push({ look, at: Date.now() });
  }, 100);
})()`
	for _, tb := range []*tab{alice, carol} {
		tb.run(record)
	}

	cutAt := time.Now()
	net.Cut()
	for _, tb := range []*tab{alice, carol} {
		if err := tb.poll("Bob's tile reconnecting", `window.__looks.some((l) => l.look === "reconnecting")`, waitShort); err != nil {
			t.Logf("%s: looks %s, stalled %s", tb.name, eval[string](tb, `JSON.stringify(window.__looks)`), eval[string](tb, `JSON.stringify([...bc.stalled])`))
			br.logMedia(t)
			t.Fatal(err)
		}
	}
	t.Logf("reconnecting shown %v after the cut", time.Since(cutAt).Round(10*time.Millisecond))
	if d := time.Since(cutAt); d > 3*time.Second {
		t.Errorf("reconnecting shown %v after the cut, want within 3 s", d)
	}
	alice.screenshot("tiles-reconnecting-desktop")
	carol.screenshot("tiles-reconnecting-phone")
	// Hold the cut long enough for Bob's page to give up on its connection
	// and start reconnecting (its media connection is declared lost after
	// 5 s of "disconnected").
	bob.waitJS("Bob's page reconnecting", `bc.state === "reconnecting"`, waitShort)
	t.Logf("Bob's page reconnecting %v after the cut", time.Since(cutAt).Round(10*time.Millisecond))
	net.Restore()
	restoredAt := time.Now()
	bob.connected()
	t.Logf("Bob's page connected %v after the network came back", time.Since(restoredAt).Round(10*time.Millisecond))
	for _, tb := range []*tab{alice, carol} {
		tb.seesVideo("bob")
		tb.waitJS("Bob's tile back to video", `window.__looks.length && window.__looks[window.__looks.length - 1].look === "video"`, waitShort)
	}
	back := time.Since(restoredAt)
	t.Logf("Bob's video back %v after the network", back.Round(10*time.Millisecond))
	// About 3 s here; it took 20 s while the server's close of Bob's old
	// session waited for his unreachable chat channel until ICE failed.
	if back > 10*time.Second {
		t.Errorf("Bob's video back %v after his network, want within 10 s", back)
	}
	for _, tb := range []*tab{alice, carol} {
		looks := eval[[]struct {
			Look string  `json:"look"`
			At   float64 `json:"at"`
		}](tb, `window.__looks`)
		var seq []string
		for _, l := range looks {
			seq = append(seq, l.Look)
			if strings.HasPrefix(l.Look, "BLACK") {
				t.Errorf("%s saw Bob's tile black or frozen: %s", tb.name, l.Look)
			}
			// He never turned his camera off.
			if strings.Contains(l.Look, "camera off") {
				t.Errorf("%s saw Bob's tile say %q while his network was down", tb.name, l.Look)
			}
		}
		t.Logf("%s saw Bob's tile: %s", tb.name, strings.Join(seq, " → "))
	}
}
