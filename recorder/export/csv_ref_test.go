package export

// The export as it was before the streaming rewrite (GORM chunks of
// csvChunk rows, loadExtras per chunk, encoding/csv through writeRow): the
// oracle the streaming export must match byte for byte.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/backchannel-rtc/backchannel/chat"
	"github.com/backchannel-rtc/backchannel/protocol/e2ee"
	"github.com/backchannel-rtc/backchannel/recorder"
)

// writeCSVReference is the former WriteCSV.
func (r *testRec) writeCSVReference(ctx context.Context, w io.Writer, scope Scope, o Options) (int, error) {
	bw := bufio.NewWriterSize(w, 64<<10)
	if o.BOM {
		bw.WriteString("\uFEFF")
	}
	cw := newCSVWriter(bw)
	if err := cw.Write(Header); err != nil {
		return 0, err
	}
	col, val, err := r.scopeColumn(ctx, scope)
	if err != nil {
		return 0, err
	}
	rows := make([]recorder.MessageRow, 0, csvChunk)
	rec := make([]string, len(Header))
	n := 0
	var last int64
	for {
		rows = rows[:0]
		if err := r.db.WithContext(ctx).Where(col+" = ? AND seq > ?", val, last).
			Order("seq").Limit(csvChunk).Find(&rows).Error; err != nil {
			return n, err
		}
		if len(rows) == 0 {
			break
		}
		msgs, err := r.Messages(ctx, rows)
		if err != nil {
			return n, err
		}
		var attIDs []string
		for i := range msgs {
			if a := msgs[i].Attachment; a != nil {
				attIDs = append(attIDs, a.ID)
			}
		}
		atts := map[string]*recorder.AttachmentRow{}
		if len(attIDs) > 0 {
			var list []recorder.AttachmentRow
			if err := r.db.WithContext(ctx).Where("id IN ?", attIDs).Find(&list).Error; err != nil {
				return n, err
			}
			for i := range list {
				atts[list[i].ID] = &list[i]
			}
		}
		for i := range rows {
			m, cm := &rows[i], &msgs[i]
			payload := m.Text
			if m.Kind == string(chat.KindImage) || m.Kind == string(chat.KindFile) {
				payload = ""
				if cm.Attachment != nil && !m.Deleted {
					a := atts[cm.Attachment.ID]
					if o.AttachmentURL != nil {
						payload = o.AttachmentURL(a)
					} else {
						payload = "attachment:" + a.ID
					}
				}
			}
			if m.Deleted || m.E2EE != nil {
				payload = "" // an encrypted file's URL too: its bytes are ciphertext
			}
			rec[0] = m.ID
			rec[1] = m.Sender
			rec[2] = m.SessionID
			rec[3] = m.MeetingID
			rec[4] = m.SenderName
			rec[5] = strconv.FormatBool(cm.Pinned)
			rec[6] = strconv.FormatBool(m.EditedAt != nil)
			rec[7] = payloadType(m.Kind)
			rec[8] = payload
			rec[9] = m.CreatedAt.UTC().Format(csvTime)
			rec[10] = strings.Join(cm.To, ";")
			rec[11] = m.ReplyTo
			rec[12] = formatReactions(cm.Reactions)
			rec[13] = strconv.FormatBool(m.Deleted)
			rec[14] = strconv.FormatInt(m.Seq, 10)
			rec[15] = strconv.FormatBool(m.E2EE != nil)
			if err := writeRow(cw, rec); err != nil {
				return n, err
			}
			n++
		}
		last = rows[len(rows)-1].Seq
		cw.Flush()
		if err := cw.Error(); err != nil {
			return n, err
		}
		if err := bw.Flush(); err != nil {
			return n, err
		}
		if o.Flush != nil {
			o.Flush()
		}
		if o.Progress != nil {
			o.Progress(n)
		}
		if len(rows) < csvChunk {
			break
		}
		clear(rows) // let the previous chunk's strings go
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return n, err
	}
	return n, bw.Flush()
}

// The cell rules of the contract, as the former export applied them
// (appendCell must write the same bytes).

// neutralise defuses cells a spreadsheet would run as a formula, as OWASP
// advises: prefix a single quote.
func neutralise(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// newCSVWriter writes RFC 4180 records with CRLF record ends.
func newCSVWriter(w io.Writer) *csv.Writer {
	cw := csv.NewWriter(w)
	cw.UseCRLF = true
	return cw
}

// writeRow neutralises every cell of rec (in place) and writes it. Line
// breaks inside a cell become LF: encoding/csv with UseCRLF writes an LF as
// CRLF and silently drops a CR, so without this "a\rb" would be exported
// as "ab", and "a\r\nb" would come back as "a\nb" anyway.
func writeRow(cw *csv.Writer, rec []string) error {
	for j := range rec {
		rec[j] = normaliseBreaks(neutralise(rec[j]))
	}
	return cw.Write(rec)
}

// normaliseBreaks turns CRLF and lone CR into LF.
func normaliseBreaks(s string) string {
	if !strings.Contains(s, "\r") {
		return s
	}
	return strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\r", "\n")
}

// formatReactions gives "👍:alice|bob;🎉:carol".
func formatReactions(rs []chat.Reaction) string {
	var b strings.Builder
	for i, r := range rs {
		if i > 0 {
			b.WriteByte(';')
		}
		b.WriteString(r.Emoji)
		b.WriteByte(':')
		b.WriteString(strings.Join(r.Identities, "|"))
	}
	return b.String()
}

// seedVaried records, in room "var", two sessions of n messages each with
// every feature the CSV shows (pins, reactions, edits, deletions, private
// recipients, attachments, present and missing, cells to quote, to
// neutralise or with line breaks), plus another room's messages sharing
// the attachments, and returns the sessions.
func seedVaried(t *testing.T, r *testRec, n int) []recorder.Session {
	t.Helper()
	img := recorder.AttachmentRow{ID: "01JVARIMG00000000000000001", Room: "var", Uploader: "alice", Name: "cat.png",
		ContentType: "image/png", Size: 4, Hash: strings.Repeat("ab", 32), Image: true, Width: 3, Height: 2, CreatedAt: at(0).Add(123456 * time.Microsecond)}
	file := recorder.AttachmentRow{ID: "01JVARFILE0000000000000001", Room: "var", Uploader: "bob", Name: "a,\"b\".pdf",
		ContentType: "application/pdf", Size: 9, Hash: strings.Repeat("cd", 32), CreatedAt: at(0)}
	if err := r.db.Create(&[]recorder.AttachmentRow{img, file}).Error; err != nil {
		t.Fatal(err)
	}
	texts := []string{"hello, world", "say \"hi\"", "multi\nline", "cr\rinside", "crlf\r\nin", "=1+1", "+1", "-2",
		"@SUM(A1)", "\tindent", "\rcr first", " leading space", "\u00a0nbsp first", "\u2028sep", `\.`, "", "日本語 ✓ 🎉",
		"trailing space ", "'quoted already", "semi;colon|pipe:colon"}
	names := []string{"Alice", "=HYPERLINK(\"x\")", "Bob, Jr.", " spaced", "Zoë"}
	tos := [][]string{nil, {"bob"}, {"bob", "carol"}, {"a,b", "c\"d"}, {"back\\slash"}, {"=evil", "ünï"}, {"x<y>&z"}}
	emojis := []string{"👍", "🎉", "👍", "=", "a,b"}
	var seq int64
	for s := 0; s < 2; s++ {
		changes := []chat.Change{join("var", "alice", "Alice", 0), join("var", "bob", "Bob", 0)}
		var edits []chat.Change
		for i := 0; i < n; i++ {
			seq++
			from := []string{"alice", "bob", "carol"}[i%3]
			c := msg("var", seq, from, texts[i%len(texts)], int(seq), tos[i%len(tos)]...)
			c.Message.SenderName = names[i%len(names)]
			if i%7 == 3 {
				c.Message.ReplyTo = fmt.Sprintf("mvar%06d", seq-1)
			}
			switch i % 11 {
			case 4:
				c.Message.Kind, c.Message.Attachment = chat.KindImage, img.Chat()
			case 5:
				c.Message.Kind, c.Message.Attachment = chat.KindFile, file.Chat()
			case 6: // an attachment whose row is gone
				c.Message.Kind, c.Message.Attachment = chat.KindFile, &chat.Attachment{ID: "01JVARGONE0000000000000001"}
			case 8: // end-to-end encrypted: chat keeps no text
				if len(c.Message.To) > 0 {
					c.Message.Text = ""
					c.Message.E2EE = &e2ee.Envelope{Suite: e2ee.Suite, Nonce: "AAAAAAAAAAAAAAAA", Ciphertext: "ENCRYPTED-MARKER",
						Keys: []e2ee.SealedKey{{Identity: from, Enc: "BA==", Key: "AA=="}}}
				}
			}
			changes = append(changes, c)
			id := c.Message.ID
			if i%13 == 2 {
				edits = append(edits, chat.Change{Kind: chat.ChangeEdit, Room: "var", MessageID: id, Text: "edited, \"now\"", At: at(int(seq) + 1)})
			}
			if i%17 == 5 {
				edits = append(edits, chat.Change{Kind: chat.ChangeDelete, Room: "var", MessageID: id, Identity: from, At: at(int(seq) + 2)})
			}
			if i%5 == 1 {
				for j := 0; j < 1+i%4; j++ {
					edits = append(edits, chat.Change{Kind: chat.ChangeReaction, Room: "var", MessageID: id,
						Identity: []string{"alice", "bob", "carol", "d|e"}[j], Emoji: emojis[(i/5+j)%len(emojis)], On: true, At: at(int(seq) + 3 - j%2)})
				}
			}
			if i%9 == 8 {
				edits = append(edits, chat.Change{Kind: chat.ChangePin, Room: "var", MessageID: id, Identity: "alice", On: true, At: at(int(seq) + 4)})
			}
		}
		changes = append(changes, edits...)
		changes = append(changes, leave("var", "alice", int(seq)+10), leave("var", "bob", int(seq)+10), end("var", int(seq)+10))
		writeAll(t, r, changes...)
	}
	// Noise in another room, on the same attachments.
	noise := []chat.Change{join("other", "eve", "Eve", 0)}
	for i := int64(1); i <= 50; i++ {
		c := msg("other", i, "eve", "noise", int(i))
		if i%2 == 0 {
			c.Message.Kind, c.Message.Attachment = chat.KindImage, img.Chat()
		}
		noise = append(noise, c, chat.Change{Kind: chat.ChangeReaction, Room: "other", MessageID: c.Message.ID,
			Identity: "eve", Emoji: "👍", On: true, At: at(int(i))})
	}
	writeAll(t, r, noise...)
	var ss []recorder.Session
	if err := r.db.Where("room = ?", "var").Order("id").Find(&ss).Error; err != nil || len(ss) != 2 {
		t.Fatalf("sessions %v %v", ss, err)
	}
	return ss
}

// testCSVMatchesReference: the streaming export writes exactly what the
// former export wrote, for sessions and meetings, with and without
// attachment URLs and BOM, across several chunks, calling Progress at
// the same counts.
func testCSVMatchesReference(t *testing.T, b backend) {
	r := openT(t, b.Config(t))
	ss := seedVaried(t, r, 300)
	url := func(a *recorder.AttachmentRow) string {
		return fmt.Sprintf("https://x/%s/%s/%s/%d/%v/%dx%d?%s&%s&%s&%s", a.ID, a.Room, a.Name, a.Size, a.Image,
			a.Width, a.Height, a.Uploader, a.ContentType, a.Hash, a.CreatedAt.UTC().Format(time.RFC3339Nano))
	}
	// And the benchmark's data (perf_export_test.go), written in SQL:
	// more than one csvChunk.
	seeded := seedExport(t, r, "seeded", 1100)
	for _, sc := range []Scope{{SessionID: ss[0].ID}, {SessionID: ss[1].ID}, {MeetingID: ss[0].MeetingID},
		{SessionID: "none"}, {SessionID: seeded}} {
		for _, o := range []Options{{}, {BOM: true, AttachmentURL: url}} {
			if o.BOM && sc.SessionID != ss[0].ID && sc.MeetingID == "" {
				continue // options once per kind of scope is enough
			}
			var got, want bytes.Buffer
			var gotP, wantP []int
			o.Progress = func(n int) { gotP = append(gotP, n) }
			n, err := r.WriteCSV(ctxT(t), &got, sc, o)
			o.Progress = func(n int) { wantP = append(wantP, n) }
			wn, werr := r.writeCSVReference(ctxT(t), &want, sc, o)
			if err != nil || werr != nil || n != wn {
				t.Fatalf("%+v: %d rows (%v), reference %d (%v)", sc, n, err, wn, werr)
			}
			if !bytes.Equal(got.Bytes(), want.Bytes()) {
				g, w := strings.Split(got.String(), "\r\n"), strings.Split(want.String(), "\r\n")
				for i := range min(len(g), len(w)) {
					if g[i] != w[i] {
						t.Fatalf("%+v: line %d differs:\n got %q\nwant %q", sc, i, g[i], w[i])
					}
				}
				t.Fatalf("%+v: %d lines, reference %d", sc, len(g), len(w))
			}
			if fmt.Sprint(gotP) != fmt.Sprint(wantP) {
				t.Fatalf("%+v: progress %v, reference %v", sc, gotP, wantP)
			}
			if sc.SessionID == ss[0].ID && !o.BOM {
				checkVariety(t, got.Bytes())
			}
		}
	}
	if _, err := r.WriteCSV(ctxT(t), io.Discard, Scope{MeetingID: "none"}, Options{}); err == nil {
		t.Fatal("unknown meeting exported")
	}
}

// checkVariety fails unless the export shows every feature seedVaried
// meant to cover (so the comparison above compares something).
func checkVariety(t *testing.T, data []byte) {
	t.Helper()
	recs, err := csv.NewReader(bytes.NewReader(data)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(data, []byte("ENCRYPTED-MARKER")) {
		t.Fatal("the export carries an envelope")
	}
	seen := map[string]int{}
	for _, r := range recs[1:] {
		for what, ok := range map[string]bool{
			"pinned": r[5] == "true", "edited": r[6] == "true", "image": r[7] == "IMAGE_MESSAGE",
			"file url": strings.HasPrefix(r[8], "attachment:"), "missing file": r[7] == "FILE_MESSAGE" && r[8] == "",
			"quoted payload": strings.Contains(r[8], "\""), "line break": strings.Contains(r[8], "\n"),
			"neutralised": strings.HasPrefix(r[8], "'"), "recipients": strings.Contains(r[10], ";"),
			"escaped recipient": strings.Contains(r[10], "\\"), "reply": r[11] != "",
			"reactions": strings.Contains(r[12], ";") && strings.Contains(strings.ReplaceAll(r[12], "d|e", ""), "|"), "deleted": r[13] == "true",
			"encrypted": r[15] == "true" && r[8] == "" && r[10] != "",
		} {
			if ok {
				seen[what]++
			}
		}
	}
	if len(seen) != 14 {
		t.Fatalf("the seeded chat lacks some features: %v", seen)
	}
}

// failingWriter fails once it has taken n bytes (a client gone away).
type failingWriter struct{ n int }

func (f *failingWriter) Write(p []byte) (int, error) {
	if len(p) > f.n {
		return 0, io.ErrClosedPipe
	}
	f.n -= len(p)
	return len(p), nil
}

// testCSVAbort: an export whose client goes away, or whose context ends,
// returns the error and leaves nothing behind: the streams' connections
// and slots are released (more exports than slots then run), and the
// writer still writes.
func testCSVAbort(t *testing.T, b backend) {
	r := openT(t, b.Config(t))
	sid := seedExport(t, r, "ab", 1500)
	for i := 0; i < cap(r.slots)+1; i++ {
		if _, err := r.WriteCSV(ctxT(t), &failingWriter{n: 100 << 10}, Scope{SessionID: sid}, Options{}); err == nil {
			t.Fatal("export to a failing writer succeeded")
		}
		ctx, cancel := context.WithCancel(context.Background())
		n := 0
		_, err := r.WriteCSV(ctx, io.Discard, Scope{SessionID: sid}, Options{Progress: func(rows int) {
			if n++; n == 1 {
				cancel()
			}
		}})
		cancel()
		if err == nil {
			t.Fatal("cancelled export succeeded")
		}
	}
	writeAll(t, r, msg("ab", 1501, "alice", "still writing", 1501)) // seedExport's session is open
	var buf bytes.Buffer
	if n, err := r.WriteCSV(ctxT(t), &buf, Scope{SessionID: sid}, Options{}); err != nil || n != 1501 {
		t.Fatalf("export after aborts: %d rows, %v", n, err)
	}
}

// testCSVSlowClients: exports held by clients that do not read take at
// most their slots' connections: the writer and reads go on meanwhile.
func testCSVSlowClients(t *testing.T, b backend) {
	r := openT(t, b.Config(t))
	sid := seedExport(t, r, "slow", 1500)
	release := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < cap(r.slots)+3; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Blocks in its first Write until released (or waits for a slot).
			_, _ = r.WriteCSV(context.Background(), blockingWriter(release), Scope{SessionID: sid}, Options{})
		}()
	}
	time.Sleep(200 * time.Millisecond) // let the exports take what they can
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := int64(1); i <= 20; i++ {
			writeAll(t, r, msg("slow2", i, "bob", "meanwhile", int(i)))
			if _, err := r.History(context.Background(), "slow2", "", 0, 10); err != nil {
				t.Error(err)
			}
		}
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("writes and reads starved by exports")
	}
	close(release)
	wg.Wait()
}

func blockingWriter(release chan struct{}) io.Writer {
	return writerFunc(func(p []byte) (int, error) {
		<-release
		return len(p), nil
	})
}

type writerFunc func(p []byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func payloadType(k string) string {
	switch chat.Kind(k) {
	case chat.KindImage:
		return "IMAGE_MESSAGE"
	case chat.KindFile:
		return "FILE_MESSAGE"
	}
	return "TEXT_MESSAGE"
}

func TestNeutralise(t *testing.T) {
	for in, want := range map[string]string{"=1": "'=1", "+1": "'+1", "-1": "'-1", "@a": "'@a", "\tx": "'\tx",
		"\rx": "'\rx", "a=1": "a=1", "": "", "'=": "'="} {
		if got := neutralise(in); got != want {
			t.Errorf("neutralise(%q) = %q, want %q", in, got, want)
		}
	}
}
