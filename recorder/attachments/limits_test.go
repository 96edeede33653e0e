package attachments

import (
	"bytes"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"
)

func upload(t *testing.T, e *apiEnv, room, tok string, body []byte) *http.Response {
	t.Helper()
	return e.do(t, "POST", "/v1/rooms/"+room+"/attachments?name=f.txt", tok, bytes.NewReader(body))
}

// testUploadRate: a participant past its burst gets 429 with a
// Retry-After while another participant of the room still uploads; the
// bucket refills with time.
func testUploadRate(t *testing.T, b backend) {
	e := newAPIEnv(t, b, Config{UploadRate: 6, UploadBurst: 3}) // one every 10 s
	alice, bob := token(t, "alice", "rate", false), token(t, "bob", "rate", false)
	for i := range 3 {
		uploadJSONOf(t, upload(t, e, "rate", alice, []byte(fmt.Sprint("a", i))), 201)
	}
	res := upload(t, e, "rate", alice, []byte("a3"))
	if ra, _ := strconv.Atoi(res.Header.Get("Retry-After")); ra < 1 || ra > 10 {
		t.Fatalf("Retry-After %q, want 1..10", res.Header.Get("Retry-After"))
	}
	if v := answer(t, res, http.StatusTooManyRequests); v["error"] == nil {
		t.Fatalf("429 without an error: %v", v)
	}
	uploadJSONOf(t, upload(t, e, "rate", bob, []byte("b0")), 201)
	e.clock.Add(10 * time.Second)
	uploadJSONOf(t, upload(t, e, "rate", alice, []byte("a4")), 201)
	answer(t, upload(t, e, "rate", alice, []byte("a5")), http.StatusTooManyRequests)
}

// testRoomQuota: the upload that would pass the room's quota gets 413,
// the room keeps its bytes, another room still uploads, and concurrent
// uploads never overshoot.
func testRoomQuota(t *testing.T, b backend) {
	e := newAPIEnv(t, b, Config{RoomQuota: 1000})
	alice, bob := token(t, "alice", "q1", false), token(t, "bob", "q2", false)
	uploadJSONOf(t, upload(t, e, "q1", alice, bytes.Repeat([]byte("a"), 600)), 201)
	uploadJSONOf(t, upload(t, e, "q1", alice, bytes.Repeat([]byte("b"), 400)), 201) // exactly full
	if v := answer(t, upload(t, e, "q1", alice, []byte("c")), http.StatusRequestEntityTooLarge); v["error"] == nil {
		t.Fatalf("413 without an error: %v", v)
	}
	uploadJSONOf(t, upload(t, e, "q2", bob, bytes.Repeat([]byte("d"), 900)), 201)

	// Eight concurrent 100-byte uploads into a room with room for three.
	carol := token(t, "carol", "q3", false)
	uploadJSONOf(t, upload(t, e, "q3", carol, bytes.Repeat([]byte("e"), 700)), 201)
	var wg sync.WaitGroup
	codes := make([]int, 8)
	for i := range codes {
		wg.Go(func() {
			res := upload(t, e, "q3", carol, bytes.Repeat([]byte{byte('f' + i)}, 100))
			codes[i] = res.StatusCode
		})
	}
	wg.Wait()
	created := 0
	for _, c := range codes {
		if c == http.StatusCreated {
			created++
		} else if c != http.StatusRequestEntityTooLarge {
			t.Fatalf("concurrent upload: %d", c)
		}
	}
	var used int64
	e.r.DB().Table("attachments").Where("room = ?", "q3").Select("COALESCE(SUM(size), 0)").Scan(&used)
	if created != 3 || used != 1000 {
		t.Fatalf("concurrent: %d created, %d bytes stored; want 3 and 1000", created, used)
	}
}

// The limiter map never passes maxUploaders: refilled buckets are
// dropped, and while none has refilled a new uploader waits.
func TestUploadRatesBounded(t *testing.T) {
	u := newUploadRates(60, 2) // full again 2 s after its last use
	now := time.Unix(1e9, 0)
	for i := range maxUploaders {
		if _, ok := u.allow("r", strconv.Itoa(i), now); !ok {
			t.Fatalf("uploader %d refused", i)
		}
	}
	if d, ok := u.allow("r", "late", now); ok || d <= 0 {
		t.Fatalf("map full of busy buckets: allowed=%v wait=%v", ok, d)
	}
	if _, ok := u.allow("r", "late", now.Add(2*time.Second)); !ok || len(u.m) != 1 {
		t.Fatalf("refilled buckets not dropped: allowed=%v, %d kept", ok, len(u.m))
	}
}
