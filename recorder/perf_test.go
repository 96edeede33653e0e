package recorder

// Performance: the export memory bound (a test) and the writer and export
// throughput (benchmarks; figures in BENCHMARKS.md and docs/api.md).
//
//	go test ./recorder -run ExportMemory -v
//	go test ./recorder -run '^$' -bench 'Writer' -benchtime 200000x
//	go test ./recorder -run '^$' -bench TxPerMessage -benchtime 5000x
//	go test ./recorder -run '^$' -bench 'Export_'
//	go test ./recorder -run '^$' -bench Export1M -benchtime 1x (perf_export_test.go)

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/backchannel-rtc/backchannel/chat"
)

// seedMessages inserts n messages of one session directly, in big batches.
func seedMessages(t testing.TB, r *Recorder, room string, n int) (sessionID string) {
	writeAll(t, r, join(room, "alice", "Alice", 0))
	var s Session
	if err := r.db.Where("room = ?", room).Take(&s).Error; err != nil {
		t.Fatal(err)
	}
	rows := make([]MessageRow, 0, 1000)
	for i := 1; i <= n; i++ {
		row := MessageRow{ID: fmt.Sprintf("%s-%08d", room, i), Room: room, Seq: int64(i), SessionID: s.ID,
			MeetingID: s.MeetingID, Sender: "alice", SenderName: "Alice", Kind: "text",
			Text: fmt.Sprintf("message number %d, with a little padding to look like chat", i), CreatedAt: at(i)}
		if i%10 == 0 {
			row.Private, row.Recipients = true, `["bob","carol"]`
		}
		rows = append(rows, row)
		if len(rows) == cap(rows) || i == n {
			if err := r.db.CreateInBatches(rows, sqliteChunk).Error; err != nil {
				t.Fatal(err)
			}
			rows = rows[:0]
		}
	}
	return s.ID
}

type countingWriter struct{ n int64 }

func (c *countingWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

// benchWriter streams b.N messages through Write and waits for the last
// done: messages/s and the mean transaction time.
func benchWriter(b *testing.B, be backend) { benchWriterHook(b, be, nil) }

func benchWriterHook(b *testing.B, be backend, hook OutboxHook) {
	cfg := be.config(b)
	cfg.OutboxHook = hook
	if v, err := strconv.Atoi(os.Getenv("BATCH")); err == nil {
		cfg.BatchSize = v // BATCH=5000 go test -bench Writer: try other group sizes
	}
	r, err := Open(cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	var wg sync.WaitGroup
	var failed atomic.Int64
	done := func(err error) {
		if err != nil {
			failed.Add(1)
		}
		wg.Done()
	}
	wg.Add(b.N)
	b.ResetTimer()
	start := time.Now()
	for i := 1; i <= b.N; i++ {
		r.Write(benchMessage("bench", "b", i), done)
	}
	wg.Wait()
	d := time.Since(start)
	b.StopTimer()
	if failed.Load() > 0 {
		b.Fatalf("%d failed", failed.Load())
	}
	s := r.WriterStats()
	b.ReportMetric(float64(b.N)/d.Seconds(), "msgs/s")
	if s.Batches > 0 {
		b.ReportMetric(float64(s.TotalBatch.Microseconds())/float64(s.Batches)/1000, "ms/batch")
		b.ReportMetric(float64(s.MaxBatch.Microseconds())/1000, "max-ms/batch")
		b.ReportMetric(float64(s.Changes)/float64(s.Batches), "msgs/batch")
	}
}

func BenchmarkWriter_SQLite(b *testing.B)       { benchWriter(b, sqliteBackend) }
func BenchmarkWriter_SQLitePureGo(b *testing.B) { benchWriter(b, sqlitePureGoBackend) }
func BenchmarkWriter_Postgres(b *testing.B)     { benchWriter(b, postgresBackend) }

// messageEvents is an OutboxHook like a webhook endpoint subscribed to
// chat messages: one outbox row per message.
func messageEvents(tx *gorm.DB, bt *Batch) error {
	for i, c := range bt.Changes {
		if c.Kind == chat.ChangeMessage {
			if err := EnqueueOutbox(tx, "chat.message", map[string]any{"id": c.Message.ID,
				"sessionId": bt.SessionIDs[i], "text": c.Message.Text}, "ep1"); err != nil {
				return err
			}
		}
	}
	return nil
}

func BenchmarkWriterOutbox_SQLite(b *testing.B)   { benchWriterHook(b, sqliteBackend, messageEvents) }
func BenchmarkWriterOutbox_Postgres(b *testing.B) { benchWriterHook(b, postgresBackend, messageEvents) }

// benchTxPerMessage writes b.N messages one at a time, each waiting for the
// previous one to be durable, so every message is its own transaction (as
// at chat rates): the per-transaction cost, in wall and CPU µs per
// message (CPU of this process: the writer, the driver and, for SQLite,
// the database itself).
func benchTxPerMessage(b *testing.B, be backend) { benchTxPaced(b, be, 0) }

// benchTxPaced is benchTxPerMessage with a pause between messages, as at
// chat rates (scenario a sends 100 messages/s): each transaction then
// finds the caches cold, and the process's idle CPU (GC, sysmon) counts.
func benchTxPaced(b *testing.B, be backend, pause time.Duration) {
	r, err := Open(be.config(b))
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	writeAll(b, r, join("tx", "alice", "Alice", 0))
	done := make(chan error, 1)
	cb := func(err error) { done <- err }
	b.ResetTimer()
	cpu0 := processCPU(b)
	var d time.Duration // write to durable, summed: a sleep's overshoot is not the writer's
	for i := 1; i <= b.N; i++ {
		start := time.Now()
		r.Write(benchMessage("tx", "t", i), cb)
		if err := <-done; err != nil {
			b.Fatal(err)
		}
		d += time.Since(start)
		if pause > 0 {
			time.Sleep(pause)
		}
	}
	cpu := processCPU(b) - cpu0
	b.StopTimer()
	if s := r.WriterStats(); s.Batches < int64(b.N) {
		b.Fatalf("%d batches for %d messages", s.Batches, b.N)
	}
	b.ReportMetric(float64(d.Microseconds())/float64(b.N), "µs/msg")
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/msg")
}

func BenchmarkTxPerMessage_SQLite(b *testing.B)       { benchTxPerMessage(b, sqliteBackend) }
func BenchmarkTxPerMessage_SQLitePureGo(b *testing.B) { benchTxPerMessage(b, sqlitePureGoBackend) }
func BenchmarkTxPerMessage_Postgres(b *testing.B)     { benchTxPerMessage(b, postgresBackend) }

func BenchmarkTxPaced10ms_SQLite(b *testing.B) { benchTxPaced(b, sqliteBackend, 10*time.Millisecond) }
func BenchmarkTxPaced10ms_SQLitePureGo(b *testing.B) {
	benchTxPaced(b, sqlitePureGoBackend, 10*time.Millisecond)
}

// processCPU is the user and system CPU time this process has used.
func processCPU(t testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func benchExport(b *testing.B, be backend) {
	r, err := Open(be.config(b))
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	const n = 50000
	sid := seedMessages(b, r, "exp", n)
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		if rows, err := r.WriteCSV(ctxT(b), io.Discard, CSVScope{SessionID: sid}, CSVOptions{}); err != nil || rows != n {
			b.Fatal(rows, err)
		}
	}
	b.ReportMetric(float64(n*b.N)/time.Since(start).Seconds(), "rows/s")
}

func BenchmarkExport_SQLite(b *testing.B)       { benchExport(b, sqliteBackend) }
func BenchmarkExport_SQLitePureGo(b *testing.B) { benchExport(b, sqlitePureGoBackend) }
func BenchmarkExport_Postgres(b *testing.B)     { benchExport(b, postgresBackend) }

// benchMessage is the writer benchmarks' i-th message in room: a typical
// chat line, every tenth one private.
func benchMessage(room, idPrefix string, i int) chat.Change {
	m := &chat.Message{ID: fmt.Sprintf("%s%09d", idPrefix, i), Seq: int64(i), Sender: "alice", SenderName: "Alice",
		Kind: chat.KindText, Text: "a typical chat line of modest length", ClientID: fmt.Sprint(i), CreatedAt: time.Now()}
	if i%10 == 0 {
		m.To = []string{"bob"}
	}
	return chat.Change{Kind: chat.ChangeMessage, Room: room, Message: m, At: m.CreatedAt}
}
