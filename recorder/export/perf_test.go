package export

// Performance: the export's throughput (benchmarks; figures in
// BENCHMARKS.md and docs/api.md).
//
//	go test ./recorder/export -run ExportMemory -v
//	go test ./recorder/export -run '^$' -bench 'Export_'
//	go test ./recorder/export -run '^$' -bench Export1M -benchtime 1x (perf_export_test.go)

import (
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/backchannel-rtc/backchannel/recorder"
)

// seedMessages inserts n messages of one session directly, in big batches.
func seedMessages(t testing.TB, r *testRec, room string, n int) (sessionID string) {
	writeAll(t, r, join(room, "alice", "Alice", 0))
	var s recorder.Session
	if err := r.db.Where("room = ?", room).Take(&s).Error; err != nil {
		t.Fatal(err)
	}
	rows := make([]recorder.MessageRow, 0, 1000)
	for i := 1; i <= n; i++ {
		row := recorder.MessageRow{ID: fmt.Sprintf("%s-%08d", room, i), Room: room, Seq: int64(i), SessionID: s.ID,
			MeetingID: s.MeetingID, Sender: "alice", SenderName: "Alice", Kind: "text",
			Text: fmt.Sprintf("message number %d, with a little padding to look like chat", i), CreatedAt: at(i)}
		if i%10 == 0 {
			row.Private, row.Recipients = true, `["bob","carol"]`
		}
		rows = append(rows, row)
		if len(rows) == cap(rows) || i == n {
			if err := r.db.CreateInBatches(rows, 40).Error; err != nil {
				t.Fatal(err)
			}
			rows = rows[:0]
		}
	}
	return s.ID
}

type countingWriter struct{ n int64 }

func (c *countingWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

func benchExport(b *testing.B, be backend) {
	r, err := openRec(be.Config(b))
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	const n = 50000
	sid := seedMessages(b, r, "exp", n)
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		if rows, err := r.WriteCSV(ctxT(b), io.Discard, Scope{SessionID: sid}, Options{}); err != nil || rows != n {
			b.Fatal(rows, err)
		}
	}
	b.ReportMetric(float64(n*b.N)/time.Since(start).Seconds(), "rows/s")
}

func BenchmarkExport_SQLite(b *testing.B)       { benchExport(b, sqliteBackend) }
func BenchmarkExport_SQLitePureGo(b *testing.B) { benchExport(b, sqlitePureGoBackend) }
func BenchmarkExport_Postgres(b *testing.B)     { benchExport(b, postgresBackend) }
