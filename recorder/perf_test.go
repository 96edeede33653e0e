package recorder

// Performance: the writer's throughput (benchmarks; figures in
// BENCHMARKS.md and docs/api.md).
//
//	go test ./recorder -run '^$' -bench 'Writer' -benchtime 200000x
//	go test ./recorder -run '^$' -bench TxPerMessage -benchtime 5000x
//	(the export's: recorder/export, perf_test.go and perf_export_test.go)

import (
	"fmt"
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

// benchWriter streams b.N messages through Write and waits for the last
// done: messages/s and the mean transaction time.
func benchWriter(b *testing.B, be backend) { benchWriterHook(b, be, nil) }

func benchWriterHook(b *testing.B, be backend, hook OutboxFunc) {
	cfg := be.config(b)
	if hook != nil {
		cfg.Outbox = hook
	}
	if v, err := strconv.Atoi(os.Getenv("BATCH")); err == nil {
		cfg.BatchSize = v // BATCH=5000 go test -bench Writer: try other group sizes
	}
	// Every change is written at once: Write refuses what does not fit.
	cfg.QueueSize = max(cfg.QueueSize, b.N+1)
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

// messageEvents is an Outbox like a webhook endpoint subscribed to chat
// messages: one outbox row per message.
func messageEvents(tx *gorm.DB, bt *Batch) ([]OutboxEvent, error) {
	var rows []OutboxEvent
	for i, c := range bt.Changes {
		if c.Kind == chat.ChangeMessage {
			ev, err := NewOutboxEvent("chat.message", map[string]any{"id": c.Message.ID,
				"sessionId": bt.SessionIDs[i], "text": c.Message.Text}, "ep1")
			if err != nil {
				return nil, err
			}
			rows = append(rows, ev)
		}
	}
	return rows, nil
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
