package web_test

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/backchannel-rtc/backchannel/chat"
	"github.com/backchannel-rtc/backchannel/internal/app"
	"github.com/backchannel-rtc/backchannel/sfu"
)

// chipsOf is a JS expression for the reaction chips of the message whose
// text is text, in screen order: ["👍2", "🎉1"].
func chipsOf(text string) string {
	return `[...((` + msgEl(text) + `)?.querySelectorAll('.reaction') || [])].map(b => b.dataset.emoji + b.querySelector('.reaction-count').textContent)`
}

// seesChips waits until tb shows exactly want on the message whose text is text.
func (tb *tab) seesChips(text string, want ...string) {
	tb.t.Helper()
	w, _ := json.Marshal(want)
	if err := tb.poll(fmt.Sprintf("chips %v", want), `JSON.stringify(`+chipsOf(text)+`) === `+js(string(w)), waitShort); err != nil {
		tb.t.Fatalf("%v; shown: %v", err, eval[[]string](tb, chipsOf(text)))
	}
}

// TestReactions: a reaction picker stays open (and its click lands) while
// someone else reacts to the same message, and the chips keep first-use
// order everywhere: live, after a pin, after a reload, for a late joiner
// and in the CSV.
func TestReactions(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	a := startServer(t, chat.DefaultConfig())
	br := newBrowser(t)
	const room = "retro"
	token := func(identity, name string, admin bool) string {
		tok, err := a.Token(room, identity, name, admin)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	open := func(identity, name string, admin bool, w, h int64) *tab {
		tb := br.newTab(t, identity, w, h)
		tb.do(chromedp.Navigate(a.URL() + "/#token=" + token(identity, name, admin) + "&camera=off&mic=off"))
		tb.connected()
		return tb
	}
	alice := open("alice", "Alice Martin", true, 1280, 800)
	bob := open("bob", "Bob Chen", false, 1280, 800)
	carol := open("carol", "Carol Diaz", false, 1280, 800)
	const text = "Ship it on Friday?"
	alice.send(text)
	for _, tb := range []*tab{alice, bob, carol} {
		tb.waitJS("the message", msgEl(text), waitShort)
	}

	// Alice opens the picker; the element is marked so that a rebuilt one
	// would not pass for it.
	alice.action(text, "react")
	alice.waitJS("Alice's picker", `document.querySelector('.popover .emoji-row')`, waitShort)
	alice.run(`document.querySelector('.popover').dataset.mark = 'alice-picker'`)
	// Bob reacts 👍 through his own picker.
	bob.action(text, "react")
	bob.do(chromedp.Click(chromedp.CSS(`.popover [data-emoji="👍"]`)))
	alice.seesChips(text, "👍1")
	if !eval[bool](alice, `(() => { const p = document.querySelector('.popover'); return !!p && p.dataset.mark === 'alice-picker' && p.isConnected && !!p.closest('.msg.menu-open') && p.getBoundingClientRect().width > 0; })()`) {
		t.Fatal("Alice's picker closed (or was rebuilt) when Bob reacted")
	}
	alice.screenshot("reaction-picker-kept")
	// Her click, a real mouse click where the button is, lands: 👍2.
	alice.do(chromedp.Click(chromedp.CSS(`.popover [data-emoji="👍"]`)))
	alice.waitJS("the picker closed after the choice", `!document.querySelector('.popover')`, waitShort)
	bob.seesChips(text, "👍2")
	if title := eval[string](bob, `(`+msgEl(text)+`).querySelector('.reaction[data-emoji="👍"]').title`); !strings.HasPrefix(title, "you and Alice Martin") {
		t.Fatalf("the 👍 chip's title %q does not name both", title)
	}
	// Carol: 🎉. Then Alice pins the message: the pinned event carries the
	// server's copy, whose order replaces the live one.
	carol.action(text, "react")
	carol.do(chromedp.Click(chromedp.CSS(`.popover [data-emoji="🎉"]`)))
	for _, tb := range []*tab{alice, bob, carol} {
		tb.seesChips(text, "👍2", "🎉1")
	}
	alice.action(text, "pin")
	for _, tb := range []*tab{alice, bob, carol} {
		tb.waitJS("the pin", `!document.getElementById('pins').hidden && (`+msgEl(text)+`).classList.contains('pinned')`, waitShort)
		tb.seesChips(text, "👍2", "🎉1")
	}
	bob.do(chromedp.Reload())
	bob.connected()
	bob.seesChips(text, "👍2", "🎉1")
	dave := open("dave", "Dave Okafor", false, 390, 844)
	dave.run(`document.getElementById('btn-chat').click()`)
	dave.seesChips(text, "👍2", "🎉1")
	dave.screenshot("reaction-order-late-joiner-phone")

	// The CSV: the same order, with who reacted in order.
	var cell string
	deadline := time.Now().Add(waitShort)
	for {
		body := eval[string](alice, `bc.chatDownloadURL().then(u => fetch(u)).then(r => r.ok ? r.text() : 'HTTP ' + r.status)`)
		rows, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(body, "\ufeff"))).ReadAll()
		if err != nil {
			t.Fatalf("CSV: %v\n%s", err, short(body))
		}
		col := slices.Index(rows[0], "reactions")
		if col < 0 {
			t.Fatalf("CSV without a reactions column: %v", rows[0])
		}
		for _, r := range rows[1:] {
			if slices.Contains(r, text) {
				cell = r[col]
			}
		}
		if cell == "👍:bob|alice;🎉:carol" || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if cell != "👍:bob|alice;🎉:carol" {
		t.Fatalf("CSV reactions %q, want 👍:bob|alice;🎉:carol", cell)
	}
}

// TestChatPanel: the chat panel as people use it: a ✕ on desktop, long
// messages folded, an unread badge that counts only what came after
// joining, one colour per person, and rows that do not slip.
func TestChatPanel(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	a := startServer(t, chat.DefaultConfig())
	br := newBrowser(t)
	const room = "design"
	open := func(identity, name string, w, h int64) *tab {
		tok, err := a.Token(room, identity, name, false)
		if err != nil {
			t.Fatal(err)
		}
		tb := br.newTab(t, identity, w, h)
		tb.do(chromedp.Navigate(a.URL() + "/#token=" + tok + "&camera=off&mic=off"))
		tb.connected()
		return tb
	}
	const longName = "Bartholomew Maximilian Fitzgerald-Worthington"
	alice := open("alice", "Alice Martin", 1280, 800)
	bob := open("bob", longName, 1280, 800)
	carol := open("carol", "Carol Diaz", 1280, 800)

	// History before Dave comes.
	for i := 1; i <= 5; i++ {
		bob.send(fmt.Sprintf("earlier %d", i))
	}
	var lines []string
	for i := 1; i <= 30; i++ {
		lines = append(lines, fmt.Sprintf("line %d of the agenda", i))
	}
	long := strings.Join(lines, "\n")
	carol.send(long)
	alice.send("A short one")
	alice.send("and a second from me that is long enough to fill the bubble's whole width in the panel")
	alice.send("edit me")
	alice.waitJS("the history", msgEl("edit me"), waitShort)
	alice.action("edit me", "edit")
	alice.run(`document.querySelector('.msg.editing .edit-input').value = 'edited, and on one line'`)
	alice.click("Save", `document.querySelector('.msg.editing [data-action="save-edit"]')`)
	alice.waitJS("the edit", `(`+msgEl("edited, and on one line")+`)?.querySelector('.edited')`, waitShort)
	// The server leaves out kind ("text", its default) and every other
	// field at its default: the page read the messages as text, or it
	// would not have offered Edit above.
	if !eval[bool](alice, `(() => { const w = bc.received.filter(p => p.type === 'message').map(p => p.message); return w.length >= 9 && w.every(m => !('kind' in m) && !('deleted' in m) && !('pinned' in m) && !('to' in m)) && w.every(m => bc.messages.get(m.id).kind === 'text'); })()`) {
		t.Fatalf("message packets or their reading: %s", eval[string](alice, `JSON.stringify(bc.received.filter(p => p.type === 'message').slice(0, 2))`))
	}

	// A long message is folded at about 12 lines, and opens on request.
	body := `(` + msgEl(long) + `).querySelector('.msg-body')`
	alice.waitJS("the long message folded", body+`.classList.contains('folded') && `+body+`.scrollHeight > `+body+`.clientHeight + 100`, waitShort)
	if h := eval[float64](alice, body+`.getBoundingClientRect().height`); h > 16*20 {
		t.Fatalf("folded message %v px high", h)
	}
	alice.click("Show more", `(`+msgEl(long)+`).querySelector('.show-more')`)
	alice.waitJS("the whole message", `!`+body+`.classList.contains('folded') && (`+msgEl(long)+`).querySelector('.show-more').textContent === 'Show less'`, waitShort)
	alice.click("Show less", `(`+msgEl(long)+`).querySelector('.show-more')`)

	// Rows that do not slip: the time on one line beside a long name,
	// "(edited)" at the end of the text's line, and the own toolbar clear
	// of the own bubbles' text.
	head := `(` + msgEl("earlier 1") + `).querySelector('.msg-head')`
	if !eval[bool](alice, `(() => { const t = `+head+`.querySelector('time').getBoundingClientRect(); const n = `+head+`.querySelector('.msg-name').getBoundingClientRect(); return t.height < 22 && Math.abs(t.bottom - n.bottom) < 6 && t.right <= `+head+`.closest('.msg').getBoundingClientRect().right; })()`) {
		t.Fatal("the time wraps or leaves the row beside a long name")
	}
	if r := eval[[]float64](alice, `(() => { const m = `+msgEl("edited, and on one line")+`; const e = m.querySelector('.edited').getBoundingClientRect(); const l = [...m.querySelector('.msg-text').getClientRects()].pop(); return [e.top, e.bottom, e.left, l.top, l.bottom, l.right]; })()`); r[1] > r[4]+2 || r[0] < r[3]-2 || r[2] < r[5]-1 {
		t.Fatalf("(edited) is not on the text's last line: edited top %v bottom %v left %v, the line's top %v bottom %v right %v", r[0], r[1], r[2], r[3], r[4], r[5])
	}
	for _, text := range []string{"and a second from me that is long enough to fill the bubble's whole width in the panel", "edited, and on one line"} {
		if !eval[bool](alice, `(() => { const m = `+msgEl(text)+`; if (!m.classList.contains('cont')) return false; const a = m.querySelector('.msg-actions').getBoundingClientRect(); const b = m.querySelector('.bubble').getBoundingClientRect(); return a.right <= b.left || a.left >= b.right || a.bottom <= b.top || a.top >= b.bottom; })()`) {
			t.Fatalf("the action bar covers the own consecutive bubble %q", text)
		}
	}
	alice.run(`(` + msgEl("edited, and on one line") + `).querySelector('[data-action="react"]').focus()`)
	alice.screenshot("chat-panel-desktop")
	alice.run(`document.activeElement.blur()`)

	// One colour per person.
	colours := eval[[]string](alice, `['alice', 'bob', 'carol'].map(id => { const p = document.querySelector('#people-list [data-identity="' + id + '"] .avatar'); return p ? p.style.background : ''; })`)
	if slices.Contains(colours, "") || colours[0] == colours[1] || colours[1] == colours[2] || colours[0] == colours[2] {
		t.Fatalf("avatar colours %q: one per person expected", colours)
	}

	// The desktop panel closes with its ✕ and opens again.
	if !eval[bool](alice, `document.getElementById('side-close').getBoundingClientRect().width > 0`) {
		t.Fatal("no ✕ on the desktop chat panel")
	}
	alice.do(chromedp.Click(chromedp.ID("side-close")))
	alice.waitJS("the panel closed", `document.getElementById('side').hidden && document.getElementById('btn-chat').getAttribute('aria-pressed') === 'false'`, waitShort)
	alice.click("Chat", `document.getElementById('btn-chat')`)
	alice.waitJS("the panel open", `!document.getElementById('side').hidden`, waitShort)

	// Dave joins late on a phone (the panel closed): the history is not
	// unread; what comes after is.
	dave := open("dave", "Dave Okafor", 390, 844)
	dave.waitJS("the history", `bc.order.length >= 9`, waitShort)
	// The replay's messages come without kind; the edited one shows as a
	// text with its edit time, the others as texts.
	if !eval[bool](dave, `(() => { const w = bc.received.filter(p => p.type === 'history').flatMap(p => p.messages); return w.length >= 9 && w.every(m => !('kind' in m)) && bc.order.every(i => { const m = bc.messages.get(i); return m.kind === 'text' && typeof m.text === 'string' && m.text !== ''; }) && bc.order.some(i => bc.messages.get(i).editedAt); })()`) {
		t.Fatalf("the replay or its reading: %s", eval[string](dave, `JSON.stringify(bc.received.filter(p => p.type === 'history'))`))
	}
	time.Sleep(500 * time.Millisecond)
	if !eval[bool](dave, `document.getElementById('unread').hidden && bc.unreadCount() === 0`) {
		t.Fatalf("a late joiner starts with %q unread", eval[string](dave, `document.getElementById('unread').textContent`))
	}
	bob.send("welcome Dave")
	dave.waitJS("one unread", `!document.getElementById('unread').hidden && document.getElementById('unread').textContent === '1'`, waitShort)
	dave.screenshot("late-joiner-unread-phone")
}

// TestPageLoadsClean: loading the page (join page, invitation page, the
// meeting) causes no console error and no failed request, with --dev and
// without; GET /v1/config says which.
func TestPageLoadsClean(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	dev := startServer(t, chat.DefaultConfig())
	prod, err := app.New(app.Config{
		Addr: "127.0.0.1:0", DataDir: t.TempDir(), APIKey: "k", APISecret: "s-long-secret",
		RTC:    sfu.Config{UDPAddr: "127.0.0.1:0", LoopbackOnly: true},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	prod.Serve()
	t.Cleanup(func() { _ = prod.Close() })
	for _, c := range []struct {
		a    *app.App
		want string
	}{{dev, `{"dev":true}`}, {prod, `{"dev":false}`}} {
		res, err := http.Get(c.a.URL() + "/v1/config")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK || strings.TrimSpace(string(b)) != c.want || res.Header.Get("Content-Type") != "application/json" {
			t.Fatalf("GET /v1/config: %d %q %q, want 200 %s", res.StatusCode, res.Header.Get("Content-Type"), b, c.want)
		}
	}

	br := newBrowser(t)
	clean := func(tb *tab, what string) {
		t.Helper()
		time.Sleep(700 * time.Millisecond) // let late requests and log lines arrive
		if p := tb.problems(); len(p) > 0 {
			t.Fatalf("%s: %s: %q", tb.name, what, p)
		}
	}
	// --dev: the join page, then joining through it.
	d := br.newTab(t, "dev", 1280, 800)
	d.do(chromedp.Navigate(dev.URL() + "/?room=clean"))
	d.waitJS("the join form", `document.readyState === 'complete' && !document.getElementById('join-form').hidden`, waitShort)
	clean(d, "the dev join page")
	d.do(chromedp.SendKeys(chromedp.ID("join-name"), "Grace Hopper"))
	d.click("Join", `document.getElementById('join-submit')`)
	d.connected()
	clean(d, "joining in --dev")
	d.do(chromedp.Reload())
	d.connected()
	clean(d, "reloading the meeting in --dev")

	// Production: the invitation page, then a token link.
	p := br.newTab(t, "prod", 1280, 800)
	p.do(chromedp.Navigate(prod.URL() + "/"))
	p.waitJS("the invitation notice", `document.readyState === 'complete' && !document.getElementById('join-invite').hidden`, waitShort)
	clean(p, "the production start page")
	tok, err := prod.Token("clean", "heidi", "Heidi Lamar", false)
	if err != nil {
		t.Fatal(err)
	}
	p.do(chromedp.Navigate(prod.URL() + "/#token=" + tok))
	p.connected()
	clean(p, "joining with a token")
	if eval[bool](p, `!document.getElementById('menu-copy-link').hidden`) {
		t.Fatal("production offers the dev-only room link")
	}
}
