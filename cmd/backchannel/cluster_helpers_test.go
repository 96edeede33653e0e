package main

import (
	"context"
	"encoding/csv"
	"net/http"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/backchannel-rtc/backchannel/auth"
)

type clusterRow struct {
	seq, epoch int64
	clientID   string
}

func pgConn(t *testing.T, dsn string) (*pgx.Conn, context.Context, func()) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	return conn, ctx, func() { conn.Close(context.Background()); cancel() }
}

func clusterRows(t *testing.T, dsn, room string) []clusterRow {
	conn, ctx, done := pgConn(t, dsn)
	defer done()
	rows, err := conn.Query(ctx, `SELECT seq, epoch, client_id FROM messages WHERE room = $1 ORDER BY seq`, room)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []clusterRow
	for rows.Next() {
		var r clusterRow
		if err := rows.Scan(&r.seq, &r.epoch, &r.clientID); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

func sessionCount(t *testing.T, dsn, room string) int {
	conn, ctx, done := pgConn(t, dsn)
	defer done()
	var n int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM sessions WHERE room = $1`, room).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func waitUntil(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// meetingCSV downloads the chat replay CSV of room's meeting through the
// API at base, as its owner would, and counts each payload.
func meetingCSV(t *testing.T, base, room string) map[string]int {
	t.Helper()
	admin, _ := auth.KeyProvider{APIKey: "devkey", APISecret: "secret"}.Mint(auth.TokenOptions{
		Identity: "owner", Grant: auth.VideoGrant{Room: room, RoomAdmin: true}})
	var list struct {
		Data struct {
			Meetings []struct {
				ID string `json:"id"`
			} `json:"meetings"`
		} `json:"data"`
	}
	getJSON(t, base+"/v1/meetings?room="+room, admin, &list)
	if len(list.Data.Meetings) != 1 {
		t.Fatalf("meetings of %s: %+v", room, list.Data.Meetings)
	}
	var link struct {
		Data struct {
			URL string `json:"chat_download_url"`
		} `json:"data"`
	}
	getJSON(t, base+"/v1/meetings/"+list.Data.Meetings[0].ID+"/chat", admin, &link)
	resp, err := http.Get(link.Data.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	rows, err := csv.NewReader(resp.Body).ReadAll()
	if err != nil || len(rows) < 2 {
		t.Fatalf("CSV: %d rows, %v", len(rows), err)
	}
	count := map[string]int{}
	for _, r := range rows[1:] {
		count[r[8]]++ // payload
	}
	return count
}
