//go:build !race

package export

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The export memory figure is measured without the race detector, which
// multiplies both the time (the embedded SQLite is pure Go) and the heap.
// `make test` runs this file in its own, race-free, step.

func TestSQLite_ExportMemory(t *testing.T) {
	r := openT(t, sqliteBackend.Config(t))
	const n = 200000
	start := time.Now()
	sid := seedMessages(t, r, "big", n)
	t.Logf("seeded %d messages in %v", n, time.Since(start).Round(time.Millisecond))

	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapAlloc
	var peak atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				var m runtime.MemStats
				runtime.ReadMemStats(&m)
				if m.HeapAlloc > peak.Load() {
					peak.Store(m.HeapAlloc)
				}
			}
		}
	}()
	var out countingWriter
	start = time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	rows, err := r.WriteCSV(ctx, &out, Scope{SessionID: sid}, Options{})
	d := time.Since(start)
	close(stop)
	wg.Wait()
	if err != nil || rows != n {
		t.Fatalf("export: %d rows, %v", rows, err)
	}
	growth := int64(peak.Load()) - int64(base)
	t.Logf("exported %d rows (%.1f MB) in %v: %.0f rows/s; heap growth %.1f MB (base %.1f MB)",
		rows, float64(out.n)/1e6, d.Round(time.Millisecond), float64(rows)/d.Seconds(),
		float64(growth)/1e6, float64(base)/1e6)
	if growth > 50<<20 {
		t.Fatalf("heap grew by %.1f MB during export", float64(growth)/1e6)
	}
}
