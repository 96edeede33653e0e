package web_test

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"testing"
)

// msgEl is a JS expression for the message element whose text is text.
func msgEl(text string) string {
	return fmt.Sprintf(`[...document.querySelectorAll('#message-list .msg')].find(e => { const t = e.querySelector('.msg-text'); return t && t.textContent === %s; })`, js(text))
}

// msgID is a JS expression for the id of the loaded message whose text is text.
func msgID(text string) string {
	return fmt.Sprintf(`(bc.order.map(i => bc.messages.get(i)).find(m => m.text === %s) || {}).id`, js(text))
}

// typeText puts text in the composer as typing would.
func (tb *tab) typeText(text string) {
	tb.t.Helper()
	tb.run(fmt.Sprintf(`(() => { const i = document.getElementById('chat-input'); i.focus(); i.value = %s; i.dispatchEvent(new Event('input', {bubbles: true})); })()`, js(text)))
}

// send types text and submits the composer.
func (tb *tab) send(text string) {
	tb.t.Helper()
	tb.typeText(text)
	tb.run(`document.getElementById('composer').requestSubmit()`)
}

// click clicks the element a JS expression names.
func (tb *tab) click(what, expr string) {
	tb.t.Helper()
	ok := eval[bool](tb, fmt.Sprintf(`(() => { const e = %s; if (!e) return false; e.click(); return true; })()`, expr))
	if !ok {
		tb.t.Fatalf("%s: nothing to click for %s", tb.name, what)
	}
}

// action clicks a message's action button (react, reply, edit, delete, pin).
func (tb *tab) action(text, action string) {
	tb.t.Helper()
	tb.click(action+" on "+text, fmt.Sprintf(`(%s)?.querySelector('[data-action="%s"]')`, msgEl(text), action))
}

func (tb *tab) connected() {
	tb.t.Helper()
	tb.waitJS("the meeting to connect", `window.bc && bc.state === 'connected' && bc.chatOpen`, waitLong)
}

// seesVideo waits until the tile of identity plays video that advances.
func (tb *tab) seesVideo(identity string) {
	tb.t.Helper()
	v := fmt.Sprintf(`document.querySelector('#grid .tile[data-identity=%s] video')`, js(identity))
	if err := tb.poll(identity+"'s video playing", fmt.Sprintf(`(() => { const v = %s; return v && v.videoWidth > 0 && v.currentTime > 0 && !v.paused; })()`, v), waitLong); err != nil {
		tb.b.logMedia(tb.t)
		tb.t.Fatal(err)
	}
	t0 := eval[float64](tb, v+".currentTime")
	tb.waitJS(identity+"'s video advancing", fmt.Sprintf(`%s.currentTime > %f`, v, t0+0.3), waitShort)
}

func tinyPNG(t *testing.T, w, h int) string {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.Set(x, y, color.RGBA{uint8(40 + 180*x/w), uint8(90 + 120*y/h), 230, 255})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "sunset.png")
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
