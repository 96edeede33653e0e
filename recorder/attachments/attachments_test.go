package attachments

import (
	"bytes"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/backchannel-rtc/backchannel/auth"
	"github.com/backchannel-rtc/backchannel/chat"
	"github.com/backchannel-rtc/backchannel/recorder"
)

func pngBytes(t testing.TB, w, h int) []byte {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	img.Set(0, 0, color.RGBA{255, 0, 0, 255})
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// A 1x1 lossless WebP (VP8L).
var webp1x1 = []byte("RIFF\x1a\x00\x00\x00WEBPVP8L\x0d\x00\x00\x00\x2f\x00\x00\x00\x10\x07\x10\x11\x11\x88\x88\xfe\x07\x00")

func blobFiles(t *testing.T, r *recorder.Recorder) (n int) {
	filepath.WalkDir(Dir(r.DataDir()), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			n++
		}
		return nil
	})
	return n
}

func uploadJSONOf(t *testing.T, res *http.Response, code int) uploadJSON {
	t.Helper()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != code {
		t.Fatalf("upload: %d, want %d: %s", res.StatusCode, code, b)
	}
	var u uploadJSON
	json.Unmarshal(b, &u)
	return u
}

func testAttachments(t *testing.T, b backend) {
	e := newAPIEnv(t, b, Config{MaxUploadBytes: 64 << 10})
	alice, bob, carol := token(t, "alice", "att", false), token(t, "bob", "att", false), token(t, "carol", "att", false)
	img := pngBytes(t, 3, 2)

	// Raw body with a name; multipart.
	u1 := uploadJSONOf(t, e.do(t, "POST", "/v1/rooms/att/attachments?name=cat.png", alice, bytes.NewReader(img)), 201)
	if !u1.Image || u1.Width != 3 || u1.Height != 2 || u1.ContentType != "image/png" || u1.Size != int64(len(img)) || u1.Name != "cat.png" {
		t.Fatalf("png upload %+v", u1)
	}
	var mp bytes.Buffer
	mw := multipart.NewWriter(&mp)
	fw, _ := mw.CreateFormFile("file", "../../etc/notes.txt")
	fw.Write([]byte("just some notes\n"))
	mw.Close()
	u2 := uploadJSONOf(t, e.do(t, "POST", "/v1/rooms/att/attachments", bob, &mp, "Content-Type", mw.FormDataContentType()), 201)
	if u2.Image || u2.ContentType != "text/plain; charset=utf-8" || u2.Name != "notes.txt" {
		t.Fatalf("text upload %+v", u2)
	}
	u3 := uploadJSONOf(t, e.do(t, "POST", "/v1/rooms/att/attachments", alice, bytes.NewReader(webp1x1),
		"Content-Disposition", `attachment; filename="w.webp"`), 201)
	if !u3.Image || u3.Width != 1 || u3.Height != 1 || u3.ContentType != "image/webp" || u3.Name != "w.webp" {
		t.Fatalf("webp upload %+v", u3)
	}
	// Same bytes again: a new row, one stored file.
	before := blobFiles(t, e.r)
	u4 := uploadJSONOf(t, e.do(t, "POST", "/v1/rooms/att/attachments", bob, bytes.NewReader(img)), 201)
	if u4.ID == u1.ID || blobFiles(t, e.r) != before || before != 3 {
		t.Fatalf("dedup: %d files before, %d after", before, blobFiles(t, e.r))
	}
	var hashes []string
	e.r.DB().Model(&recorder.AttachmentRow{}).Where("id IN ?", []string{u1.ID, u4.ID}).Pluck("hash", &hashes)
	if len(hashes) != 2 || hashes[0] != hashes[1] {
		t.Fatalf("hashes %v", hashes)
	}

	// Refusals: no token, another room's token, too big (declared and
	// chunked), empty. Nothing is left behind.
	answer(t, e.do(t, "POST", "/v1/rooms/att/attachments", "", bytes.NewReader(img)), 401)
	answer(t, e.do(t, "POST", "/v1/rooms/att/attachments", token(t, "alice", "other", false), bytes.NewReader(img)), 403)
	big := bytes.Repeat([]byte("x"), 65<<10)
	answer(t, e.do(t, "POST", "/v1/rooms/att/attachments", alice, bytes.NewReader(big)), 413)
	answer(t, e.do(t, "POST", "/v1/rooms/att/attachments", alice, io.MultiReader(bytes.NewReader(big))), 413) // chunked
	answer(t, e.do(t, "POST", "/v1/rooms/att/attachments", alice, bytes.NewReader(nil)), 400)
	if n := blobFiles(t, e.r); n != 3 {
		t.Fatalf("%d files after refused uploads", n)
	}
	var rows int64
	e.r.DB().Model(&recorder.AttachmentRow{}).Count(&rows)
	if rows != 4 {
		t.Fatalf("%d rows", rows)
	}

	// Messages reference the uploads: u1 in a group message, u2 privately
	// to alice.
	m1 := msg("att", 1, "alice", "", 1)
	m1.Message.Kind = chat.KindImage
	m1.Message.Attachment = &chat.Attachment{ID: u1.ID}
	m2 := msg("att", 2, "bob", "", 2, "alice")
	m2.Message.Kind = chat.KindFile
	m2.Message.Attachment = &chat.Attachment{ID: u2.ID}
	writeAll(t, e.r, m1, m2)

	link := func(tok, id string, code int) string {
		t.Helper()
		res := e.do(t, "GET", "/v1/attachments/"+id+"/url", tok, nil)
		b, _ := io.ReadAll(res.Body)
		if res.StatusCode != code {
			t.Fatalf("url for %s: %d, want %d: %s", id, res.StatusCode, code, b)
		}
		var v struct{ URL, ExpiresAt string }
		json.Unmarshal(b, &v)
		return v.URL
	}
	link(carol, u1.ID, 200)                             // group message: everyone
	link(alice, u2.ID, 200)                             // recipient
	link(bob, u2.ID, 200)                               // uploader
	link(carol, u2.ID, 403)                             // not in the audience
	link(carol, u3.ID, 403)                             // referenced by nothing
	link(token(t, "carol", "other", false), u1.ID, 403) // another room
	link(token(t, "ops", "", true), u2.ID, 200)         // admin
	link("", u1.ID, 401)
	link(carol, "nope", 404)

	// Download: headers, body, and refusals.
	res := e.do(t, "GET", link(carol, u1.ID, 200), "", nil)
	got, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 || !bytes.Equal(got, img) || res.Header.Get("Content-Type") != "image/png" ||
		res.Header.Get("Content-Disposition") != `inline; filename=cat.png` || res.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("image download %d %v", res.StatusCode, res.Header)
	}
	l2 := link(alice, u2.ID, 200)
	res = e.do(t, "GET", l2, "", nil)
	if res.StatusCode != 200 || res.Header.Get("Content-Disposition") != `attachment; filename=notes.txt` {
		t.Fatalf("file download %d %v", res.StatusCode, res.Header)
	}
	pu, _ := url.Parse(l2)
	q := pu.Query()
	q.Set("viewer", "carol") // reuse alice's link as carol
	pu.RawQuery = q.Encode()
	if v := answer(t, e.do(t, "GET", pu.String(), "", nil), 403); !strings.Contains(v["error"].(map[string]any)["message"].(string), "signature") {
		t.Fatalf("tampered: %v", v)
	}
	pu, _ = url.Parse(l2)
	pu.Path = "/v1/attachments/" + u1.ID // the signature is for another id
	answer(t, e.do(t, "GET", pu.String(), "", nil), 403)
	exp, _ := strconv.ParseInt(q.Get("exp"), 10, 64)
	if d := time.Until(time.Unix(exp, 0)); d < 59*time.Minute || d > 61*time.Minute {
		t.Fatalf("expiry in %v", d)
	}
	e.clock.Add(2 * time.Hour)
	if v := answer(t, e.do(t, "GET", l2, "", nil), 403); !strings.Contains(v["error"].(map[string]any)["message"].(string), "expired") {
		t.Fatalf("expired: %v", v)
	}

	// Storage that cannot be written: a clear JSON error, no row.
	os.RemoveAll(Dir(e.r.DataDir()))
	os.WriteFile(Dir(e.r.DataDir()), []byte("not a directory"), 0o600)
	v := answer(t, e.do(t, "POST", "/v1/rooms/att/attachments", alice, bytes.NewReader([]byte("hello"))), 500)
	if !strings.Contains(v["error"].(map[string]any)["message"].(string), "not writable") {
		t.Fatalf("storage error %v", v)
	}
	e.r.DB().Model(&recorder.AttachmentRow{}).Count(&rows)
	if rows != 4 {
		t.Fatalf("%d rows after failed upload", rows)
	}
}

func TestWebpSize(t *testing.T) {
	if w, h, ok := webpSize(webp1x1); !ok || w != 1 || h != 1 {
		t.Fatalf("VP8L %d %d %v", w, h, ok)
	}
	vp8x := append([]byte("RIFF\x00\x00\x00\x00WEBPVP8X\x0a\x00\x00\x00\x00\x00\x00\x00"), 0x3f, 0x01, 0x00, 0xef, 0x00, 0x00)
	if w, h, ok := webpSize(vp8x); !ok || w != 320 || h != 240 {
		t.Fatalf("VP8X %d %d %v", w, h, ok)
	}
	if _, _, ok := webpSize([]byte("RIFF....WEBPjunk")); ok {
		t.Fatal("junk accepted")
	}
}

// TestUploadNeedsCanPublishData: a participant whose token does not allow
// publishing data cannot upload an attachment (it could not send the
// message that carries it either).
func TestUploadNeedsCanPublishData(t *testing.T) {
	e := newAPIEnv(t, sqliteBackend, Config{})
	mute, err := testKeys.Mint(auth.TokenOptions{Identity: "viewer", TTL: time.Hour,
		Grant: auth.VideoGrant{Room: "att", RoomJoin: true, CanPublishData: auth.Bool(false)}})
	if err != nil {
		t.Fatal(err)
	}
	answer(t, e.do(t, "POST", "/v1/rooms/att/attachments?name=a.txt", mute, bytes.NewReader([]byte("hello"))), 403)
	if res := e.do(t, "POST", "/v1/rooms/att/attachments?name=a.txt", token(t, "alice", "att", false), bytes.NewReader([]byte("hello"))); res.StatusCode != 201 {
		t.Fatalf("upload with canPublishData: %d", res.StatusCode)
	}
}
