package web_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/backchannel-rtc/backchannel/chat"
	"github.com/backchannel-rtc/backchannel/client"
	"github.com/backchannel-rtc/backchannel/protocol/e2ee"
)

// TestE2EEChatBrowser: end-to-end encrypted private messages between the
// Go client and the meeting page, both ways, in a room that requires them:
// the page shows the lock and "end-to-end encrypted", the fingerprints the
// two browsers show of each other's keys are those of the keys announced,
// and when bob's key changes (his site data cleared) the others are warned
// and his new key shows "Can't decrypt" for what was sealed to the old one.
func TestE2EEChatBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	cfg := chat.DefaultConfig()
	cfg.RequireE2EE = []string{"*"}
	a := startServer(t, cfg)
	const room = "vault"

	// Alice is a Go bot with a device key.
	akey, err := e2ee.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	read := map[string]client.Received{}
	tok, _ := a.Token(room, "alice", "Alice", false)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	alice, err := client.Join(ctx, a.URL(), tok, client.Options{LoopbackOnly: true, E2EEKey: akey,
		OnMessage: func(r client.Received) {
			mu.Lock()
			read[r.Text] = r
			mu.Unlock()
		}})
	if err != nil {
		t.Fatal(err)
	}
	defer alice.Close()

	br := newBrowser(t)
	open := func(identity, name string) *tab {
		tok, err := a.Token(room, identity, name, false)
		if err != nil {
			t.Fatal(err)
		}
		tb := br.newTab(t, identity, 1280, 800)
		tb.do(chromedp.Navigate(a.URL() + "/#token=" + tok + "&camera=off&mic=off"))
		tb.connected()
		return tb
	}
	bob := open("bob", "Bob")
	carol := open("carol", "Carol")

	// Go → browser.
	if err := alice.SendPrivateEncrypted(ctx, "g1", "sealed by Go for bob", "bob"); err != nil {
		t.Fatal(err)
	}
	bob.waitJS("the decrypted message with its lock", `(`+msgEl("sealed by Go for bob")+`)?.querySelector('.e2ee-mark')?.textContent === 'end-to-end encrypted'`, waitShort)
	bob.screenshot("e2ee-message")

	// Browser → Go, through the composer: Message Alice privately.
	bob.click("Message Alice", `document.querySelector('#people-list [data-identity="alice"] button[aria-label="Message Alice privately"]')`)
	bob.send("sealed by the browser for alice")
	deadline := time.Now().Add(waitShort)
	for {
		mu.Lock()
		r, ok := read["sealed by the browser for alice"]
		mu.Unlock()
		if ok {
			if !r.Encrypted || r.Message.E2EE == nil || r.Message.Text != "" {
				t.Fatalf("alice read %+v", r)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the Go client never read the browser's message")
		}
		time.Sleep(20 * time.Millisecond)
	}
	// A key the page has not seen is asked of the server (keys packet).
	carol.run(`(async () => { bc.e2ee.keys.delete('alice'); await bc.sendMessage('sealed after asking for the key', {to: ['alice']}); })()`)
	deadline = time.Now().Add(waitShort)
	for {
		mu.Lock()
		r, ok := read["sealed after asking for the key"]
		mu.Unlock()
		if ok && r.Encrypted {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the Go client never read carol's message sealed after a keys request")
		}
		time.Sleep(20 * time.Millisecond)
	}
	bob.waitJS("bob's own message shown with its lock", `!!(`+msgEl("sealed by the browser for alice")+`)?.querySelector('.e2ee-mark')`, waitShort)

	// Encrypted files, both ways: the page shows the real name from the
	// sealed content and decrypts the download.
	if err := alice.SendPrivateEncryptedFile(ctx, "f1", "go-secret.txt", "text/plain", []byte("file from Go"), "", "bob"); err != nil {
		t.Fatal(err)
	}
	bob.waitJS("the encrypted file's card", `[...document.querySelectorAll('#message-list .file-name')].some(e => e.textContent === 'go-secret.txt')`, waitShort)
	bob.screenshot("e2ee-file")
	if got := eval[string](bob, `bc.downloadEncryptedFile(bc.order.map(i => bc.messages.get(i)).find(m => m.e2eeFile && m.e2eeFile.name === 'go-secret.txt')).then(f => f.text())`); got != "file from Go" {
		t.Fatalf("the page decrypted %q", got)
	}
	bob.run(`(async () => { await bc.sendFile(new File(['file from the browser'], 'page.txt', {type: 'text/plain'}), {to: ['alice'], text: 'a caption'}); })()`)
	deadline = time.Now().Add(waitShort)
	for {
		mu.Lock()
		r, ok := read["a caption"]
		mu.Unlock()
		if ok {
			if r.File == nil || r.File.Name != "page.txt" || !r.Encrypted || r.Message.Attachment.Name != "encrypted" {
				t.Fatalf("alice read the page's file as %+v", r)
			}
			b, err := alice.DownloadEncryptedFile(ctx, r)
			if err != nil || string(b) != "file from the browser" {
				t.Fatalf("alice decrypted %q, %v", b, err)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the Go client never read the page's encrypted file")
		}
		time.Sleep(20 * time.Millisecond)
	}

	// Fingerprints: what carol sees of alice is alice's key's; what carol
	// sees of bob is what bob's own row shows of his key.
	fpOf := func(tb *tab, identity string) string {
		q := fmt.Sprintf(`document.querySelector('#people-list [data-identity="%s"] .person-fp')?.dataset.fingerprint || ''`, identity)
		tb.waitJS(identity+"'s fingerprint", q+` !== ''`, waitShort)
		return eval[string](tb, q)
	}
	if got, want := fpOf(carol, "alice"), akey.Public().Fingerprint(); got != want {
		t.Fatalf("carol shows alice's fingerprint %q, want %q", got, want)
	}
	bobKey, err := e2ee.ParsePublicKey(eval[string](bob, `bc.e2ee.key.publicKey`))
	if err != nil {
		t.Fatal(err)
	}
	if a, b, c := fpOf(bob, "bob"), fpOf(carol, "bob"), bobKey.Fingerprint(); a != c || b != c {
		t.Fatalf("bob's fingerprint: on his screen %q, on carol's %q, of his key %q", a, b, c)
	}

	// Bob's key changes: his site data is cleared and he comes back.
	bob.run(`(async () => { await (await import('/e2ee.js')).deleteDeviceKey('identity:bob'); })()`)
	bob.do(chromedp.Reload())
	bob.connected()
	carol.waitJS("the key change warning", `document.querySelector('#people-list [data-identity="bob"] .person-fp.changed') !== null && !document.getElementById('toast').hidden && document.getElementById('toast').textContent.includes("Bob's encryption key changed")`, waitShort)
	carol.screenshot("e2ee-key-changed")
	if fpOf(carol, "bob") == bobKey.Fingerprint() {
		t.Fatal("carol still shows bob's old fingerprint")
	}
	bob.waitJS("can't decrypt for what was sealed to the old key", `[...document.querySelectorAll('#message-list .e2ee-failed')].length === 4 && !document.querySelector('#message-list .file-card') && !document.querySelector('#message-list .msg-text')`, waitShort)
	bob.screenshot("e2ee-cant-decrypt")
}
