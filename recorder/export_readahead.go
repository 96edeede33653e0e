package recorder

// The SQLite export reads ahead: a goroutine steps the messages statement
// (SQLite's C code building each row's blob: most of what a row costs)
// while the caller's goroutine parses the rows before it and writes their
// CSV. The rows travel in a few recycled batches, so memory stays
// constant however long the meeting. The reader talks to the driver
// directly (its connection is its own for the export): database/sql's
// locks and conversions were a sixth of the reading goroutine's time.

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"io"
)

const (
	readAheadRows    = 512
	readAheadBytes   = 256 << 10 // a batch ends at whichever comes first
	readAheadBatches = 3         // in flight: one filling, one queued, one being written
)

// blobBatch holds consecutive rows: row i is buf[ends[i-1]:ends[i]] (from
// 0 for the first).
type blobBatch struct {
	buf  []byte
	ends []int
}

func (b *blobBatch) row(i int) []byte {
	start := 0
	if i > 0 {
		start = b.ends[i-1]
	}
	return b.buf[start:b.ends[i]:b.ends[i]]
}

// readAhead runs query (one column, read as bytes) with arg on conn, on
// its own goroutine, and calls fn with each row, in order, on the
// caller's. A row is valid until fn returns. It returns fn's error or the
// query's; either way the reading goroutine has stopped when it returns.
func readAhead(ctx context.Context, conn *sql.Conn, query string, arg any, fn func(row []byte) error) error {
	full := make(chan *blobBatch, readAheadBatches)
	free := make(chan *blobBatch, readAheadBatches)
	for range readAheadBatches {
		free <- &blobBatch{}
	}
	stop := make(chan struct{})
	var readErr error // written by the reader before it closes full
	go func() {
		defer close(full)
		b := <-free
		b.buf, b.ends = b.buf[:0], b.ends[:0]
		// send passes b on (if it holds rows) and takes the next free
		// batch; false once the caller has stopped.
		send := func() bool {
			if len(b.ends) == 0 {
				return true
			}
			select {
			case full <- b:
			case <-stop:
				return false
			}
			select {
			case b = <-free:
			case <-stop:
				return false
			}
			b.buf, b.ends = b.buf[:0], b.ends[:0]
			return true
		}
		readErr = conn.Raw(func(dc any) error {
			q, ok := dc.(driver.QueryerContext)
			if !ok {
				return fmt.Errorf("recorder: export: the driver's %T cannot query", dc)
			}
			rows, err := q.QueryContext(ctx, query, []driver.NamedValue{{Ordinal: 1, Value: arg}})
			if err != nil {
				return err
			}
			defer rows.Close()
			dest := make([]driver.Value, 1)
			for {
				if err := rows.Next(dest); err == io.EOF {
					return nil
				} else if err != nil {
					return err
				}
				switch v := dest[0].(type) {
				case []byte:
					b.buf = append(b.buf, v...)
				case string:
					b.buf = append(b.buf, v...)
				case nil:
				default:
					return fmt.Errorf("recorder: export: a row of type %T", v)
				}
				b.ends = append(b.ends, len(b.buf))
				if (len(b.ends) >= readAheadRows || len(b.buf) >= readAheadBytes) && !send() {
					return nil
				}
			}
		})
		if readErr == nil {
			send()
		}
	}()
	var err error
	for b := range full {
		for i := 0; i < len(b.ends) && err == nil; i++ {
			err = fn(b.row(i))
		}
		if err != nil {
			break
		}
		free <- b
	}
	close(stop)
	for range full { // wait for the reader to stop
	}
	if err != nil {
		return err
	}
	return readErr
}
