package web_test

import (
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/backchannel-rtc/backchannel/chat"
)

// TestWithdrawnMessageLeavesThePage: the database refuses a text chat
// could not know to refuse (a rule of the operator's). The message was
// already shown; both pages remove it when the server withdraws it, and
// an edit the database refuses is reverted to the stored text.
func TestWithdrawnMessageLeavesThePage(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	a := startServer(t, chat.DefaultConfig())
	for _, q := range []string{
		`CREATE TRIGGER test_forbidden_ins BEFORE INSERT ON messages WHEN NEW.text LIKE '%forbidden%'
			BEGIN SELECT RAISE(ABORT, 'forbidden text'); END`,
		`CREATE TRIGGER test_forbidden_upd BEFORE UPDATE ON messages WHEN NEW.text LIKE '%forbidden%'
			BEGIN SELECT RAISE(ABORT, 'forbidden text'); END`,
	} {
		if err := a.Recorder.DB().Exec(q).Error; err != nil {
			t.Fatal(err)
		}
	}
	br := newBrowser(t)
	alice, bob := br.newTab(t, "alice", 1280, 800), br.newTab(t, "bob", 1280, 800)
	for _, p := range []struct {
		tb       *tab
		id, name string
	}{{alice, "alice", "Alice"}, {bob, "bob", "Bob"}} {
		tok, err := a.Token("withdraw", p.id, p.name, false)
		if err != nil {
			t.Fatal(err)
		}
		p.tb.do(chromedp.Navigate(a.URL() + "/#token=" + tok + "&camera=off&mic=off"))
	}
	for _, tb := range []*tab{alice, bob} {
		tb.connected()
	}
	alice.send("fine words")
	bob.waitJS("the stored message", msgEl("fine words"), waitShort)

	// A new message the database refuses: gone from both pages.
	alice.send("some forbidden words")
	for _, tb := range []*tab{alice, bob} {
		tb.waitJS("the refused message withdrawn", `!`+msgEl("some forbidden words")+` && !bc.order.some((id) => bc.messages.get(id).text === "some forbidden words")`, waitShort)
		tb.waitJS("the stored message kept", msgEl("fine words"), waitShort)
	}
	// An edit the database refuses: back to the stored text everywhere.
	id := eval[string](alice, msgID("fine words"))
	alice.run(`bc.edit(` + js(id) + `, "now forbidden")`)
	for _, tb := range []*tab{alice, bob} {
		tb.waitJS("the refused edit reverted", `bc.messages.get(`+js(id)+`).text === "fine words" && !bc.messages.get(`+js(id)+`).editedAt`, waitShort)
		tb.waitJS("the row shows the stored text", msgEl("fine words"), waitShort)
	}
}
