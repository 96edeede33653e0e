package attachments

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/backchannel-rtc/backchannel/chat"
	"github.com/backchannel-rtc/backchannel/recorder"
	"github.com/backchannel-rtc/backchannel/recorder/internal/rectest"
)

const testGrace = 300 * time.Millisecond

func (e *apiEnv) upload(t *testing.T, tok, content string) uploadJSON {
	t.Helper()
	return uploadJSONOf(t, e.do(t, "POST", "/v1/rooms/att/attachments?name=f.txt", tok, bytes.NewReader([]byte(content))), 201)
}

// rowsAndFiles is which upload rows exist, and fails if any row's file
// is missing (the sweeper must never remove a file a row names).
func (e *apiEnv) rowsAndFiles(t *testing.T) map[string]bool {
	t.Helper()
	var rows []recorder.AttachmentRow
	if err := e.r.DB().Find(&rows).Error; err != nil {
		t.Fatal(err)
	}
	a := &api{dir: Dir(e.r.DataDir())}
	out := map[string]bool{}
	for _, r := range rows {
		if _, err := os.Stat(a.blobPath(r.Hash)); err != nil {
			t.Fatalf("upload %s is still stored but its file is gone: %v", r.ID, err)
		}
		out[r.ID] = true
	}
	return out
}

// downloadable fetches id through a viewer's URL.
func (e *apiEnv) downloadable(t *testing.T, tok, id, want string) {
	t.Helper()
	res := e.do(t, "GET", "/v1/attachments/"+id+"/url", tok, nil)
	var v struct{ URL string }
	if err := json.NewDecoder(res.Body).Decode(&v); err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("url for %s: %d %v", id, res.StatusCode, err)
	}
	res = e.do(t, "GET", v.URL, "", nil)
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || string(b) != want {
		t.Fatalf("download of %s: %d %q, want %q", id, res.StatusCode, b, want)
	}
}

// testSweepUnreferenced: past the grace, an upload no message references
// goes (its file with its last row); one a message references stays, and
// so does one chat resolved for a message not yet stored (the writer may
// be behind), and the file it shares with a removed upload.
func testSweepUnreferenced(t *testing.T, b backend) {
	e := newAPIEnv(t, b, Config{Grace: testGrace})
	alice, bob := token(t, "alice", "att", false), token(t, "bob", "att", false)
	lone := e.upload(t, alice, "never sent")
	shared1 := e.upload(t, alice, "same bytes")
	shared2 := e.upload(t, bob, "same bytes")
	sent := e.upload(t, bob, "sent in a message")
	m := msg("att", 1, "bob", "", 1)
	m.Message.Kind = chat.KindFile
	m.Message.Attachment = &chat.Attachment{ID: sent.ID}
	writeAll(t, e.r, rectest.Join("att", "bob", "Bob", 0), m)

	// Within the grace nothing goes.
	if res, err := e.svc.Sweep(rectest.Ctx(t)); err != nil || res.Rows != 0 {
		t.Fatalf("sweep within the grace: %+v, %v", res, err)
	}
	time.Sleep(testGrace + 100*time.Millisecond)
	// bob's copy is being sent: chat resolved it, the writer has not
	// stored the message yet.
	if _, err := e.r.Attachment(rectest.Ctx(t), "att", shared2.ID); err != nil {
		t.Fatal(err)
	}
	res, err := e.svc.Sweep(rectest.Ctx(t))
	if err != nil || res.Rows != 2 || res.Files != 1 {
		t.Fatalf("sweep: %+v, %v; want 2 rows (lone, shared1) and 1 file (lone's)", res, err)
	}
	left := e.rowsAndFiles(t)
	if left[lone.ID] || left[shared1.ID] || !left[shared2.ID] || !left[sent.ID] || len(left) != 2 {
		t.Fatalf("left after the sweep: %v", left)
	}
	e.downloadable(t, bob, shared2.ID, "same bytes")
	e.downloadable(t, bob, sent.ID, "sent in a message")
	if _, err := e.r.Attachment(rectest.Ctx(t), "att", lone.ID); err == nil {
		t.Fatal("chat still resolves a removed upload")
	}
	// Once the message that named it is deleted, past the grace it goes too.
	writeAll(t, e.r, chat.Change{Kind: chat.ChangeDelete, Room: "att", MessageID: m.Message.ID, Identity: "bob", At: rectest.At(3)})
	time.Sleep(testGrace + 100*time.Millisecond)
	if res, err := e.svc.Sweep(rectest.Ctx(t)); err != nil || res.Rows != 2 || res.Files != 2 {
		t.Fatalf("second sweep: %+v, %v; want shared2 and sent, with their files", res, err)
	}
	if left := e.rowsAndFiles(t); len(left) != 0 || blobFiles(t, e.r) != 0 {
		t.Fatalf("left: %v rows, %d files", left, blobFiles(t, e.r))
	}
}

// testSweepRacingUpload: an upload of the same content as an expired one,
// at the same time as the sweep, keeps its file (the sweep and the
// upload's reuse of the file share the upload lock).
func testSweepRacingUpload(t *testing.T, b backend) {
	e := newAPIEnv(t, b, Config{Grace: testGrace})
	alice := token(t, "alice", "att", false)
	var old []uploadJSON
	for i := range 8 {
		old = append(old, e.upload(t, alice, fmt.Sprintf("content %d", i)))
	}
	time.Sleep(testGrace + 100*time.Millisecond)
	var wg sync.WaitGroup
	fresh := make([]uploadJSON, len(old))
	for i := range old {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res := e.do(t, "POST", "/v1/rooms/att/attachments?name=f.txt", alice, bytes.NewReader(fmt.Appendf(nil, "content %d", i)))
			b, _ := io.ReadAll(res.Body)
			if res.StatusCode != 201 {
				t.Errorf("re-upload %d: %d %s", i, res.StatusCode, b)
				return
			}
			_ = json.Unmarshal(b, &fresh[i])
		}()
	}
	swept := 0
	for range 4 {
		res, err := e.svc.Sweep(rectest.Ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		swept += res.Rows
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	left := e.rowsAndFiles(t) // every row's file is there
	for i := range old {
		if left[old[i].ID] || !left[fresh[i].ID] {
			t.Fatalf("round %d: expired upload kept %v, fresh one kept %v", i, left[old[i].ID], left[fresh[i].ID])
		}
		e.downloadable(t, alice, fresh[i].ID, fmt.Sprintf("content %d", i))
	}
	if swept != len(old) {
		t.Fatalf("%d rows swept, want %d", swept, len(old))
	}
}

// testSweepWaitsForUpload: a sweep that comes while an upload of the same
// content as an expired one has found the file but not yet stored its row
// waits for it (the upload lock), and so keeps the file.
func testSweepWaitsForUpload(t *testing.T, b backend) {
	e := newAPIEnv(t, b, Config{Grace: testGrace})
	sweepWaitsForUpload(t, e, e.svc)
}

// testSweepWaitsForOtherNodesUpload: the same across cluster nodes, which
// share the database and the attachments folder: another node's sweep
// waits for the upload too (PostgreSQL's advisory lock; a SQLite data
// folder belongs to one process).
func testSweepWaitsForOtherNodesUpload(t *testing.T, b backend) {
	e := newAPIEnv(t, b, Config{Grace: testGrace})
	if e.r.DB().Dialector.Name() != "postgres" {
		t.Skip("a SQLite data folder belongs to one process")
	}
	other := Register(http.NewServeMux(), e.r, rectest.Keys, Config{Grace: testGrace})
	t.Cleanup(func() { other.Close() })
	sweepWaitsForUpload(t, e, other)
}

func sweepWaitsForUpload(t *testing.T, e *apiEnv, sweeper *Service) {
	alice := token(t, "alice", "att", false)
	old := e.upload(t, alice, "shared content")
	time.Sleep(testGrace + 100*time.Millisecond)
	swept := make(chan SweepResult, 1)
	e.svc.a.beforeInsert = func() {
		go func() {
			res, err := sweeper.Sweep(rectest.Ctx(t))
			if err != nil {
				t.Error(err)
			}
			swept <- res
		}()
		time.Sleep(200 * time.Millisecond) // the sweep would run now, without the lock
	}
	fresh := e.upload(t, alice, "shared content")
	e.svc.a.beforeInsert = nil
	if res := <-swept; res.Rows != 1 || res.Files != 0 {
		t.Fatalf("sweep: %+v, want the expired row and no file", res)
	}
	if left := e.rowsAndFiles(t); left[old.ID] || !left[fresh.ID] {
		t.Fatalf("left: %v", left)
	}
	e.downloadable(t, alice, fresh.ID, "shared content")
}

// testSweeperRunsAndStops: with a grace, Register's sweeper runs by
// itself every SweepEvery, and Close stops it.
func testSweeperRunsAndStops(t *testing.T, b backend) {
	e := newAPIEnv(t, b, Config{Grace: 50 * time.Millisecond, SweepEvery: 20 * time.Millisecond})
	u := e.upload(t, token(t, "alice", "att", false), "soon gone")
	deadline := time.Now().Add(5 * time.Second)
	for e.rowsAndFiles(t)[u.ID] {
		if time.Now().After(deadline) {
			t.Fatal("the sweeper did not remove an expired upload")
		}
		time.Sleep(20 * time.Millisecond)
	}
	done := make(chan struct{})
	go func() { e.svc.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not stop the sweeper")
	}
	u = e.upload(t, token(t, "bob", "att", false), "stays: no sweeper")
	time.Sleep(150 * time.Millisecond)
	if !e.rowsAndFiles(t)[u.ID] {
		t.Fatal("an upload was removed after Close")
	}
}
