package export

// The 1,000,000-message export figure: rows/s and the exporting process's
// peak RSS. Seeding goes through SQL (generate_series on PostgreSQL, a
// recursive CTE on SQLite), not the writer, so it takes seconds; the
// export runs in a child process (this test binary again, running
// TestExport1MChild) so that the peak RSS read from /proc (VmHWM) is the
// export's own, not the seeding's.
//
//	go test ./recorder/export -run '^$' -bench Export1M -benchtime 1x -timeout 30m
//
// EXPORT1M_ROWS=200000 exports a smaller session; EXPORT1M_CPUPROFILE=file
// profiles the child.

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/backchannel-rtc/backchannel/recorder"
)

// seedExport inserts n messages into one session of room in SQL, with a
// realistic mix: 10 % private, 1 in 25 with a file or an image, 1 in 50
// with reactions, edits, deletions, replies, pins, and text that must be
// quoted or neutralised. It returns the session id.
func seedExport(t testing.TB, r *testRec, room string, n int) string {
	t.Helper()
	writeAll(t, r, join(room, "alice", "Alice", 0))
	var s recorder.Session
	if err := r.db.Where("room = ?", room).Take(&s).Error; err != nil {
		t.Fatal(err)
	}
	img := recorder.AttachmentRow{ID: "01JSEEDIMG0000000000000001", Room: room, Uploader: "alice", Name: "cat.png",
		ContentType: "image/png", Size: 4, Hash: strings.Repeat("ab", 32), Image: true, Width: 1, Height: 1, CreatedAt: at(0)}
	file := recorder.AttachmentRow{ID: "01JSEEDFILE000000000000001", Room: room, Uploader: "bob", Name: "notes.pdf",
		ContentType: "application/pdf", Size: 9, Hash: strings.Repeat("cd", 32), CreatedAt: at(0)}
	if err := r.db.Create(&[]recorder.AttachmentRow{img, file}).Error; err != nil {
		t.Fatal(err)
	}
	pg := r.db.Dialector.Name() == "postgres"
	lit := func(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
	// Expressions over the row number i, per dialect.
	t0s := strconv.FormatInt(t0.Unix(), 10)
	idOf := func(k string) string { return lit(room+"-") + " || lpad((" + k + ")::text, 8, '0')" }
	tsOf := func(k string) string { return "to_timestamp(" + t0s + " + " + k + ")" }
	lf, gen := "E'\\n'", "FROM generate_series(1, "+strconv.Itoa(n)+") i"
	pick := func(list []string, k string) string { return "(ARRAY[" + strings.Join(list, ",") + "])[" + k + " + 1]" }
	if !pg {
		idOf = func(k string) string { return lit(room+"-") + " || printf('%08d', " + k + ")" }
		tsOf = func(k string) string {
			return "strftime('%Y-%m-%d %H:%M:%S', " + t0s + " + " + k + ", 'unixepoch') || '+00:00'"
		}
		lf, gen = "char(10)", "FROM g"
		pick = func(list []string, k string) string {
			var b strings.Builder
			b.WriteString("CASE " + k)
			for j, v := range list {
				fmt.Fprintf(&b, " WHEN %d THEN %s", j, v)
			}
			b.WriteString(" END")
			return b.String()
		}
	}
	people := []string{"'alice'", "'bob'", "'carol'"}
	msgs := `INSERT INTO messages (id, room, seq, session_id, meeting_id, sender, sender_name, kind, text, private,
		recipients, reply_to, client_id, attachment_id, created_at, edited_at, deleted, deleted_at, deleted_by)
		SELECT ` + idOf("i") + `, ` + lit(room) + `, i, ` + lit(s.ID) + `, ` + lit(s.MeetingID) + `,
		` + pick(people, "i % 3") + `, ` + pick([]string{"'Alice'", "'Bob, Jr.'", "'=Carol'"}, "i % 3") + `,
		CASE WHEN i % 50 = 7 THEN 'image' WHEN i % 50 = 17 THEN 'file' ELSE 'text' END,
		CASE WHEN i % 200 = 13 OR i % 50 IN (7, 17) THEN ''
			WHEN i % 100 = 3 THEN 'quoted, "text" with a' || ` + lf + ` || 'line break'
			WHEN i % 100 = 5 THEN '=1+' || i
			ELSE 'message number ' || i || ', with a little padding to look like chat' END,
		i % 10 = 0, ` + recipientsOf("i % 10 = 0", pg) + `,
		CASE WHEN i % 20 = 1 AND i > 1 THEN ` + idOf("i - 1") + ` ELSE '' END,
		'c' || i,
		CASE WHEN i % 200 = 13 THEN '' WHEN i % 50 = 7 THEN ` + lit(img.ID) + ` WHEN i % 50 = 17 THEN ` + lit(file.ID) + ` ELSE '' END,
		` + tsOf("i") + `,
		CASE WHEN i % 40 = 9 THEN ` + tsOf("i + 30") + ` END,
		i % 200 = 13,
		CASE WHEN i % 200 = 13 THEN ` + tsOf("i + 60") + ` END,
		CASE WHEN i % 200 = 13 THEN 'alice' ELSE '' END
		` + gen
	reacts := `INSERT INTO reactions (message_id, emoji, identity, created_at)
		SELECT ` + idOf("i") + `, ` + pick([]string{"'👍'", "'🎉'", "'👍'"}, "j - 1") + `, ` + pick(people, "j - 1") + `,
		` + tsOf("i + j") + `
		` + gen + `, (SELECT 1 AS j UNION ALL SELECT 2 UNION ALL SELECT 3) js WHERE i % 50 = 3 AND j <= 1 + i % 3`
	pins := `INSERT INTO pins (message_id, room, pinned_by, pinned_at)
		SELECT ` + idOf("i") + `, ` + lit(room) + `, 'alice', ` + tsOf("i") + ` ` + gen + ` WHERE i % 10000 = 11`
	if !pg {
		cte := "WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g WHERE i < " + strconv.Itoa(n) + ") "
		msgs, reacts, pins = cte+msgs, cte+reacts, cte+pins
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	sqlDB, err := r.db.DB()
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{msgs, reacts, pins} {
		if _, err := sqlDB.ExecContext(ctx, q); err != nil {
			t.Fatalf("seed: %v\n%s", err, q)
		}
	}
	// As the database would be long after the meeting: statistics, and on
	// PostgreSQL hint bits and the visibility map set.
	maint := "ANALYZE"
	if pg {
		maint = "VACUUM ANALYZE"
	}
	if _, err := sqlDB.ExecContext(ctx, maint); err != nil {
		t.Fatal(err)
	}
	return s.ID
}

func export1MRows() int {
	if v, err := strconv.Atoi(os.Getenv("EXPORT1M_ROWS")); err == nil && v > 0 {
		return v
	}
	return 1000000
}

func benchExport1M(b *testing.B, be backend) {
	cfg := be.Config(b)
	r, err := openRec(cfg)
	if err != nil {
		b.Fatal(err)
	}
	n := export1MRows()
	start := time.Now()
	sid := seedExport(b, r, "exp", n)
	b.Logf("seeded %d messages in %v", n, time.Since(start).Round(time.Millisecond))
	r.Close()
	b.ResetTimer()
	var rows, bytesOut, peak, warmPeak int64
	var secs, warmSecs float64
	for i := 0; i < b.N; i++ {
		res := runExportChild(b, cfg, sid)
		if res["rows"] != int64(n) || res["warm_rows"] != int64(n) {
			b.Fatalf("child exported %d and %d rows, want %d", res["rows"], res["warm_rows"], n)
		}
		rows += res["rows"]
		bytesOut += res["bytes"]
		secs += float64(res["ns"]) / 1e9
		warmSecs += float64(res["warm_ns"]) / 1e9
		peak, warmPeak = max(peak, res["vmhwm_kib"]), max(warmPeak, res["warm_vmhwm_kib"])
		b.Logf("export %d: %.0f rows/s (first in a new process), %.0f rows/s (second); peak RSS %.1f MiB after the first, %.1f after both",
			i+1, float64(n)/(float64(res["ns"])/1e9), float64(n)/(float64(res["warm_ns"])/1e9),
			float64(res["vmhwm_kib"])/1024, float64(res["warm_vmhwm_kib"])/1024)
	}
	b.StopTimer()
	b.ReportMetric(float64(rows)/secs, "rows/s")
	b.ReportMetric(float64(rows)/warmSecs, "warm-rows/s")
	b.ReportMetric(float64(peak)/1024, "peak-RSS-MiB")
	b.ReportMetric(float64(warmPeak)/1024, "warm-peak-RSS-MiB")
	b.ReportMetric(float64(bytesOut)/secs/1e6, "MB/s")
	b.Logf("%d rows, %.1f MB of CSV: %.0f rows/s first, %.0f rows/s warm; peak RSS %.1f MiB (target: 500,000 rows/s under 64 MiB)",
		n, float64(bytesOut)/float64(b.N)/1e6, float64(rows)/secs, float64(rows)/warmSecs, float64(warmPeak)/1024)
}

func BenchmarkExport1M_Postgres(b *testing.B) { benchExport1M(b, postgresBackend) }
func BenchmarkExport1M_SQLite(b *testing.B)   { benchExport1M(b, sqliteBackend) }

// runExportChild exports session sid of cfg in a child process and
// returns what it measured.
func runExportChild(t testing.TB, cfg recorder.Config, sid string) map[string]int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	args := []string{"-test.run=^TestExport1MChild$", "-test.count=1"}
	if p := os.Getenv("EXPORT1M_CPUPROFILE"); p != "" {
		args = append(args, "-test.cpuprofile="+p)
	}
	cmd := exec.CommandContext(ctx, os.Args[0], args...)
	cmd.Env = append(os.Environ(), "BC_EXPORT_CHILD=1", "BC_EXPORT_DSN="+cfg.DSN,
		"BC_EXPORT_DIR="+cfg.DataDir, "BC_EXPORT_SESSION="+sid)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("export child: %v\n%s", err, out)
	}
	res := map[string]int64{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if !strings.HasPrefix(line, "EXPORT1M ") {
			continue
		}
		for _, f := range strings.Fields(line)[1:] {
			k, v, _ := strings.Cut(f, "=")
			res[k], _ = strconv.ParseInt(v, 10, 64)
		}
	}
	if len(res) == 0 {
		t.Fatalf("export child said nothing:\n%s", out)
	}
	return res
}

// TestExport1MChild is the child of runExportChild; it does nothing in a
// normal test run.
func TestExport1MChild(t *testing.T) {
	if os.Getenv("BC_EXPORT_CHILD") != "1" {
		t.Skip("only run by BenchmarkExport1M_*")
	}
	r, err := openRec(recorder.Config{DSN: os.Getenv("BC_EXPORT_DSN"), DataDir: os.Getenv("BC_EXPORT_DIR"), ReadOnly: true, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	// Twice: the first export opens the process's database connections
	// (on PostgreSQL a new backend's first scan is markedly slower); the
	// second is what a running server, whose pool is warm, does.
	var line strings.Builder
	line.WriteString("EXPORT1M")
	for i, key := range []string{"", "warm_"} {
		var out countingWriter
		start := time.Now()
		rows, err := r.WriteCSV(ctx, &out, Scope{SessionID: os.Getenv("BC_EXPORT_SESSION")}, Options{})
		d := time.Since(start)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&line, " %srows=%d %sbytes=%d %sns=%d", key, rows, key, out.n, key, d.Nanoseconds())
		if i == 0 {
			fmt.Fprintf(&line, " vmhwm_kib=%d", procStatusKiB(t, "VmHWM"))
		}
	}
	fmt.Fprintf(&line, " warm_vmhwm_kib=%d", procStatusKiB(t, "VmHWM"))
	fmt.Println(line.String())
}

// procStatusKiB reads a "kB" field of /proc/self/status.
func procStatusKiB(t testing.TB, field string) int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatalf("no %s in /proc/self/status", field)
	return 0
}

// recipientsOf is the recipients value of a seeded row: ["bob","carol"]
// where private holds, else "everyone" (” as SQLite's older rows hold it;
// '[]' in PostgreSQL's jsonb, migration 00007).
func recipientsOf(private string, pg bool) string {
	if pg {
		return `CASE WHEN ` + private + ` THEN '["bob","carol"]' ELSE '[]' END::jsonb`
	}
	return `CASE WHEN ` + private + ` THEN '["bob","carol"]' ELSE '' END`
}
